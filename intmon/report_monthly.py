"""The monthly report (`alerts.monthly_report`) as CSV for a spreadsheet, shared by
`intmon report monthly` and `GET /api/reports/monthly`. Its printable page, in the
reader's language, is the console's (`intmon.web.report_print`)."""

from __future__ import annotations

import csv
import io

from alerts.monthly_report import MonthlyReport
from integrations.uptime import Availability

FORMATS = ("csv", "html", "json")
CSV_COLUMNS = (
    "section",
    "integration",
    "check",
    "uptime_percent",
    "up",
    "down",
    "maintenance_results",
    "inhibited_results",
    "total_results",
    "maintenance_seconds",
    "incident",
    "family",
    "opened_at",
    "resolved_at",
    "seconds_in_month",
)


def percent(found: Availability) -> str:
    return "" if found.ratio is None else f"{found.ratio * 100:.3f}"


def render_csv(report: MonthlyReport) -> str:
    """One table: availability rows (per integration, then per check), incident rows,
    and the lead liability counts, told apart by `section`."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    for month in report.integrations:
        for found, check in [(month.availability, ""), *((c, c.check_name) for c in month.checks)]:
            writer.writerow(
                {
                    "section": "availability",
                    "integration": month.integration_id,
                    "check": check,
                    "uptime_percent": percent(found),
                    "up": found.up,
                    "down": found.down,
                    "maintenance_results": found.maintenance,
                    "inhibited_results": found.inhibited,
                    "total_results": found.total,
                    "maintenance_seconds": "" if check else round(month.maintenance_seconds),
                }
            )
        for incident in month.incidents:
            writer.writerow(
                {
                    "section": "incident",
                    "integration": month.integration_id,
                    "check": " ".join(incident.checks),
                    "incident": incident.id,
                    "family": incident.family,
                    "opened_at": incident.opened_at.isoformat(),
                    "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else "",
                    "seconds_in_month": round(incident.seconds_in_month),
                }
            )
    for party, count in report.leads.as_dict()["liability"].items():
        writer.writerow({"section": f"leads_liable_{party}", "total_results": count})
    for outcome, count in sorted(report.leads.outcomes.items()):
        writer.writerow({"section": f"leads_{outcome}", "total_results": count})
    return out.getvalue()
