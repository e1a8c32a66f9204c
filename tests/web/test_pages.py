"""Every page as support and as a client sees it: the board, an integration, the
ticket list and its filters, creating a ticket, a ticket's thread, answering it."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from alerts import tickets
from alerts.policy import Policy
from alerts.queries import ticket_detail
from alerts.tickets import Actor
from core import db
from integrations.maintenance import add_window
from integrations.staleness import Freshness, QuietReason
from intmon.serve import ConsoleServer, demo_console, describe
from intmon.web.board import integration_status
from tests.alerts.helpers import T0
from tests.web.conftest import NOW, settings

SCRIPT = "<script>alert(1)</script>"


def text_of(html: str) -> str:
    """The page's words, without tags, for asserting on what a person reads."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_board_shows_states_incidents_tickets_and_sla_timers(browser: Any) -> None:
    page = browser("sup").get("/board")
    assert page.status_code == 200
    words = text_of(page.text)
    assert 'id="count-down">2<' in page.text and 'id="count-incidents">2<' in page.text
    assert 'id="integration-a"' in page.text and 'id="integration-o"' in page.text
    assert "auth_failure" in words and "Authentication" in words
    # Opened at T0 + 2 min, the standard SLA (24 h) runs; the page's clock is T0 + 1 h.
    assert "due in 23 h 02 min" in words
    assert 'data-refresh="15"' in page.text  # auto-refresh is on
    assert "INC-000001" in words and "INC-000002" in words


def test_an_overdue_first_response_shows_how_late_it_is(
    browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "utcnow", lambda: NOW + timedelta(hours=30))
    words = text_of(browser("sup").get("/board").text)
    assert "overdue by 6 h 58 min" in words
    assert "SLA breached 2" in words


def test_a_client_board_shows_only_its_own(browser: Any) -> None:
    page = browser("ann").get("/board")
    assert 'id="integration-a"' in page.text and 'id="integration-o"' not in page.text
    assert "INC-000001" in page.text and "INC-000002" not in page.text
    assert 'id="count-down">1<' in page.text


def test_the_integration_page_shows_checks_results_incidents_and_windows(
    browser: Any, engine: Engine
) -> None:
    add_window(
        engine,
        "a",
        {
            "id": "upgrade",
            "starts_at": (NOW - timedelta(minutes=5)).isoformat(),
            "ends_at": (NOW + timedelta(hours=1)).isoformat(),
            "reason": "partner upgrade",
        },
        NOW,
    )
    for who in ("sup", "ann"):
        page = browser(who).get("/integrations/a")
        assert page.status_code == 200
        words = text_of(page.text)
        assert "A Broker" in words and "GET /health" in words
        assert words.count("auth_failure") >= 4  # the check's state and three results
        assert "Authentication" in words and "INC-000001" in words
        assert "partner upgrade" in words and "on until 23 Nov 2026, 14:00:00 UTC" in words
        assert "maintenance" in words  # the window is on: the integration's state
    board = browser("sup").get("/board").text
    assert 'id="count-maintenance">1<' in board


def test_the_integration_page_shows_its_end_to_end_runs(browser: Any, engine: Engine) -> None:
    from sqlalchemy import insert

    from integrations.e2e_models import E2ERun

    with engine.begin() as connection:
        connection.execute(
            insert(E2ERun).values(
                id="run-1",
                integration_id="a",
                scenario="lead-journey",
                trigger="schedule",
                status="failed",
                outcome="timeout",
                detail="step status: <no postback> within 30 s",
                callbacks=[],
                created_at=NOW,
                started_at=NOW,
            )
        )
    words = text_of(browser("ann").get("/integrations/a").text)
    assert "End-to-end scenario runs" in words and "lead-journey" in words
    assert "failed timed out" in words and "&lt;no postback&gt;" in words  # escaped
    assert "No scenario runs yet." in text_of(browser("sup").get("/integrations/o").text)
    assert "Сквозные сценарии" in browser("ann").get("/integrations/a?lang=ru").text


