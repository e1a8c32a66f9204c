"""History on the board and an integration's page, on SQLite and PostgreSQL: result
bars with tooltips, uptime, down since, the open ticket, the latency chart,
certificate days, keyset pages of results, times in the viewer's zone, and the
public uptime badge behind its secret link. A client sees all of it for its own
integrations only.

The data of tests/web/conftest.py (acme's `a` and orbit's `o`, each down with
three authentication failures from T0 and a ticket), on both databases.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from core import db
from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.apply import apply
from integrations.loader import load_text
from integrations.registry import load_specs
from integrations.results import record_results
from intmon.web.badges import badge_token
from intmon.web.board import IntegrationStatus, board_order
from intmon.web.users import create_user
from tests.alerts.helpers import T0, feed
from tests.test_api import CONFIG, NOW, PARTNER_SECRET
from tests.web.conftest import PASSWORD
from tests.web.test_pages import text_of


@pytest.fixture
def engine(db_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """tests/web/conftest.py's data, on each database."""
    monkeypatch.setenv("PARTNER_TOKEN", PARTNER_SECRET)
    monkeypatch.setattr(db, "utcnow", lambda: NOW)
    apply(db_engine, load_text(CONFIG), T0)
    specs = {i: r.spec for i, r in load_specs(db_engine).items()}
    feed(db_engine, specs, [Outcome.AUTH_FAILURE] * 3, integration="a")  # INC-000001
    feed(db_engine, specs, [Outcome.AUTH_FAILURE] * 3, integration="o")  # INC-000002
    for username, client in (("sup", None), ("ann", "acme"), ("oli", "orbit")):
        role = "support" if client is None else "client"
        create_user(db_engine, username, role=role, client=client, password=PASSWORD, now=T0)
    yield db_engine


def results(
    integration: str, outcome: Outcome, minutes: range, duration_s: float = 0.12, **extra: Any
) -> list[CheckResult]:
    return [
        CheckResult(
            integration_id=integration,
            check_name="health",
            outcome=outcome,
            started_at=T0 + timedelta(minutes=m, seconds=5),
            duration_s=duration_s,
            http_status=200 if outcome.is_up else 503,
            **extra,
        )
        for m in minutes
    ]


def test_the_board_puts_down_first_with_its_bar_uptime_and_ticket(
    browser: Any, engine: Engine
) -> None:
    record_results(engine, results("o", Outcome.OK, range(3, 60)))  # orbit is back up
    page = browser("sup").get("/board").text
    rows = re.findall(r'<tr id="integration-(\w+)" data-state="(\w+)"', page)
    assert rows == [("a", "down"), ("o", "up")]
    words = text_of(page)
    assert "down for 1 h 00 min" in words  # failing since T0, the page's clock is T0 + 1 h
    # Orbit's incident has not resolved yet (that takes its thresholds): its ticket shows.
    assert 'id="ticket-a">INC-000001<' in page and 'id="ticket-o">INC-000002<' in page
    bar_a = page.split('id="bar-a"')[1].split("</div>")[0]
    assert bar_a.count('class="mark o-auth_failure"') == 3
    # The tooltip: time to the second (today: no date), the outcome in words, duration,
    # HTTP status, check.
    assert 'title="12:00:00 UTC · authentication failed · 50 ms · HTTP 401 · health"' in bar_a
    bar_o = page.split('id="bar-o"')[1].split("</div>")[0]
    assert bar_o.count("mark o-ok") == 50 and "o-auth_failure" not in bar_o  # the last 50
    assert ">0%<" in page.split('id="uptime-a"')[1].split("</td>")[0]
    assert ">95%<" in page.split('id="uptime-o"')[1].split("</td>")[0]  # 57 up of 60


