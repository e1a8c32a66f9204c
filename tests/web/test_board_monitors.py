"""Heartbeat and postback monitors on the board (issue 25, item 4): each row sums up
its integration's monitors and links to them; a late heartbeat or missing
postbacks sorts the row with the down ones and is counted; clients see their own;
the page's monitors cost the same few queries whatever the number of rows."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine, event

from alerts.policy import Policy
from alerts.postback_watch import watch_postbacks
from core.settings import Settings
from core.vocabulary.outcomes import Outcome
from integrations.apply import apply
from integrations.heartbeats.pings import Ping, PingKind, record_pings
from integrations.heartbeats.store import list_heartbeats
from integrations.leads.delivery import LeadOutcome
from integrations.leads.ledger import AttemptIn, record
from integrations.loader import load_text
from integrations.postbacks.store import PostbackIn, record_postback
from integrations.registry import load_specs
from intmon.api.auth import Principal
from intmon.web.board import board
from tests.alerts.helpers import feed
from tests.test_api import CONFIG
from tests.web.conftest import NOW

CHECKS = 'checks: [{name: health, path: /health, headers: {X-Key: "${PARTNER_TOKEN}"}}]\n'
ACME = (
    "    heartbeats:\n"
    "      - {name: hourly-sync, period_s: 600, grace_s: 60}\n"
    "      - {name: fresh-job, period_s: 60, grace_s: 30}\n"
    '    postbacks: {secret: "${PB_SECRET}", window_s: 7200, min_ratio: 0.5, min_leads: 2}\n'
)
ORBIT = "    heartbeats: [{name: orbit-export, period_s: 3600, grace_s: 600}]\n"


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def rows_of(page: str) -> list[str]:
    return re.findall(r'<tr id="integration-([^"]+)"', page)


def cell(page: str, integration: str) -> str:
    found = re.search(
        rf'<tr id="integration-{integration}"[^>]*>.*?<td[^>]*class="monitors">(.*?)</td>',
        page,
        re.S,
    )
    assert found, integration
    return text_of(found.group(1)).strip()


def monitored(engine: Engine) -> None:
    """acme: two heartbeats (one on time, one never pinged) and a broker that sent a
    postback for 1 of 4 leads; orbit: a heartbeat two hours silent (an hour late,
    the detector has not judged it yet). Both integrations' checks pass."""
    watched = CONFIG.replace(CHECKS, CHECKS + ACME, 1)
    watched = watched[: watched.rindex(CHECKS)] + CHECKS + ORBIT
    apply(engine, load_text(watched), NOW - timedelta(hours=3))
    specs = {i: r.spec for i, r in load_specs(engine).items()}
    for integration in ("a", "o"):
        feed(engine, specs, [Outcome.OK] * 3, start=57, integration=integration)
    keys = {beat.name: beat.ping_key for beat in list_heartbeats(engine)}
    record_pings(engine, [Ping(keys["orbit-export"], PingKind.SUCCESS, NOW - timedelta(hours=2))])
    record_pings(engine, [Ping(keys["hourly-sync"], PingKind.SUCCESS, NOW - timedelta(minutes=1))])
    record(
        engine,
        [
            AttemptIn(
                lead_id=f"L-{n}",
                integration="a",
                attempt=1,
                at=NOW - timedelta(minutes=30),
                outcome=LeadOutcome.DELIVERED,
                broker_lead_id=f"B-{n}",
            )
            for n in range(4)
        ],
        {"a"},
    )
    postback = PostbackIn(event_id="E-1", lead_id="B-1", status="converted")
    record_postback(engine, "a", postback, NOW - timedelta(minutes=10))


def test_the_board_sums_up_each_integrations_monitors(browser: Any, engine: Engine) -> None:
    monitored(engine)
    page = browser("sup").get("/board").text
    # Both need someone, each with its checks up: orbit's late heartbeat, and acme's
    # postbacks missing in the live window before the detector has judged them (the
    # row's place and its cell read one judgement); then by name.
    assert rows_of(page) == ["a", "o"]
    assert 'id="integration-o" data-state="up" data-monitor-alarm="1"' in page
    assert 'id="integration-a" data-state="up" data-monitor-alarm="1"' in page
    assert cell(page, "o") == "heartbeats: 1 late: 1 orbit-export last ping 2 h 00 min ago"
    assert cell(page, "a") == (
        "heartbeats: 2 last ping 1 min ago next due in 9 min "
        "postbacks 1 of 4 (25 %) postbacks missing"
    )
    assert (
        'href="/integrations/a#heartbeats"' in page and 'href="/integrations/a#postbacks"' in page
    )
    assert re.search(r'id="count-monitor-alarms">2<', page)
    # The integration page's tables are where the links lead.
    integration = browser("sup").get("/integrations/a").text
    assert 'id="heartbeats"' in integration and 'id="postbacks"' in integration


