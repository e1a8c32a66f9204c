"""The monthly report in the console: the client's own month in its language, support
choosing the client, other clients' reports "not found", a bad month a 400 naming
the field, and no English left on the Russian page."""

from __future__ import annotations

import html
import re
from typing import Any

from tests.web.test_russian_complete import english_in


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_a_client_reads_its_own_month(browser: Any) -> None:
    page = browser("ann").get("/reports/monthly?month=2026-11")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Monthly report: acme, 2026-11" in words
    assert "From 1 Nov 2026, 00:00:00 UTC to 1 Dec 2026, 00:00:00 UTC" in words
    # The fixture's three authentication failures of integration a, and its incident.
    assert re.search(r'<tr id="report-a">', page.text) and 'id="report-o"' not in page.text
    assert "A Broker" in words and "Authentication" in words
    assert 'id="client"' not in page.text  # a client has no choice of client
    # Another client's month is not found, as one that does not exist.
    assert browser("ann").get("/reports/monthly?client=orbit").status_code == 404


def test_support_chooses_the_client(browser: Any) -> None:
    support = browser("sup")
    first = support.get("/reports/monthly?month=2026-11")
    assert first.status_code == 200 and 'id="report-pick"' in first.text
    assert '<option value="acme">' in first.text and '<option value="orbit">' in first.text
    orbit = support.get("/reports/monthly?month=2026-11&client=orbit")
    assert "Monthly report: orbit, 2026-11" in text_of(orbit.text)
    assert 'id="report-o"' in orbit.text and 'id="report-a"' not in orbit.text
    assert support.get("/reports/monthly?client=nobody").status_code == 404
    # A month with no result at all: the page, with nothing counted.
    empty = support.get("/reports/monthly?month=2001-01&client=acme")
    assert empty.status_code == 200 and "No incident this month." in empty.text


def test_a_bad_month_is_a_400_naming_the_field(browser: Any) -> None:
    for month in ("2026-13", "november", "2026-1", "0000-01", "9999-01"):
        page = browser("ann").get(f"/reports/monthly?month={month}")
        assert page.status_code == 400, month
        assert "month: give a month as YYYY-MM" in text_of(page.text)
    russian = browser("ann").get("/reports/monthly?month=x&lang=ru")
    assert russian.status_code == 400 and "month: укажите месяц как ГГГГ-ММ" in russian.text


def test_the_russian_report_has_no_english_left(browser: Any) -> None:
    for who, path in (
        ("ann", "/reports/monthly?month=2026-11&lang=ru"),
        ("sup", "/reports/monthly?month=2026-11&client=acme&lang=ru"),
        ("sup", "/reports/monthly?month=2026-11&lang=ru"),
    ):
        page = browser(who).get(path).text
        assert "Отчёт за месяц" in page
        assert english_in(page) == [], (who, path)
