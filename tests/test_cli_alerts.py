"""`intmon incidents`, `intmon tickets` and `intmon maintenance` as a support engineer meets them.

The commands run through typer's CliRunner on a SQLite file in tmp_path;
incidents and tickets come from results fed by the alerts helpers, and the
CLI's clock (`core.db.utcnow`) is moved by the tests, never slept on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner, Result

from alerts import queries
from alerts.policy import Policy
from core import db
from core.settings import get_settings
from core.vocabulary.outcomes import Outcome
from intmon.cli import app
from intmon.migrations import upgrade
from tests.alerts.helpers import T0, feed, setup

runner = CliRunner()
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
SERVER, AUTH, OK = Outcome.SERVER_ERROR, Outcome.AUTH_FAILURE, Outcome.OK


class Clock:
    """What the CLI takes for now."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(T0 + HOUR)
    monkeypatch.setattr(db, "utcnow", clock)
    return clock


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: Clock) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("INTMON_DATABASE_URL", url)
    monkeypatch.delenv("INTMON_REDIS_URL", raising=False)
    get_settings.cache_clear()
    engine = db.make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()
    db.engine_for(url).dispose()
    get_settings.cache_clear()


def cli(*args: str, code: int = 0) -> Result:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.output
    return result


def as_json(*args: str) -> Any:
    return json.loads(cli(*args, "--json").stdout)


def refused(*args: str, message: str) -> None:
    """Exit 2 with one line on stderr that says why, and nothing on stdout."""
    result = cli(*args, code=2)
    assert message in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""


def incident_ticket(engine: Engine, *ids: str, **kwargs: str) -> None:
    """INC-000001: three server errors on `a` (minutes 0–2), its ticket opened at T0+2m."""
    specs = setup(engine, *(ids or ("a",)), **kwargs)
    feed(engine, specs, [SERVER] * 3)


def show(number: str = "1", *extra: str) -> dict[str, Any]:
    detail: dict[str, Any] = as_json("tickets", "show", number, *extra)
    return detail


def create(*extra: str, section: str = "app_help", topic: str = "How do I export?") -> str:
    result = as_json(
        "tickets", "create", "--client", "acme", "--section", section, "--topic", topic,
        "--body", "Where is the export button?", *extra,
    )  # fmt: skip
    number: str = result["number"]
    return number


# --- incidents ----------------------------------------------------------------------


def test_incidents_list_newest_first_with_filters(engine: Engine) -> None:
    specs = setup(engine, "a", "b")
    feed(engine, specs, [SERVER] * 3)
    feed(engine, specs, [AUTH] * 3 + [OK, OK], start=5, integration="b")

    rows = as_json("incidents", "list")
    assert [(r["integration_id"], r["family"], r["state"]) for r in rows] == [
        ("b", "auth", "resolved"),
        ("a", "server", "open"),
    ]
    b, a = rows
    assert (a["ticket"], b["ticket"]) == ("INC-000001", "INC-000002")
    assert a["opened_at"] == (T0 + 2 * MINUTE).isoformat() and a["resolved_at"] is None
    assert b["resolved_at"] == (T0 + 9 * MINUTE).isoformat()
    assert (a["failures"], a["last_outcome"], a["flapping"]) == (3, "server_error", False)

    assert [r["integration_id"] for r in as_json("incidents", "list", "--state", "open")] == ["a"]
    assert [r["state"] for r in as_json("incidents", "list", "-i", "b")] == ["resolved"]
    assert as_json("incidents", "list", "--integration", "nobody") == []

    table = cli("incidents", "list").stdout
    assert "INC-000001" in table and "INC-000002" in table and "server" in table
    refused("incidents", "list", "--state", "closed", message="state: unknown incident state")


# --- tickets: reading ---------------------------------------------------------------