def test_integration_state_is_derived_from_checks_and_windows() -> None:
    from core.vocabulary.outcomes import Outcome
    from integrations.loader import load_text
    from integrations.results import StateView
    from integrations.windows import window_from_dict
    from tests.web.conftest import CONFIG

    spec = load_text(CONFIG).integrations[0]

    def state(check: str, outcome: Outcome, minute: int) -> StateView:
        at = T0 + timedelta(minutes=minute)
        return StateView("a", check, outcome, outcome.is_up, 1, at, at, 0.1, None, "d")

    window = window_from_dict(
        {"starts_at": T0.isoformat(), "ends_at": (T0 + timedelta(hours=1)).isoformat()}
    )
    ok, failing = state("health", Outcome.OK, 5), state("orders", Outcome.TIMEOUT, 3)
    quiet = {("a", "health"): Freshness(True, 300.0, QuietReason.BUDGET)}
    cases = [
        ("no results yet", [], [], {}, "unknown", None),
        ("every check passes", [ok], [], {}, "up", "ok"),
        ("one check fails", [ok, failing], [], {}, "down", "timeout"),
        ("a window is on", [ok, failing], [window], {}, "maintenance", "timeout"),
        # Issue 21: a check gone quiet is not "up", however its last result ended.
        ("a passing check went quiet", [ok], [], quiet, "stale", "ok"),
        ("a quiet check of a failing one", [ok, failing], [], quiet, "down", "timeout"),
    ]
    for name, states, windows, fresh, expected, outcome in cases:
        status = integration_status(spec, states, windows, T0 + timedelta(minutes=10), fresh)
        assert (status.state, status.outcome) == (expected, outcome), name
        assert status.stale == ({"health": "budget"} if fresh else {}), name


def test_the_board_names_stale_checks_and_why(browser: Any, engine: Engine) -> None:
    from integrations.skips import SkipLog

    log = SkipLog()
    log.note([("a", "health")], QuietReason.BUDGET, (NOW - timedelta(minutes=1)).timestamp())
    log.flush(engine, NOW.timestamp())
    # Both checks last ran an hour ago (interval 60 s): a's was skipped by the
    # budget since; nothing ran o's.
    words = text_of(browser("sup").get("/board").text)
    assert "health: skipped by the request budget" in words
    assert "health: due, but no worker ran it" in words
    page = text_of(browser("ann").get("/integrations/a").text)
    assert "health stale skipped by the request budget" in page
    assert "пропущена из-за лимита запросов" in browser("ann").get("/board?lang=ru").text


def test_the_ticket_list_filters_as_the_help_page_says(browser: Any, engine: Engine) -> None:
    support = browser("sup")
    support.post(
        "/tickets/new",
        {"section": "app_help", "topic": "How do I export?", "description": "?", "client": "acme"},
    )
    listed = support.get("/tickets").text
    assert "INC-000001" in listed and "INC-000002" in listed and "INC-000003" in listed

    def numbers(query: str) -> list[str]:
        page = support.get(f"/tickets?{query}")
        assert page.status_code == 200, page.text
        return re.findall(r'id="row-(INC-\d+)"', page.text)

    assert numbers("section=app_help") == ["INC-000003"]
    assert numbers("section=system_errors&integration=o") == ["INC-000002"]
    assert numbers("status=closed") == []
    assert numbers("client=acme") == ["INC-000001", "INC-000003"]
    assert numbers("created_from=2026-11-23&created_to=2026-11-23") != []
    assert numbers("created_from=2026-11-24") == []
    assert numbers("created_to=2026-11-22") == []
    bad = support.get("/tickets?created_from=yesterday&status=done")
    assert bad.status_code == 422
    assert "Created from" in bad.text or "Status" in bad.text
    assert "is not a date (YYYY-MM-DD)" in bad.text
    # A client's list is its own, whatever client it asks for.
    client = browser("ann")
    assert re.findall(r'id="row-(INC-\d+)"', client.get("/tickets?client=orbit").text) == [
        "INC-000001",
        "INC-000003",
    ]


