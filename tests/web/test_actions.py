"""Support acts at the console (issue 24, item 7): acknowledge an incident, declare,
change and end a maintenance window, run checks now, run a scenario and open its
report and JUnit. Each action works for support, is refused for a client and
without the CSRF token, and is recorded in the audit trail (`console_actions`),
whose row is what the page after the redirect says."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select

from alerts.models import Incident
from integrations.apply import apply
from integrations.loader import load_text
from integrations.maintenance import add_window, list_windows
from intmon.web.audit import recent
from intmon.web.models import ConsoleAction
from tests.alerts.helpers import T0
from tests.web.conftest import NOW, settings
from tests.web.test_pages import text_of

SCENARIO_INTEGRATION = """  - id: s
    name: S Shop
    kind: shop
    client: acme
    base_url: http://127.0.0.1:9
    interval_s: 60
    checks: [{name: ping, path: /ping}]
    scenarios:
      - {name: ping-flow, steps: [{name: ping, path: /ping}]}
"""

# Every action, as (path, form) on acme's integration `a` and its incident #1.
ACTIONS = (
    ("/incidents/1/ack", {"back": "/board"}),
    (
        "/integrations/a/maintenance",
        {"starts_at": "2026-11-23T16:00", "ends_at": "2026-11-23T18:00", "reason": "upgrade"},
    ),
    ("/integrations/a/maintenance/planned", {"starts_at": "2026-11-24T10:00"}),
    ("/integrations/a/maintenance/planned/end", {}),
    ("/integrations/a/checks/run", {}),
    ("/integrations/s/scenarios/ping-flow/run", {}),
)


@pytest.fixture
def world(engine: Engine) -> Engine:
    """The web fixtures, plus acme's shop `s` with a scenario and a window `planned`
    on `a` declared by the API (tomorrow)."""
    from tests.web.conftest import CONFIG

    apply(engine, load_text(CONFIG + SCENARIO_INTEGRATION), T0)
    window = {
        "id": "planned",
        "starts_at": (NOW + timedelta(days=1)).isoformat(),
        "ends_at": (NOW + timedelta(days=1, hours=2)).isoformat(),
    }
    add_window(engine, "a", window, NOW)
    return engine


def trail(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(ConsoleAction)).scalar())


def acknowledged_by(engine: Engine, incident_id: int) -> str | None:
    with engine.connect() as connection:
        return connection.execute(
            select(Incident.acknowledged_by).where(Incident.id == incident_id)
        ).scalar()


def said(fragment: str) -> str:
    """What a person reads in this piece of a page."""
    return re.sub(r"\s+([:.,])", r"\1", html.unescape(text_of(fragment))).strip()


def flash(page: Any) -> str:
    found = re.search(r'<div class="flash[^"]*" id="flash".*?</div>', page.text, re.S)
    assert found, page.text[:2000]
    return said(found.group(0))


# --- refused ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["ann", "oli"])
def test_a_client_is_refused_every_action(browser: Any, world: Engine, who: str) -> None:
    client = browser(who)
    for path, form in ACTIONS:
        answer = client.post(path, form)
        assert answer.status_code == 403, (path, answer.status_code)
        assert "Not allowed for your role" in answer.text
    assert trail(world) == 0
    assert acknowledged_by(world, 1) is None
    assert [w.name for w in list_windows(world, ["a"])] == ["planned"]
    # Nor does a client see the buttons.
    page = client.get("/integrations/a" if who == "ann" else "/integrations/o").text
    for marker in ('action="/incidents/', "/checks/run", "/maintenance", "maintenance-form"):
        assert marker not in page


def test_no_action_without_the_csrf_token(browser: Any, world: Engine) -> None:
    support = browser("sup")
    for path, form in ACTIONS:
        for token in ("", "forged-token"):
            answer = support.post(path, form, csrf=token)
            assert answer.status_code == 403, (path, token)
            assert "The form has expired" in answer.text
    assert trail(world) == 0
    assert acknowledged_by(world, 1) is None
    assert [w.name for w in list_windows(world, ["a"])] == ["planned"]


# --- acknowledge -----------------------------------------------------------------------


def test_support_acknowledges_an_incident_from_the_board(browser: Any, world: Engine) -> None:
    support = browser("sup")
    board = support.get("/board").text
    row = re.search(r'<tr id="incident-1">.*?</tr>', board, re.S)
    assert row is not None
    # The incidents table names the integration and its client, not the id.
    assert "A Broker" in row.group(0) and ">acme<" in row.group(0)
    assert 'action="/incidents/1/ack"' in row.group(0)

    page = support.post("/incidents/1/ack", {"back": "/board"})
    assert page.status_code == 200 and str(page.url).endswith("/board")
    assert flash(page) == ("Incident #1 acknowledged: its escalation and reminders have stopped.")
    assert acknowledged_by(world, 1) == "sup"  # the column escalate() reads
    assert "acknowledged by sup, 23 Nov 2026, 13:00:00 UTC" in text_of(page.text)
    assert 'action="/incidents/1/ack"' not in page.text
    # The message is said once: a reload does not repeat it.
    assert 'id="flash"' not in support.get("/board").text

    again = support.post("/incidents/1/ack", {"back": "/board"})
    assert flash(again) == ("Acknowledging incident #1: refused — someone acknowledged it already.")
    assert acknowledged_by(world, 1) == "sup"
    done = [(a.actor, a.action, a.outcome, a.subject) for a in recent(world, "a")]
    assert done == [
        ("sup", "incident.ack", "refused", "1"),
        ("sup", "incident.ack", "done", "1"),
    ]


def test_support_acknowledges_from_the_ticket_and_the_integration_page(
    browser: Any, world: Engine
) -> None:
    support = browser("sup")
    ticket = support.get("/tickets/INC-000002").text
    assert 'action="/incidents/2/ack"' in ticket
    assert 'action="/incidents/' not in browser("oli").get("/tickets/INC-000002").text
    page = support.post("/incidents/2/ack", {"back": "/tickets/INC-000002"})
    assert str(page.url).endswith("/tickets/INC-000002")
    assert "Incident #2 acknowledged" in flash(page)
    assert acknowledged_by(world, 2) == "sup"

    assert 'action="/incidents/1/ack"' in support.get("/integrations/a").text
    # A `back` that is not one of the console's pages is not followed.
    page = support.post("/incidents/1/ack", {"back": "https://evil.example/board"})
    assert str(page.url).endswith("/integrations/a")
    # The trail is on the integration's page, in the reader's language.
    trail_ru = support.get("/integrations/a?lang=ru").text
    assert "Инцидент №1 взят в работу" in trail_ru
    assert support.post("/incidents/99/ack", {}).status_code == 404
    assert support.post("/incidents/x1/ack", {}).status_code == 404


# --- maintenance windows -----------------------------------------------------------------


def test_support_declares_a_window_in_its_own_time_zone(browser: Any, world: Engine) -> None:
    support = browser("sup")
    form = support.get("/integrations/a?tz=Europe/Moscow").text
    assert 'id="maintenance-form"' in form and "Europe/Moscow" in form
    page = support.post(
        "/integrations/a/maintenance",
        {"starts_at": "2026-11-23T15:30", "ends_at": "2026-11-23T18:00", "reason": "DB upgrade"},
    )
    assert page.status_code == 200 and str(page.url).endswith("/integrations/a")
    stored = {w.name: w for w in list_windows(world, ["a"])}
    window = stored["cli-1"].window
    # 15:30 in Moscow is 12:30 UTC: the window is on (the clock is 13:00 UTC).
    assert (window.starts_at, window.ends_at) == (
        NOW - timedelta(minutes=30),
        NOW + timedelta(hours=2),
    )
    assert stored["cli-1"].spec["timezone"] == "Europe/Moscow"
    assert flash(page) == (
        "Maintenance window cli-1 declared: 23 Nov 2026, 15:30:00 MSK – 23 Nov 2026, 18:00:00 MSK."
    )
    words = text_of(page.text)
    assert "DB upgrade" in words and "on until 23 Nov 2026, 18:00:00 MSK" in words
    (done,) = recent(world, "a")
    assert (done.action, done.outcome, done.subject) == ("maintenance.declare", "done", "cli-1")


@pytest.mark.parametrize(
    ("lang", "form", "errors"),
    [
        (
            "en",
            {"starts_at": "", "ends_at": "tomorrow", "reason": ""},
            {"starts_at": "From: is required", "ends_at": "To: give a date and time"},
        ),
        (
            "en",
            {"starts_at": "2026-11-24T10:00", "ends_at": "2026-11-24T09:00", "reason": ""},
            {"ends_at": "To: must be later than the start"},
        ),
        (
            "en",
            {"starts_at": "2026-11-22T10:00", "ends_at": "2026-11-22T11:00", "reason": "x" * 501},
            {"ends_at": "To: is already past", "reason": "Reason: must have at most 500"},
        ),
        (
            "ru",
            {"starts_at": "2026-11-24T10:00", "ends_at": "2026-11-24T09:00", "reason": ""},
            {"ends_at": "По: должно быть позже начала"},
        ),
    ],
)
def test_a_wrong_window_is_refused_naming_the_field(
    browser: Any, world: Engine, lang: str, form: dict[str, str], errors: dict[str, str]
) -> None:
    support = browser("sup")
    support.get(f"/integrations/a?lang={lang}")
    page = support.post("/integrations/a/maintenance", form)
    assert page.status_code == 422
    for field, message in errors.items():
        shown = re.search(rf'<p class="error" role="alert" id="error-{field}">(.*?)</p>', page.text)
        assert shown is not None, (field, page.text)
        assert said(shown.group(1)).startswith(message), shown.group(1)
    assert f'value="{form["starts_at"]}"' in page.text  # what was typed stays
    assert [w.name for w in list_windows(world, ["a"])] == ["planned"]
    (refused,) = recent(world, "a")
    assert (refused.action, refused.outcome) == ("maintenance.declare", "refused")


def test_support_changes_and_ends_a_window(browser: Any, world: Engine) -> None:
    support = browser("sup")
    page = support.get("/integrations/a")
    assert 'href="/integrations/a?window=planned#window-form"' in page.text
    editing = support.get("/integrations/a?window=planned").text
    assert "Change maintenance window planned" in editing
    assert 'value="2026-11-24T13:00"' in editing and 'value="2026-11-24T15:00"' in editing

    page = support.post(
        "/integrations/a/maintenance/planned",
        {"starts_at": "2026-11-23T12:00", "ends_at": "2026-11-23T14:00", "reason": "moved"},
    )
    assert "Maintenance window planned changed" in flash(page)
    (window,) = list_windows(world, ["a"])
    assert window.window.current(NOW) is not None  # on now
    assert 'id="end-planned"' in page.text

    page = support.post("/integrations/a/maintenance/planned/end", {})
    assert flash(page) == "Maintenance window planned ended now."
    (window,) = list_windows(world, ["a"])
    assert window.window.current(NOW) is None and window.window.ends_at == NOW
    again = support.post("/integrations/a/maintenance/planned/end", {})
    assert flash(again) == (
        "Ending maintenance window planned: refused — the window is already over."
    )
    assert support.post("/integrations/a/maintenance/nope/end", {}).status_code == 404
    assert support.get("/integrations/a?window=nope").status_code == 400
    outcomes = [(a.action, a.outcome) for a in recent(world, "a")]
    assert outcomes == [
        ("maintenance.end", "refused"),
        ("maintenance.end", "done"),
        ("maintenance.edit", "done"),
    ]


def test_a_window_not_yet_begun_is_cancelled(browser: Any, world: Engine) -> None:
    page = browser("sup").post("/integrations/a/maintenance/planned/end", {})
    assert flash(page) == "Maintenance window planned cancelled before it began."
    assert list_windows(world, ["a"]) == []


# --- run checks now ----------------------------------------------------------------------


def test_support_runs_a_check_now_and_sees_its_result(browser: Any, world: Engine) -> None:
    support = browser("sup")
    page = support.post("/integrations/a/checks/run", {"check": "health"})
    assert page.status_code == 200 and str(page.url).endswith("/integrations/a")
    told = flash(page)
    # Nothing listens on the partner's port (the tests allow loopback).
    assert told.startswith("Checks run now: 1, failing: 1.")
    assert "health: connection refused" in told
    (done,) = recent(world, "a")
    assert (done.action, done.outcome, done.subject) == ("checks.run", "done", "health")
    assert done.values["results"][0]["outcome"] == "connection_refused"
    # Recorded as a scheduled run's result: the results table has it.
    results = re.search(r'<table class="cards" id="results">.*?</table>', page.text, re.S)
    assert results is not None and "connection refused" in results.group(0)

    page = support.post("/integrations/a/checks/run", {"check": "nope"})
    assert flash(page) == ("Running checks now: refused — the integration has no check named nope.")


def test_a_run_now_keeps_to_the_egress_policy_and_is_said_in_russian(
    browser: Any, world: Engine, app: FastAPI
) -> None:
    # The operator allows one internal address, not the partner's loopback one.
    app.state.settings = settings(egress_allow="127.0.0.2/32")
    support = browser("sup")
    support.get("/integrations/a?lang=ru")
    told = flash(support.post("/integrations/a/checks/run", {}))
    assert told.startswith("Проверок запущено: 1, со сбоем: 1.")
    # The configured address itself is refused: intmon's own setting (config_error).
    assert "health: ошибка настройки intmon" in told
    assert "refused by the egress policy" in told  # the probe's own detail, as recorded
    (done,) = recent(world, "a")
    assert done.values["results"][0]["outcome"] == "config_error"


# --- scenarios ---------------------------------------------------------------------------


def test_support_runs_a_scenario_and_opens_its_report_and_junit(
    browser: Any, world: Engine, app: FastAPI
) -> None:
    support = browser("sup")
    assert 'id="run-scenario-ping-flow"' in support.get("/integrations/s").text
    page = support.post("/integrations/s/scenarios/ping-flow/run", {})
    app.state.e2e_runs.join(timeout=30)
    found = re.search(r"/e2e/runs/([\w-]+)$", str(page.url))
    assert page.status_code == 200 and found, page.url
    run_id = found.group(1)
    assert flash(page).startswith(f"Scenario ping-flow is queued as run {run_id}.")

    page = support.get(f"/e2e/runs/{run_id}")
    words = text_of(page.text)
    assert "Scenario ping-flow" in words and "Started by sup" in words
    assert re.search(r"run-(failed|error)", page.text)
    assert f'href="/e2e/runs/{run_id}/report"' in page.text
    assert f'href="/e2e/runs/{run_id}/junit"' in page.text
    report = support.get(f"/e2e/runs/{run_id}/report")
    assert report.status_code == 200
    assert json.loads(report.text)["scenario"] == "ping-flow"
    junit = support.get(f"/e2e/runs/{run_id}/junit")
    assert junit.status_code == 200 and junit.headers["content-type"] == "application/xml"
    assert "<testsuite" in junit.text and 'name="ping"' in junit.text

    # The integration by its name, its id beside it, linked to its page.
    said = re.search(r'<dd id="run-integration">(.*?)</dd>', page.text, re.S)
    assert said and text_of(said.group(1)).strip() == "S Shop s", said
    assert 'href="/integrations/s"' in said.group(1)

    # acme's client reads its own run, by the integration's name; orbit's is told there
    # is none, and so learns no name either.
    own = browser("ann").get(f"/e2e/runs/{run_id}")
    assert own.status_code == 200 and "S Shop" in text_of(own.text)
    other = browser("oli").get(f"/e2e/runs/{run_id}")
    assert other.status_code == 404 and "S Shop" not in other.text
    assert browser("oli").get(f"/e2e/runs/{run_id}/junit").status_code == 404
    (done,) = recent(world, "s")
    assert (done.action, done.outcome, done.values["run"]) == ("scenario.run", "done", run_id)
    assert support.post("/integrations/s/scenarios/nope/run", {}).status_code == 404


def test_a_run_not_ended_has_no_report_yet(browser: Any, world: Engine, app: FastAPI) -> None:
    from integrations.e2e_store import create_run
    from integrations.registry import load_specs

    spec = load_specs(world, ["s"])["s"].spec
    create_run(world, "run-waiting", spec, spec.scenarios[0], trigger="api", now=NOW)
    support = browser("sup")
    page = support.get("/e2e/runs/run-waiting")
    assert page.status_code == 200 and "The page refreshes until the run ends." in page.text
    assert 'data-refresh="15"' in page.text and "/junit" not in page.text
    assert support.get("/e2e/runs/run-waiting/junit").status_code == 409
    assert "Запуск ещё не закончился" in support.get("/e2e/runs/run-waiting/report?lang=ru").text


def test_what_the_actions_add_is_all_russian_on_a_russian_page(
    browser: Any, world: Engine, app: FastAPI
) -> None:
    from tests.web.test_russian_complete import english_in

    support = browser("sup")
    support.get("/board?lang=ru")
    pieces: dict[str, str] = {}

    def part(name: str, page: Any, pattern: str) -> None:
        found = re.search(pattern, page.text, re.S)
        assert found, (name, pattern)
        pieces[name] = found.group(0)

    flash_of = r'<div class="flash.*?</div>'
    part("ack", support.post("/incidents/1/ack", {"back": "/board"}), flash_of)
    part("ack again", support.post("/incidents/1/ack", {"back": "/board"}), flash_of)
    part(
        "board incidents", support.get("/board"), r'<table class="cards" id="incidents">.*?</table>'
    )
    part("run now", support.post("/integrations/a/checks/run", {}), flash_of)
    part("declared", support.post("/integrations/a/maintenance", ACTIONS[1][1]), flash_of)
    refused = support.post("/integrations/a/maintenance", {"starts_at": "x", "ends_at": ""})
    part("refused form", refused, r'<section id="window-form">.*?</section>')
    part("cancelled", support.post("/integrations/a/maintenance/cli-1/end", {}), flash_of)
    part("unknown check", support.post("/integrations/a/checks/run", {"check": "x"}), flash_of)
    page = support.get("/integrations/a?window=planned")
    part("windows", page, r'<table class="cards" id="windows">.*?</table>')
    part("edit form", page, r'<section id="window-form">.*?</section>')
    part("trail", page, r'<table class="cards" id="actions">.*?</table>')
    ran = support.post("/integrations/s/scenarios/ping-flow/run", {})
    part("scenario", ran, flash_of)
    app.state.e2e_runs.join(timeout=30)
    pieces["run page"] = support.get(str(ran.url)).text
    pieces["forbidden"] = browser("ann").post("/integrations/a/checks/run?lang=ru", {}).text
    assert [name for name, text in pieces.items() if not re.search("[а-я]", text)] == []
    left = {name: english_in(text) for name, text in pieces.items()}
    assert {name: found for name, found in left.items() if found} == {}


def test_an_emergency_acknowledged_at_the_console_stops_escalating(
    browser: Any, world: Engine
) -> None:
    from alerts.escalation import escalate
    from core.vocabulary.outcomes import Outcome
    from integrations.registry import load_specs
    from tests.alerts.helpers import feed

    specs = {i: r.spec for i, r in load_specs(world).items()}
    for integration in ("a", "o"):  # both partners down: emergencies (connectivity)
        feed(world, specs, [Outcome.CONNECTION_REFUSED] * 3, start=10, integration=integration)
    with world.connect() as connection:
        down = dict(
            connection.execute(
                select(Incident.integration_id, Incident.id).where(
                    Incident.family == "connectivity"
                )
            ).all()
        )
    page = browser("sup").post(f"/incidents/{down['a']}/ack", {"back": "/board"})
    assert f"Incident #{down['a']} acknowledged" in flash(page)

    report = escalate(world, NOW + timedelta(hours=2))
    assert down["o"] in report.escalated and down["o"] in report.reminded
    assert down["a"] not in report.escalated and down["a"] not in report.reminded


def test_a_resolved_incident_is_not_acknowledged(browser: Any, world: Engine) -> None:
    from core.vocabulary.outcomes import Outcome
    from integrations.registry import load_specs
    from tests.alerts.helpers import feed

    specs = {i: r.spec for i, r in load_specs(world).items()}
    feed(world, specs, [Outcome.OK] * 5, start=3, integration="a")  # INC-000001 recovers
    support = browser("sup")
    assert 'action="/incidents/1/ack"' not in support.get("/integrations/a").text
    page = support.post("/incidents/1/ack", {"back": "/integrations/a"})
    assert flash(page) == "Acknowledging incident #1: refused — the incident has already resolved."
    assert acknowledged_by(world, 1) is None