def test_tickets_list_and_show_in_json_and_as_tables(engine: Engine, clock: Clock) -> None:
    incident_ticket(engine)
    (row,) = as_json("tickets", "list")
    assert (row["number"], row["status"], row["client"], row["integration_id"]) == (
        "INC-000001",
        "open",
        "acme",
        "a",
    )
    assert row["topic"] == "Partner API server errors" and row["origin"] == "incident"
    assert row["created_at"] == (T0 + 2 * MINUTE).isoformat()
    due = T0 + 2 * MINUTE + timedelta(hours=24)
    assert row["first_response_due_at"] == row["sla_due_at"] == due.isoformat()
    assert row["sla"] == "due"

    table = cli("tickets", "list").stdout
    assert "INC-000001" in table and "acme" in table and "due" in table

    detail = show("INC-000001")
    assert show("1") == detail == show("inc-1")
    assert {k: detail[k] for k in row} == row
    form = detail["form"]
    assert form["request"]["url"] == "http://127.0.0.1:9/health"
    assert form["steps_to_reproduce"][0].startswith("Run: curl")
    assert [h["action"] for h in detail["history"]] == ["created"]
    (incident,) = detail["incidents"]
    assert (incident["family"], incident["ticket"]) == ("server", "INC-000001")

    text = cli("tickets", "show", "1").stdout
    for expected in (
        "INC-000001",
        "Partner API server errors",
        "steps to reproduce",
        "GET http://127.0.0.1:9/health",
        "Authorization: [REDACTED]",  # printed as text, not eaten as rich markup
        "HTTP 503",
        '{"error": "nope"}',
        "Comments (0)",
        "History",
    ):
        assert expected in text, expected


def test_sla_state_is_derived_from_the_clock_and_maintenance(engine: Engine, clock: Clock) -> None:
    incident_ticket(engine)
    due = T0 + 2 * MINUTE + timedelta(hours=24)
    clock.now = due - MINUTE
    assert show()["sla"] == "due"
    clock.now = due  # the sweep has not run yet: still breached
    assert show()["sla"] == "breached"

    # Maintenance time does not count: a 2-hour window moves the deadline by 2 hours.
    opened = T0 + 2 * MINUTE
    cli(
        "maintenance",
        "add",
        "a",
        "--start",
        opened.isoformat(),
        "--end",
        (opened + 2 * HOUR).isoformat(),
    )
    detail = show()
    assert detail["sla_due_at"] == (due + 2 * HOUR).isoformat()
    assert detail["first_response_due_at"] == due.isoformat()
    assert detail["sla"] == "due"

    clock.now = due + 3 * HOUR
    cli("tickets", "comment", "1", "--body", "Sorry for the wait")
    assert show()["sla"] == "breached"  # answered, but late


def test_sla_met_and_not_applicable(engine: Engine, clock: Clock) -> None:
    incident_ticket(engine)
    cli("tickets", "set", "1", "--status", "in_progress")
    assert show()["sla"] == "met"
    number = create()
    cli("tickets", "set", number, "--status", "rejected", "--as", "system", "--reason", "spam")
    assert show(number)["sla"] == "n/a"
    assert show(number)["close_reason"] == "spam"


# --- tickets: writing ---------------------------------------------------------------


def test_comments_and_status_changes_show_in_the_ticket(engine: Engine, clock: Clock) -> None:
    incident_ticket(engine)
    result = cli(
        "tickets",
        "comment",
        "INC-000001",
        "--body",
        "Looking [bold]into[/bold] it",
        "--keep-working",
    )
    assert "comment" in result.stdout and "INC-000001" in result.stdout
    assert "(in_progress)" in result.stdout  # answered, and still support's to do
    clock.now += MINUTE
    cli(
        "tickets", "comment", "1", "--body", "Partner contact paged", "--internal", "--author", "bo"
    )
    clock.now += MINUTE
    cli("tickets", "set", "1", "--status", "waiting_for_reply", "--author", "anna")
    clock.now += MINUTE
    cli("tickets", "comment", "1", "--body", "It works now?", "--as", "client")

    detail = show()
    assert detail["status"] == "in_progress"  # the client's reply moved it back
    assert detail["first_responded_at"] == (T0 + HOUR).isoformat()
    said = [(c["author_kind"], c["author"], c["visibility"], c["body"]) for c in detail["comments"]]
    assert said == [
        ("support", "support", "public", "Looking [bold]into[/bold] it"),
        ("support", "bo", "internal", "Partner contact paged"),
        ("client", "acme", "public", "It works now?"),
    ]
    assert [(h["actor"], h["action"], h["old"], h["new"]) for h in detail["history"]] == [
        ("intmon", "created", None, "open"),
        ("support", "comment_public", None, "1"),
        ("support", "status", "open", "in_progress"),
        ("bo", "comment_internal", None, "2"),
        ("anna", "status", "in_progress", "waiting_for_reply"),
        ("acme", "comment_public", None, "3"),
        ("acme", "status", "waiting_for_reply", "in_progress"),
    ]

    public = show("1", "--public-only")
    assert [c["body"] for c in public["comments"]] == [
        "Looking [bold]into[/bold] it",
        "It works now?",
    ]
    assert "comment_internal" not in [h["action"] for h in public["history"]]

    text = cli("tickets", "show", "1").stdout
    assert "Looking [bold]into[/bold] it" in text and "internal" in text
    assert "waiting_for_reply" in text
    assert "Partner contact paged" not in cli("tickets", "show", "1", "--public-only").stdout