def test_a_client_creates_a_ticket_the_form_keeps_what_was_typed_on_error(
    browser: Any, engine: Engine
) -> None:
    client = browser("ann")
    form = client.get("/tickets/new").text
    for label in ("Application help", "System errors", "Documents/Finance", "Metric billing"):
        assert label in form
    billing = client.get("/tickets/new?category=documents_finance&topic_id=metric_billing").text
    assert 'name="f_period"' in billing
    assert 'name="client"' not in billing and 'name="tier"' not in billing  # support's fields
    typed = {
        "category": "documents_finance",
        "topic_id": "metric_billing",
        "topic": "Invoice for November",
        "description": "The act is missing.",
        "integration": "a",
        "f_account_number": "42",
    }
    refused = client.post("/tickets/new", typed)
    assert refused.status_code == 422
    assert 'id="error-f_period"' in refused.text and "is required" in refused.text
    assert "The act is missing." in refused.text and 'value="Invoice for November"' in refused.text
    empty = client.post("/tickets/new", {**typed, "topic": "", "description": ""})
    assert 'id="error-topic"' in empty.text and 'id="error-description"' in empty.text
    created = client.post("/tickets/new", {**typed, "f_period": "2026-11"})
    assert created.status_code == 200 and created.url.path == "/tickets/INC-000003"
    words = text_of(created.text)
    assert "Invoice for November" in words and "The act is missing." in words
    assert "Documents/Finance / Metric billing request" in words
    row = ticket_detail(engine, 3).ticket
    assert (row.client, row.integration_id, row.origin) == ("acme", "a", "manual")


def test_the_thread_reply_and_status_change(browser: Any, engine: Engine) -> None:
    support, client = browser("sup"), browser("ann")
    support.post("/tickets/INC-000001/comments", {"body": "Checking.", "internal": "1"})
    support.post("/tickets/INC-000001/comments", {"body": "Rotate the token, please."})
    as_client = client.get("/tickets/INC-000001").text
    assert "Rotate the token, please." in as_client and "Checking." not in as_client
    as_support = support.get("/tickets/INC-000001").text
    internal = as_support[as_support.index("Checking.") - 600 : as_support.index("Checking.")]
    assert "comment author-support internal" in internal and ">internal<" in internal
    assert 'id="status-form"' in as_support and 'id="status-form"' not in as_client
    moved = support.post("/tickets/INC-000001/status", {"status": "waiting_for_reply"})
    assert 'data-status="waiting_for_reply"' in moved.text
    replied = client.post("/tickets/INC-000001/comments", {"body": "Done, rotated."})
    assert replied.url.path == "/tickets/INC-000001"
    assert "Done, rotated." in replied.text
    # The client's answer moves the ticket back to work (the domain's rule).
    assert 'data-status="in_progress"' in replied.text
    history = text_of(replied.text)
    assert "Waiting for reply → In progress" in history
    detail = ticket_detail(engine, 1, include_internal=False)
    assert [c.author for c in detail.comments][-1] == "ann"


def test_domain_refusals_are_shown_on_the_form(browser: Any) -> None:
    support = browser("sup")
    support.post("/tickets/INC-000001/status", {"status": "in_progress"})
    late = support.post("/tickets/INC-000001/section", {"section": "app_help"})
    assert late.status_code == 422 and 'id="error-reason"' in late.text
    assert "Reason</strong>: is required" not in late.text
    agreed = support.post(
        "/tickets/INC-000001/section",
        {"section": "app_help", "section_reason": "agreed with the specialist"},
    )
    words = text_of(agreed.text)
    assert "Support changed the question type from «System errors» to «Application help»" in words
    assert 'data-status="in_progress"' in agreed.text
    support.post("/tickets/INC-000001/status", {"status": "rejected"})
    again = support.post("/tickets/INC-000001/status", {"status": "open"})
    assert again.status_code == 422 and 'id="error-status"' in again.text
    assert "cannot change the status from «Rejected» to «Open»" in again.text
    unknown = support.post("/tickets/INC-000002/status", {"status": "done", "reason": "x"})
    assert "done is not one of the choices" in unknown.text
    empty = support.post("/tickets/INC-000002/comments", {"body": "   "})
    assert 'id="error-body"' in empty.text and "must not be empty" in empty.text
    moved = support.post(
        "/tickets/INC-000002/section", {"section": "documents_finance", "subtype": "other"}
    )
    assert "Documents/Finance / Other" in text_of(moved.text)
    internal = browser("ann").post("/tickets/INC-000001/status", {"status": "closed"})
    assert internal.status_code == 403


