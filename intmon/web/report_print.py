"""The monthly report (`alerts.monthly_report`) as a printable page: one
self-contained HTML file (its CSS inline, no script, nothing loaded) in English or
Russian, with the same words and figures as the console's report page (the
`_report_tables.html` both include).

`GET /api/reports/monthly?format=html` answers with it (the API reaches it through
`app.state.printable_report`, set by `intmon.web.install`, as the console sits above
the API) and `intmon report monthly` writes it. Times are in UTC, named on the page.
"""

from __future__ import annotations

from alerts.monthly_report import MonthlyReport
from intmon.web.i18n import Translator
from intmon.web.render import environment


def printable_report(report: MonthlyReport, language: str) -> str:
    """The page in `language` (one of `intmon.languages.LANGUAGES`)."""
    return environment.get_template("report_monthly.html").render(
        t=Translator(language, "UTC"), lang=language, report=report
    )