def test_a_forbidden_transition_exits_2_and_changes_nothing(engine: Engine) -> None:
    incident_ticket(engine)
    cli("tickets", "set", "1", "--status", "rejected", "--reason", "duplicate")
    refused(
        "tickets", "set", "1", "--status", "open",
        message="ticket INC-000001: cannot change status from rejected to open; "
        "allowed from rejected: none (it is final)",
    )  # fmt: skip
    refused("tickets", "set", "1", "--status", "done", message="status: unknown status 'done'")
    refused("tickets", "comment", "1", "--body", "hello?", message="is rejected")
    detail = show()
    assert detail["status"] == "rejected" and detail["close_reason"] == "duplicate"
    assert [h["action"] for h in detail["history"]] == ["created", "status"]


def test_bad_input_to_the_write_commands(engine: Engine) -> None:
    incident_ticket(engine)
    refused("tickets", "set", "1", message="give --status and/or --section")
    refused("tickets", "set", "1", "--subtype", "other", message="--subtype: only valid")
    refused("tickets", "set", "1", "--reason", "x", message="--reason: only valid")
    refused("tickets", "comment", "1", "--body", "  ", message="body: must not be empty")
    refused(
        "tickets", "comment", "1", "--body", "psst", "--as", "client", "--internal",
        message="visibility: a client's comment is always public",
    )  # fmt: skip
    assert cli("tickets", "comment", "1", "--body", "x", "--as", "robot", code=2).stdout == ""
    assert show()["comments"] == []


@pytest.mark.parametrize(
    "args",
    [
        ["tickets", "show", "INC-000099"],
        ["tickets", "show", "99", "--json"],
        ["tickets", "comment", "99", "--body", "hello"],
        ["tickets", "set", "INC-99", "--status", "closed"],
    ],
)
def test_an_unknown_ticket_exits_2(engine: Engine, args: list[str]) -> None:
    refused(*args, message="ticket INC-000099 not found")


def test_a_reference_that_is_no_number_is_not_found(engine: Engine) -> None:
    refused("tickets", "show", "ABC-1", message="ticket ABC-1 not found")


def test_the_section_changes_only_before_work_starts(engine: Engine, clock: Clock) -> None:
    setup(engine, "a")
    number = create()
    refused(
        "tickets", "set", number, "--section", "documents_finance",
        message="subtype: required for documents_finance: one of metric_billing, other",
    )  # fmt: skip
    refused(
        "tickets", "set", number, "--section", "app_help", "--subtype", "other",
        message="subtype: unknown subtype 'other'; app_help has no subtypes",
    )  # fmt: skip
    refused("tickets", "set", number, "--section", "billing", message="section: unknown section")
    cli("tickets", "set", number, "--section", "documents_finance", "--subtype", "metric_billing")
    detail = show(number)
    assert (detail["section"], detail["subtype"]) == ("documents_finance", "metric_billing")
    assert detail["history"][-1]["action"] == "section"
    assert (detail["history"][-1]["old"], detail["history"][-1]["new"]) == (
        "app_help",
        "documents_finance/metric_billing",
    )
    assert as_json("tickets", "list", "--section", "documents_finance")[0]["number"] == number
    assert as_json("tickets", "list", "--section", "system_errors") == []
    refused("tickets", "list", "--section", "misc", message="section: unknown section 'misc'")

    # Moving and taking it in hand in one command: the move comes first.
    cli("tickets", "set", number, "--section", "app_help", "--status", "in_progress")
    assert (show(number)["section"], show(number)["status"]) == ("app_help", "in_progress")
    refused(
        "tickets", "set", number, "--section", "system_errors",
        message="reason: required to change the section once work on the ticket started",
    )  # fmt: skip
    refused(
        "tickets", "set", number, "--section", "system_errors", "--as", "client",
        message=f"section: ticket {number} is already being worked on",
    )  # fmt: skip
    cli("tickets", "set", number, "--section", "system_errors", "--reason", "agreed")
    assert show(number)["section"] == "system_errors"

    # Answered counts as started too.
    other = create()
    cli("tickets", "comment", other, "--body", "Top right corner.")
    refused("tickets", "set", other, "--section", "system_errors", message="reason: required")