def test_a_client_cannot_write_an_internal_note(browser: Any, engine: Engine) -> None:
    refused = browser("ann").post("/tickets/INC-000001/comments", {"body": "x", "internal": "1"})
    assert refused.status_code == 422 and "a client&#39;s answer is always visible" in refused.text
    assert ticket_detail(engine, 1).comments == []


def test_markup_typed_by_anyone_is_shown_escaped(
    browser: Any, engine: Engine, seen: list[str]
) -> None:
    client = browser("ann")
    client.post(
        "/tickets/new",
        {"section": "app_help", "topic": SCRIPT, "description": f"{SCRIPT}<b>bold</b>"},
    )
    client.post("/tickets/INC-000003/comments", {"body": f'"><img src=x onerror=alert(1)>{SCRIPT}'})
    support = browser("sup")
    for page in ("/board", "/tickets", "/tickets/INC-000003"):
        support.get(page)
    client.get("/tickets?status=<script>")
    client.get("/integrations/<script>")
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert sum(escaped in html for html in seen) >= 5
    assert not [html for html in seen if SCRIPT in html or "<img src=x" in html]


def test_pages_in_russian_by_choice_or_by_the_browser(browser: Any) -> None:
    client = browser("ann")
    russian = client.get("/tickets?lang=ru").text
    for words in ("Помощь: тикеты", "Создать тикет", "Открыт", "Ошибки системы", 'lang="ru"'):
        assert words in russian
    assert "Открыт" in client.get("/tickets/INC-000001").text  # the choice is kept
    form = client.get("/tickets/new").text
    for words in ("Помощь по приложению", "Документы/Финансы", "Запрос тарификации метрики"):
        assert words in form
    assert "Вопрос" in form and "Отправить" in form
    assert "Help: tickets" in client.get("/tickets?lang=en").text
    other = browser()
    other.client.headers["Accept-Language"] = "de-DE,ru;q=0.8,en;q=0.5"
    assert "Вход" in other.get("/login").text
    other.login("sup")
    assert "Статус интеграций" in other.get("/board").text


def test_every_page_answers_for_support_and_a_client(browser: Any) -> None:
    pages = ["/board", "/tickets", "/tickets/new", "/tickets/INC-000001", "/integrations/a"]
    for who in ("sup", "ann"):
        person = browser(who)
        for path in pages:
            for lang in ("en", "ru"):
                response = person.get(f"{path}?lang={lang}")
                assert response.status_code == 200, (who, path, lang)
                assert response.headers["content-security-policy"].startswith("default-src 'self'")
                assert response.headers["cache-control"] == "no-store"
    css = browser().get("/web-static/console.css")
    js = browser().get("/web-static/console.js")
    assert css.status_code == js.status_code == 200
    assert "data-refresh-region" in js.text