def test_missing_postbacks_once_judged_count_and_sort_with_the_down(
    browser: Any, engine: Engine
) -> None:
    monitored(engine)
    watch_postbacks(engine, Policy(), NOW)
    page = browser("sup").get("/board").text
    # acme is down now (its postbacks:ratio result failed): down first.
    assert rows_of(page) == ["a", "o"]
    assert 'id="integration-a" data-state="down" data-monitor-alarm="1"' in page
    assert re.search(r'id="count-monitor-alarms">2<', page)
    assert "postbacks missing" in text_of(page)


def test_a_client_sees_only_its_own_monitors_in_its_language(browser: Any, engine: Engine) -> None:
    monitored(engine)
    client = browser("ann")
    page = client.get("/board").text
    assert rows_of(page) == ["a"]
    # Its own alarm only: orbit's late heartbeat is neither shown nor counted.
    assert "orbit-export" not in page and re.search(r'id="count-monitor-alarms">1<', page)
    russian = client.get("/board?lang=ru").text
    assert cell(russian, "a") == (
        "сигналов заданий: 2 последний сигнал 1 мин назад следующий через 9 мин "
        "постбэки 1 из 4 (25 %) нет постбэков"
    )
    other = browser("oli").get("/board?lang=ru").text
    assert cell(other, "o") == (
        "сигналов заданий: 1 опаздывают: 1 orbit-export последний сигнал 2 ч 00 мин назад"
    )
    for key in {beat.ping_key for beat in list_heartbeats(engine)}:
        assert key not in page and key not in russian and key not in other


def many(count: int) -> str:
    rows = [
        f"  - {{id: m{i:03d}, name: Monitored {i}, kind: broker, client: acme, "
        "base_url: 'http://127.0.0.1:9', checks: [{name: health, path: /health}], "
        f"heartbeats: [{{name: job-a, period_s: 60, grace_s: 30}}, "
        f"{{name: job-b, period_s: 3600, grace_s: 60}}], "
        f"postbacks: {{secret: '${{PB_SECRET}}', window_s: {3600 if i % 2 else 7200}, "
        "min_ratio: 0.5, min_leads: 1}}"
        for i in range(count)
    ]
    return "version: 1\nintegrations:\n" + "\n".join(rows) + "\n"


def statements_of_board(engine: Engine, count: int) -> int:
    apply(engine, load_text(many(count)), NOW)
    seen: list[str] = []

    def count_statement(*args: Any) -> None:
        seen.append(args[2])

    settings = Settings(redis_url=None, session_secret=SecretStr("s" * 40))
    event.listen(engine, "before_cursor_execute", count_statement)
    try:
        shown = board(engine, Principal("support", None, "sup"), settings, NOW)
    finally:
        event.remove(engine, "before_cursor_execute", count_statement)
    assert sum(status.monitors is not None for status in shown.integrations) == count
    return len(seen)


def test_the_pages_monitors_cost_the_same_queries_for_3_or_60_rows(engine: Engine) -> None:
    """Set-based reads: the number of SQL statements does not grow with the rows."""
    assert statements_of_board(engine, 3) == statements_of_board(engine, 60)


def test_the_integration_page_agrees_with_the_board_on_a_late_heartbeat(
    browser: Any, engine: Engine
) -> None:
    """orbit-export is an hour past due (plus grace) though the detector has not run:
    its page says missed, as the board does, not "on time"."""
    monitored(engine)
    page = browser("oli").get("/integrations/o").text
    assert re.search(r'id="heartbeat-orbit-export">missed<', page)
    on_time = browser("ann").get("/integrations/a").text
    assert re.search(r'id="heartbeat-hourly-sync">on time<', on_time)
    assert re.search(r'id="heartbeat-fresh-job">waiting for the first ping<', on_time)