def test_a_social_ticket_stays_in_system_errors(engine: Engine) -> None:
    incident_ticket(engine, tier="social")
    assert show()["tier"] == "social"
    refused(
        "tickets", "set", "1", "--section", "app_help",
        message="section: the social tier is supported for system_errors only",
    )  # fmt: skip


def test_manual_tickets(engine: Engine, clock: Clock) -> None:
    setup(engine, "a", tier="premium")
    number = create()
    detail = show(number)
    assert (detail["origin"], detail["tier"], detail["integration_id"]) == (
        "manual",
        "standard",
        None,
    )
    assert detail["form"] == {"account": "acme", "description": "Where is the export button?"}
    assert detail["first_response_due_at"] == (clock.now + timedelta(hours=24)).isoformat()
    assert detail["history"][0]["actor_kind"] == "support"

    # With an integration the tier is the integration's, unless given.
    premium = show(create("--integration", "a"))
    assert (premium["tier"], premium["integration_id"]) == ("premium", "a")
    assert premium["first_response_due_at"] == (clock.now + 3 * HOUR).isoformat()
    assert premium["form"]["integration_id"] == "a"
    assert show(create("-i", "a", "--tier", "standard"))["tier"] == "standard"

    filed = cli(
        "tickets", "create", "--client", "acme", "--section", "documents_finance",
        "--subtype", "other", "--topic", "Invoice", "--body", "Need a copy", "--as", "client",
    ).stdout  # fmt: skip
    assert "created INC-000004" in filed
    assert show("4")["history"][0]["actor"] == "acme"


def test_manual_ticket_refusals(engine: Engine) -> None:
    setup(engine, "a")
    refused(
        *("tickets", "create", "--client", "acme", "--section", "app_help"),
        *("--topic", "Export?", "--body", "Where?", "--tier", "social"),
        message="section: the social tier is supported for system_errors only (seed 003)",
    )
    social = create("--tier", "social", section="system_errors", topic="500 on orders")
    assert show(social)["tier"] == "social"

    base = ("tickets", "create", "--section", "app_help", "--topic", "T", "--body", "B")
    refused(*base, "--client", "acme", "-i", "zzz", message="integration 'zzz' is not registered")
    refused(*base, "--client", "initech", "-i", "a", message="belongs to client 'acme'")
    refused(*base, "--client", "acme", "--subtype", "other", message="subtype: unknown subtype")
    refused(
        "tickets", "create", "--client", "acme", "--section", "app_help", "--topic", " ",
        "--body", "B", message="topic: must not be empty",
    )  # fmt: skip
    refused(
        "tickets", "create", "--client", "acme", "--section", "app_help", "--topic", "T",
        "--body", "", message="body: must not be empty",
    )  # fmt: skip
    assert cli(*base, "--client", "acme", "--tier", "gold", code=2).stdout == ""
    assert [t["number"] for t in as_json("tickets", "list")] == [social]