def test_the_demo_console_serves_on_a_free_port_with_two_logins(engine: Engine) -> None:
    import httpx

    server, logins = demo_console(engine, settings(), client="acme")
    try:
        assert [(x.role, x.username, x.client) for x in logins] == [
            ("support", "support", None),
            ("client", "acme", "acme"),
        ]
        text = describe(server.url, logins)
        assert server.url in text and all(x.password in text for x in logins)
        with httpx.Client(base_url=server.url) as http:
            login = http.get("/login")
            token = login.text.split('name="csrf" value="')[1].split('"')[0]
            response = http.post(
                "/login",
                data={"csrf": token, "username": "acme", "password": logins[1].password},
                follow_redirects=True,
            )
            assert response.url.path == "/tickets" and "INC-000001" in response.text
    finally:
        server.stop()
    assert isinstance(server, ConsoleServer)


def test_the_app_without_a_console_user_still_serves_the_api(app: FastAPI) -> None:
    from fastapi.testclient import TestClient

    with TestClient(app) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/api/tickets").status_code == 401
        assert "set-cookie" not in http.get("/healthz").headers


def test_a_support_answer_is_the_first_response(browser: Any, engine: Engine) -> None:
    """The console calls the same domain function: a support answer is the first response."""
    browser("sup").post("/tickets/INC-000001/comments", {"body": "On it."})
    detail = ticket_detail(engine, 1)
    assert detail.ticket.first_responded_at == NOW and detail.ticket.sla == "met"
    with engine.begin() as connection:
        tickets.set_status(
            connection, 1, "closed", actor=Actor("support", "x"), now=NOW, policy=Policy()
        )
    assert 'data-status="closed"' in browser("ann").get("/tickets/INC-000001").text


def test_auto_refresh_reads_the_page_again_never_the_form(browser: Any) -> None:
    support = browser("sup")
    refused = support.post("/tickets/INC-000001/comments", {"body": " "})
    assert 'data-refresh="15" data-refresh-url="/tickets/INC-000001"' in refused.text
    assert "data-refresh-region" in refused.text.split('id="reply"')[0]  # status and thread
    reply_form = refused.text.split('id="reply"')[1].split("</form>")[0]
    assert "data-refresh-region" not in reply_form
    listed = support.get("/tickets?status=open&section=system_errors")
    assert 'data-refresh-url="/tickets?status=open&amp;section=system_errors"' in listed.text
    assert 'data-refresh="0"' in support.get("/tickets/new").text  # a form page does not


def test_incidents_show_what_changed_in_the_partners_answer(browser: Any, engine: Engine) -> None:
    from sqlalchemy import update

    from alerts.models import Incident

    changes = [
        {"kind": "removed", "path": "$.status", "before": "string", "after": None,
         "text": "`$.status` removed"},
        {"kind": "added", "path": "$.state", "before": None, "after": "string",
         "text": "`$.state` added"},
    ]  # fmt: skip
    stored = {
        "check": "health",
        "changes": changes,
        "summary": "`$.status` removed, `$.state` added",
        "observed_at": NOW.isoformat(),
        "last_passing_at": T0.isoformat(),
        "contract_since": T0.isoformat(),
    }
    with engine.begin() as connection:
        connection.execute(
            update(Incident).where(Incident.integration_id == "a").values(contract_diff=stored)
        )
    expected = "changed: `$.status` removed, `$.state` added"
    for who in ("sup", "ann"):  # support and the client alike
        for url in ("/board", "/integrations/a", "/tickets/INC-000001"):
            assert expected in text_of(browser(who).get(url).text), (who, url)
    # The other client's incident has no diff and shows none.
    assert "changed:" not in text_of(browser("oli").get("/board").text)


def open_outage(engine: Engine) -> None:
    from sqlalchemy import insert

    from alerts.models import PlatformOutage

    with engine.begin() as connection:
        connection.execute(
            insert(PlatformOutage).values(
                state="open",
                started_at=NOW - timedelta(minutes=3),
                opened_at=NOW - timedelta(minutes=2),
                cause="correlated",
                outcome="connection_refused",
                detail="6 of 8 partner endpoints checked in the last 60s fail",
                evidence={},
                clear_streak=0,
            )
        )