def test_the_board_pages_and_reads_history_only_for_the_page(
    browser: Any, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from integrations import history, uptime
    from intmon.web import board as board_module

    record_results(engine, results("o", Outcome.OK, range(3, 60)))  # orbit is back up
    asked: list[list[str] | None] = []
    for module, name in ((history, "latest_results"), (uptime, "availability")):
        real = getattr(module, name)

        def spy(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            asked.append(kwargs.get("integration_ids"))
            return _real(*args, **kwargs)

        monkeypatch.setattr(board_module, name, spy)
    monkeypatch.setattr(board_module, "PAGE_ROWS", 1)
    sup = browser("sup")
    first = sup.get("/board").text
    assert re.findall(r'<tr id="integration-(\w+)"', first) == ["a"]  # down first
    assert asked and all(ids == ["a"] for ids in asked)  # history: the page's rows only
    words = text_of(first)
    assert "Page 1 of 2 (2 integrations, what needs someone first)" in words
    assert 'id="count-down">1<' in first and 'id="count-up">1<' in first  # every page's
    assert 'id="board-next"' in first and 'id="board-previous"' not in first
    second = sup.get("/board?page=2").text
    assert re.findall(r'<tr id="integration-(\w+)"', second) == ["o"]
    assert 'id="board-previous"' in second and "bar-o" in second
    # Past the last page: the last page (the board shrank while someone read it).
    assert re.findall(r'<tr id="integration-(\w+)"', sup.get("/board?page=9").text) == ["o"]
    russian = text_of(sup.get("/board?page=2&lang=ru").text)
    assert "Страница 2 из 2" in russian
    for bad in ("0", "x", "-1", "1.5", "²"):
        refused = sup.get(f"/board?page={bad}")
        assert refused.status_code == 400, bad
        assert "page: give a page number" in refused.text


def test_the_longest_down_comes_first() -> None:
    def status(name: str, state: str, down_minutes: int | None = None) -> IntegrationStatus:
        since = NOW - timedelta(minutes=down_minutes) if down_minutes is not None else None
        return IntegrationStatus(name, name, "acme", state, None, None, "", down_since=since)

    shown = sorted(
        [
            status("up-1", "up"),
            status("down-short", "down", 5),
            status("stale", "stale"),
            status("down-long", "down", 300),
            status("maint", "maintenance"),
        ],
        key=board_order,
    )
    assert [s.name for s in shown] == ["down-long", "down-short", "stale", "maint", "up-1"]


def test_results_in_maintenance_show_but_do_not_count(browser: Any, engine: Engine) -> None:
    from integrations.results import Recorded

    record_results(
        engine,
        [Recorded(r, maintenance=True) for r in results("a", Outcome.SERVER_ERROR, range(3, 5))]
        + results("a", Outcome.OK, range(5, 8)),
    )
    page = browser("sup").get("/board").text
    bar_a = page.split('id="bar-a"')[1].split("</div>")[0]
    assert bar_a.count("o-server_error paused") == 2 and "· maintenance" in bar_a
    assert ">50%<" in page.split('id="uptime-a"')[1].split("</td>")[0]  # 3 of 6 counted
    words = text_of(browser("sup").get("/integrations/a").text)
    assert "3 up, 3 down · 2 in maintenance, not counted" in words


def test_the_integration_page_has_uptime_latency_and_certificate_days(
    browser: Any, engine: Engine
) -> None:
    expires = (NOW + timedelta(days=45, hours=2)).timestamp()
    record_results(engine, results("a", Outcome.OK, range(3, 60), certificate_expires_at=expires))
    page = browser("ann").get("/integrations/a").text
    for window in ("24h", "7d", "30d"):
        assert ">95%<" in page.split(f'id="uptime-{window}"')[1].split("</li>")[0]  # 57 of 60
    chart = page.split('id="latency-chart"')[1].split("</svg>")[0]
    # One hour of results (12:00–13:00): one dot each for p50 and p95, its numbers as a tooltip.
    assert chart.count('class="dot p50"') == 1 and chart.count('class="dot p95"') == 1
    # Read from the latency histogram (the metric's buckets): every result took 120 ms,
    # so both quantiles fall inside its bucket, 100–250 ms.
    found = re.search(r"60 results · p50 (\d+) ms · p95 (\d+) ms", chart)
    assert found and 100 <= int(found[1]) <= int(found[2]) <= 250, chart
    assert 'class="line p50" d="M' in chart
    assert 'id="certificate-health"><span class="cert">45 days left<' in page
    week = browser("ann").get("/integrations/a?chart=7d").text
    assert 'aria-current="true">7 d<' in week and 'id="latency-chart"' in week
    assert "Время ответа по часам" in browser("ann").get("/integrations/a?lang=ru").text


def test_older_results_a_page_at_a_time(browser: Any, engine: Engine) -> None:
    record_results(engine, results("a", Outcome.OK, range(3, 123)))  # 123 results of a
    support = browser("sup")
    shown: list[str] = []
    url = "/integrations/a"
    pages = 0
    while url:
        page = support.get(url)
        assert page.status_code == 200
        pages += 1
        shown += re.findall(r'<tr id="result-(\d+)"', page.text)
        older = re.search(r'href="(\?before=\d+&amp;chart=24h)" id="older-results"', page.text)
        url = "/integrations/a" + older.group(1).replace("&amp;", "&") if older else ""
    assert pages == 3 and len(shown) == len(set(shown)) == 123
    assert 'id="newest-results"' in page.text
    # Seconds: results a minute apart, each at :05.
    assert "2026-11-23 14:02:05 UTC" in support.get("/integrations/a").text


@pytest.mark.parametrize(
    "query",
    [
        "before=abc",
        "before=0",
        "before=-3",
        "before=1.5",
        "before=99999999999999999999",
        "chart=1y",
    ],
)
def test_bad_paging_or_chart_parameters_are_a_400_page(browser: Any, query: str) -> None:
    page = browser("sup").get(f"/integrations/a?{query}")
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert query.split("=")[0] + ":" in page.text


def test_a_page_before_another_integrations_result_is_not_found(
    browser: Any, engine: Engine
) -> None:
    first_of_o = min(
        int(i) for i in re.findall(r'id="result-(\d+)"', browser("sup").get("/integrations/o").text)
    )
    assert browser("sup").get(f"/integrations/a?before={first_of_o}").status_code == 404


def test_times_in_the_viewers_zone(app: Any, browser: Any) -> None:
    support = browser("sup")
    assert "2026-11-23 12:00:00 UTC" in support.get("/integrations/a").text
    support.client.cookies.set("intmon_tz", "Europe/Moscow")
    moscow = support.get("/integrations/a").text
    assert "2026-11-23 15:00:00 MSK" in moscow and "12:00:00 UTC" not in moscow
    assert "2026-11-23 21:00:00 JST" in support.get("/integrations/a?tz=Asia/Tokyo").text
    assert "JST" in support.get("/board").text  # ?tz= is kept, like ?lang=
    for bad in ("Mars/Olympus", "../../etc/passwd", "/etc/localtime", "x" * 300):
        other = browser("ann")
        other.client.cookies.set("intmon_tz", bad)
        page = other.get("/integrations/a")
        assert page.status_code == 200 and "2026-11-23 12:00:00 UTC" in page.text


def test_a_client_sees_bars_uptime_and_badge_of_its_own_only(
    app: Any, browser: Any, seen: list[str]
) -> None:
    ann = browser("ann")
    board = ann.get("/board").text
    assert 'id="bar-a"' in board and 'id="uptime-a"' in board
    assert 'id="bar-o"' not in board and 'id="uptime-o"' not in board
    own = ann.get("/integrations/a").text
    token_a = badge_token(app.state.badge_key, "a")
    assert f"/badge/{token_a}.svg" in own
    assert ann.get("/integrations/o").status_code == 404
    token_o = badge_token(app.state.badge_key, "o")
    assert not [page for page in seen if token_o in page]  # never shown to acme
    assert token_o in browser("oli").get("/integrations/o").text  # but to orbit


def test_the_uptime_badge_behind_its_secret_link(app: Any, engine: Engine) -> None:
    record_results(engine, results("a", Outcome.OK, range(3, 60)))  # 57 up, 3 down
    client = TestClient(app, base_url="https://status.example")  # nobody logged in
    url = f"/badge/{badge_token(app.state.badge_key, 'a')}.svg"
    day = client.get(url)
    assert day.status_code == 200 and day.headers["content-type"].startswith("image/svg+xml")
    assert day.headers["cache-control"] == "public, max-age=300"
    assert day.headers["x-content-type-options"] == "nosniff"
    assert ">uptime 24 h<" in day.text and ">95%<" in day.text and 'fill="#a66f00"' in day.text
    assert "set-cookie" not in day.headers
    assert ">uptime 30 d<" in client.get(url + "?window=30d").text
    assert ">доступность 7 д<" in client.get(url + "?window=7d&lang=ru").text
    refused = client.get(url + "?window=1y")
    assert refused.status_code == 422 and "window" in refused.json()["detail"]
    assert client.get(f"/badge/{badge_token(app.state.badge_key, 'o')}.svg").status_code == 200
    for forged in (
        url.replace(".svg", "x.svg"),
        "/badge/a.svg",
        "/badge/a.AAAAAAAAAAAAAAAAAAAAAA.svg",
        f"/badge/{badge_token(b'another key', 'a')}.svg",
        f"/badge/{badge_token(app.state.badge_key, 'gone')}.svg",
        "/badge/%C3%A9.%C3%A9.svg",
    ):
        missing = client.get(forged)
        assert missing.status_code == 404, forged
        assert missing.headers["content-type"] == "application/problem+json"


def test_a_badge_of_an_integration_without_results_says_so(app: Any, engine: Engine) -> None:
    client = TestClient(app)
    db_now = NOW + timedelta(days=40)  # every result is older than 30 days
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(db, "utcnow", lambda: db_now)
        badge = client.get(f"/badge/{badge_token(app.state.badge_key, 'a')}.svg?window=30d")
    assert ">no data<" in badge.text and 'fill="#6b7385"' in badge.text


def test_tooltips_in_russian_and_dated_when_not_today(browser: Any) -> None:
    russian = browser("sup").get("/board?lang=ru").text
    assert "Доступность за 24 ч" in russian
    bar = russian.split('id="bar-a"')[1]
    assert 'title="12:00:00 UTC · ошибка авторизации · 50 мс · HTTP 401 · health"' in bar
    # In Nouméa (UTC+11) the results ran at 23:00 and the page is read after midnight.
    noumea = browser("sup").get("/board?tz=Pacific/Noumea").text.split('id="bar-a"')[1]
    assert 'title="2026-11-23 23:00:00 +11 · authentication failed' in noumea