def test_the_queue_is_earliest_deadline_then_first_in(engine: Engine, clock: Clock) -> None:
    """Seed 003: first in, first out, but premium's 3-hour clock runs out sooner."""
    setup(engine, "a")
    clock.now = T0
    first = create()  # standard, due T0+24h
    clock.now = T0 + 30 * MINUTE
    second = create()  # standard, due T0+24h30m
    clock.now = T0 + HOUR
    premium = create("--tier", "premium")  # created last, due T0+4h
    clock.now = T0 + 2 * HOUR
    done_early = create()
    cli("tickets", "set", done_early, "--status", "closed")
    clock.now = T0 + 3 * HOUR
    done_late = create()
    cli("tickets", "set", done_late, "--status", "rejected")

    queue = [t["number"] for t in as_json("tickets", "list")]
    assert queue == [premium, first, second, done_late, done_early]
    assert [t["number"] for t in as_json("tickets", "list", "--status", "open")] == [
        premium,
        first,
        second,
    ]
    table = cli("tickets", "list").stdout
    positions = [table.index(number) for number in queue]
    assert positions == sorted(positions)


def test_ticket_list_filters(engine: Engine) -> None:
    incident_ticket(engine, "a", "b")
    create()
    assert [t["number"] for t in as_json("tickets", "list", "-i", "a")] == ["INC-000001"]
    assert len(as_json("tickets", "list", "--client", "acme")) == 2
    assert as_json("tickets", "list", "--client", "initech") == []
    assert [t["number"] for t in as_json("tickets", "list", "--section", "app_help")] == [
        "INC-000002"
    ]
    refused("tickets", "list", "--status", "pending", message="status: unknown status 'pending'")


def test_the_queue_order_on_both_backends(db_engine: Engine) -> None:
    """The ORDER BY of `list_tickets` is plain SQL; PostgreSQL must agree with SQLite."""
    specs = setup(db_engine, "a", "b", "c")
    feed(db_engine, specs, [SERVER] * 3, integration="a")
    feed(db_engine, specs, [AUTH] * 3, integration="b", start=1)
    feed(db_engine, specs, [AUTH] * 3 + [OK, OK], integration="c", start=2)  # closed: recovered
    policy = Policy(sla_standard_s=3600)
    views = queries.list_tickets(db_engine, policy=policy, now=T0 + 10 * MINUTE)
    assert [(v.integration_id, v.status, v.sla) for v in views] == [
        ("a", "open", "due"),
        ("b", "open", "due"),
        ("c", "closed", "n/a"),
    ]
    late = queries.list_tickets(db_engine, status="open", now=T0 + 2 * timedelta(days=1))
    assert [v.sla for v in late] == ["breached", "breached"]
    since = queries.list_tickets(db_engine, created_from=T0 + 3 * MINUTE)
    assert [v.integration_id for v in since] == ["b", "c"]
    until = queries.list_tickets(db_engine, created_to=T0 + 3 * MINUTE)
    assert [v.integration_id for v in until] == ["a"]


# --- maintenance --------------------------------------------------------------------

NIGHTLY = """\
    maintenance:
      - {id: nightly, cron: "0 3 * * *", duration_minutes: 60, reason: backups}
"""


def windows(*args: str) -> dict[str, dict[str, Any]]:
    return {w["name"]: w for w in as_json("maintenance", "list", *args)}