def test_the_board_shows_an_open_platform_outage(browser: Any, engine: Engine) -> None:
    assert 'id="platform-outage"' not in browser("sup").get("/board").text
    open_outage(engine)
    words = html.unescape(text_of(browser("sup").get("/board").text))
    assert "Platform outage #1 since" in words
    assert "intmon's own network is failing (correlated, connection refused)" in words
    assert "6 of 8 partner endpoints" in words
    # A client learns why everything looks down, not how many others are failing.
    words = text_of(browser("ann").get("/board").text)
    assert "Platform outage #1" in words and "6 of 8" not in words


def test_the_integration_page_shows_its_heartbeats(browser: Any, engine: Engine) -> None:
    from integrations.apply import apply
    from integrations.heartbeats.pings import Ping, PingKind, record_pings
    from integrations.heartbeats.store import list_heartbeats
    from integrations.loader import load_text
    from tests.test_api import CONFIG

    beating = CONFIG.replace(
        'checks: [{name: health, path: /health, headers: {X-Key: "${PARTNER_TOKEN}"}}]\n',
        'checks: [{name: health, path: /health, headers: {X-Key: "${PARTNER_TOKEN}"}}]\n'
        "    heartbeats: [{name: nightly-export, period_s: 86400, grace_s: 600}]\n",
        1,
    )
    apply(engine, load_text(beating), NOW)
    [beat] = list_heartbeats(engine)
    record_pings(engine, [Ping(beat.ping_key, PingKind.SUCCESS, NOW)])
    page = browser("ann").get("/integrations/a")
    words = text_of(page.text)
    assert "Heartbeats (jobs that ping intmon)" in words
    assert "nightly-export (every 86400 s, grace 600 s)" in words
    assert "on time" in words and "24 Nov 2026, 13:00" in words  # next due: a day later
    assert beat.ping_key not in page.text  # the ping URL stays off the page
    assert "Heartbeats" not in text_of(browser("sup").get("/integrations/o").text)


def test_the_integration_page_shows_its_postback_monitor(browser: Any, engine: Engine) -> None:
    from integrations.apply import apply
    from integrations.leads.delivery import LeadOutcome
    from integrations.leads.ledger import AttemptIn, record
    from integrations.loader import load_text
    from integrations.postbacks.store import PostbackIn, record_postback
    from tests.test_api import CONFIG

    watched = CONFIG.replace(
        'checks: [{name: health, path: /health, headers: {X-Key: "${PARTNER_TOKEN}"}}]\n',
        'checks: [{name: health, path: /health, headers: {X-Key: "${PARTNER_TOKEN}"}}]\n'
        '    postbacks: {secret: "${PB_SECRET}", window_s: 7200, min_ratio: 0.5, min_leads: 2}\n',
        1,
    )
    apply(engine, load_text(watched), NOW)
    attempts = [
        AttemptIn(
            lead_id=f"L-{n}",
            integration="a",
            attempt=1,
            at=NOW - timedelta(minutes=30),
            outcome=LeadOutcome.DELIVERED,
            broker_lead_id=f"B-{n}",
        )
        for n in range(4)
    ]
    record(engine, attempts, {"a"})
    postback = PostbackIn(event_id="E-1", lead_id="B-1", status="converted")
    record_postback(engine, "a", postback, NOW - timedelta(minutes=10))
    words = html.unescape(text_of(browser("ann").get("/integrations/a").text))
    assert "Postbacks (the broker's status callbacks about accepted leads)" in words
    assert "last 7200 s" in words and "1 of 4 (25 %) (at least 50 %)" in words
    assert "postbacks missing" in words
    assert "23 Nov 2026, 12:50:00 UTC" in words  # the last postback, ten minutes ago
    russian = text_of(browser("ann").get("/integrations/a?lang=ru").text)
    assert "Постбэки (уведомления брокера о статусах принятых лидов)" in russian
    assert "1 из 4 (25 %) (не менее 50 %)" in russian and "нет постбэков" in russian
    assert "Postbacks" not in text_of(browser("sup").get("/integrations/o").text)