def test_maintenance_windows_of_three_shapes(engine: Engine, clock: Clock) -> None:
    setup(engine, "a", "b", extra=NIGHTLY)
    now = clock.now  # Monday 2026-11-23 13:00 UTC
    cli(
        "maintenance", "add", "a", "--start", (now - HOUR).isoformat(),
        "--end", (now + HOUR).isoformat(), "--reason", "database upgrade",
    )  # fmt: skip
    weekly = cli(
        "maintenance", "add", "a", "--weekly", "mon,TUE", "--from-time", "02:00",
        "--to-time", "04:00", "--timezone", "Europe/Moscow", "--id", "weekly-reindex",
    ).stdout  # fmt: skip
    assert "added window weekly-reindex" in weekly
    cron = as_json("maintenance", "add", "a", "--cron", "0 2 * * sun", "--duration-minutes", "120")
    assert (cron["name"], cron["source"]) == ("cli-2", "cli")

    listed = windows("a")
    assert list(listed) == ["cli-1", "cli-2", "nightly", "weekly-reindex"]
    once = listed["cli-1"]
    assert (once["source"], once["active"], once["reason"]) == ("cli", True, "database upgrade")
    assert once["active_until"] == (now + HOUR).isoformat()
    assert once["description"] == "once 2026-11-23 12:00–14:00 UTC"
    reindex = listed["weekly-reindex"]
    assert reindex["description"] == "weekly mon,tue 02:00–04:00 Europe/Moscow"
    # Tuesday 02:00 in Moscow is Monday 23:00 UTC.
    assert (reindex["active"], reindex["next_start"]) == (False, "2026-11-23T23:00:00+00:00")
    assert listed["cli-2"]["next_start"] == "2026-11-29T02:00:00+00:00"
    assert listed["cli-2"]["description"] == "cron '0 2 * * sun' for 120 min UTC"
    config = listed["nightly"]
    assert (config["source"], config["reason"]) == ("config", "backups")
    assert config["next_start"] == "2026-11-24T03:00:00+00:00"

    everything = as_json("maintenance", "list")
    assert {w["integration"] for w in everything} == {"a", "b"}
    table = cli("maintenance", "list", "a").stdout
    assert "weekly-reindex" in table and "config" in table and "active" in table

    cli("maintenance", "remove", "a", "cli-1")
    cli("maintenance", "remove", "a", "weekly-reindex")
    assert list(windows("a")) == ["cli-2", "nightly"]


def test_maintenance_refusals(engine: Engine) -> None:
    setup(engine, "a", extra=NIGHTLY)
    add = ("maintenance", "add", "a")
    refused(
        "maintenance", "add", "nobody", "--cron", "0 2 * * sun", "--duration-minutes", "60",
        message="integration 'nobody' is not registered",
    )  # fmt: skip
    refused(
        *add, "--cron", "0 2 * *", "--duration-minutes", "60",
        message="--cron: '0 2 * *' is not a five-field cron expression",
    )  # fmt: skip
    refused(*add, "--cron", "0 0 30 2 *", "--duration-minutes", "60", message="never fires")
    refused(*add, "--cron", "0 2 * * sun", message="--duration-minutes: required when --cron")
    refused(*add, "--end", "2026-11-23T12:00:00+00:00", message="--end: only valid together")
    refused(*add, "--start", "2026-11-23T12:00:00", "--end", "2026-11-23T13:00:00",
            message="--start: has no UTC offset")  # fmt: skip
    refused(
        *add, "--start", "2026-11-23T13:00:00+00:00", "--end", "2026-11-23T12:00:00+00:00",
        message="--end: must be later than --start",
    )  # fmt: skip
    refused(*add, "--weekly", "mon", "--from-time", "02:00", "--to-time", "25:00",
            message="--to-time: '25:00'")  # fmt: skip
    refused(*add, "--weekly", "someday", "--from-time", "02:00", "--to-time", "03:00",
            message="--weekly:")  # fmt: skip
    # The names before: still understood, with a warning that says the new ones.
    old = cli("maintenance", "add", "a", "--weekly", "sat", "--from", "01:00", "--to", "02:00",
              "--id", "old-names")  # fmt: skip
    assert "added window" in old.stdout and "--from-time/--to-time" in old.stderr
    cli("maintenance", "remove", "a", "old-names")
    refused(*add, "--cron", "0 2 * * *", "--duration-minutes", "60", "--timezone", "Mars/Base",
            message="--timezone: unknown time zone 'Mars/Base'")  # fmt: skip
    refused(*add, message="give exactly one of")
    refused(
        *add, "--cron", "0 2 * * *", "--duration-minutes", "60", "--weekly", "mon",
        message="give exactly one of",
    )  # fmt: skip
    refused(
        *add, "--cron", "0 2 * * *", "--duration-minutes", "60", "--id", "nightly",
        message="--id: a already has a window named 'nightly'",
    )  # fmt: skip
    refused(
        "maintenance", "remove", "a", "nightly",
        message="window 'nightly' of a is declared in the integrations file",
    )  # fmt: skip
    refused("maintenance", "remove", "a", "cli-9", message="a has no maintenance window named")
    refused("maintenance", "list", "nobody", message="integration 'nobody' is not registered")
    assert list(windows("a")) == ["nightly"]


def test_incidents_ack_stops_escalation_and_names_unknown_ids(engine: Engine) -> None:
    from alerts.models import Incident

    specs = setup(engine, "a")
    feed(engine, specs, [Outcome.CONNECTION_REFUSED] * 3)
    cli("incidents", "ack", "1", "--author", "olga")
    with engine.connect() as c:
        row = c.execute(select(Incident.acknowledged_by, Incident.acknowledged_at)).one()
    assert row.acknowledged_by == "olga" and row.acknowledged_at is not None
    missing = cli("incidents", "ack", "99", code=2)
    assert "incident 99 not found" in missing.stderr


# --- incidents: what changed in the partner's answer ---------------------------------


def changed_contract_incident(engine: Engine) -> None:
    """INC-000001: a passing answer {"status", "id": number} at minute 0, then three
    contract violations {"state", "id": string} from minute 1: a contract incident."""
    from dataclasses import replace

    from alerts.intake import ingest
    from core.vocabulary.shapes import shape_of
    from tests.alerts.helpers import result

    json_type = {"Content-Type": "application/json"}
    specs = setup(engine, "a")
    passing = shape_of(200, json_type, b'{"status": "ok", "id": 1}')
    failing = shape_of(200, json_type, b'{"state": "ok", "id": "1"}')
    for minute, (outcome, shape) in enumerate([(OK, passing)] + [(CONTRACT, failing)] * 3):
        done = result(outcome, minute)
        ingest(engine, [replace(done, shape=shape)], specs, Policy(), now=done.started_at)


CONTRACT = Outcome.CONTRACT_VIOLATION
CHANGES = ["`$.status` removed", "`$.state` added", "`$.id` number → string"]


def test_incidents_show_lists_what_changed_since_the_check_last_passed(engine: Engine) -> None:
    changed_contract_incident(engine)
    shown = as_json("incidents", "show", "1")
    assert (shown["family"], shown["ticket"]) == ("contract", "INC-000001")
    assert shown["contract_changes"] == CHANGES
    assert shown["last_passing_at"] == T0.isoformat()

    text = cli("incidents", "show", "1").stdout
    assert "Changed since the contract last passed" in text
    assert all(line in text for line in CHANGES)
    refused("incidents", "show", "9", message="incident 9 not found")


def test_the_ticket_form_and_its_notification_say_what_changed(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alerts import notify
    from alerts.render import render

    queued: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(notify, "queue", lambda _c, event, **kw: queued.append((event, kw)))
    changed_contract_incident(engine)
    form = show()["form"]
    assert form["contract_changes"] == CHANGES
    assert form["last_passed_at"] == T0.isoformat()
    text = cli("tickets", "show", "INC-000001").stdout
    assert "contract changes:" in text and "`$.id` number → string" in text

    (context,) = [kw["context"] for event, kw in queued if event == "incident.opened"]
    assert context["changes"] == ", ".join(CHANGES)
    for locale, label in (("en", "Changed:"), ("ru", "Изменилось:")):
        message = render("incident.opened", locale, context)
        assert label in message.text
        assert "`$.state` added" in message.text and "`$.state` added" in message.html


def test_a_returning_change_is_told_on_the_reopened_ticket(engine: Engine) -> None:
    from dataclasses import replace

    from alerts.intake import ingest
    from core.vocabulary.shapes import shape_of
    from tests.alerts.helpers import result

    changed_contract_incident(engine)  # minutes 0–3
    specs = setup(engine, "a")
    json_type = {"Content-Type": "application/json"}
    passing = shape_of(200, json_type, b'{"status": "ok", "id": 1}')
    failing = shape_of(200, json_type, b'{"status": "ok"}')  # now `$.id` goes missing
    runs = [(OK, passing)] * 2 + [(CONTRACT, failing)] * 3
    for minute, (outcome, shape) in enumerate(runs, start=4):
        done = result(outcome, minute)
        ingest(engine, [replace(done, shape=shape)], specs, Policy(), now=done.started_at)
    bodies = [c["body"] for c in show()["comments"]]
    assert any(
        b.startswith("Reopened") and "Changed since the check last passed: `$.id` removed." in b
        for b in bodies
    ), bodies
