"""`intmon contacts list`, `intmon notifications list` and `intmon notify test` as support
meets them: typer's CliRunner on a SQLite file in tmp_path, the configuration applied
with `intmon apply`, incidents fed by the alerts helpers, and a real SMTP server
(aiosmtpd) on 127.0.0.1. No secret appears in any output of any command.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from alerts import documents
from alerts.contacts import ContactSpec
from alerts.housekeeping import housekeep
from alerts.notify import _recipient as notify_recipient
from alerts.policy import Policy
from core import db, outbox
from core.settings import get_settings
from core.vocabulary.outcomes import Outcome
from integrations.config import IntegrationSpec
from integrations.registry import load_specs
from intmon.cli import app, notify_commands
from intmon.migrations import upgrade
from tests.alerts.helpers import feed
from tests.alerts.test_channels import (  # noqa: F401  (smtp_server is a fixture)
    PASSWORD,
    SmtpServer,
    free_port,
    smtp_server,
)

runner = CliRunner()
MINUTE = timedelta(minutes=1)
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # Monday, 15:00 in Moscow
SATURDAY = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
MONDAY_NINE_MOSCOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)

PARTNER_TOKEN = "partner-token-S3CRET-42"
SLACK_URL = "https://hooks.slack.com/services/T0001/B0001/slack-S3CRET-77"
WEBHOOK_SECRET = "hook-path-S3CRET-13"
WRONG_PASSWORD = "wrong-smtp-S3CRET-99"
SECRETS = (PARTNER_TOKEN, SLACK_URL, "slack-S3CRET-77", WEBHOOK_SECRET, PASSWORD, WRONG_PASSWORD)

WORKDAYS = '{weekly: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "18:00"}], ' + (
    "timezone: Europe/Moscow}"
)


def config(port: int) -> str:
    """Client acme with integrations a (production) and b; e-mail is the only channel."""
    return f"""version: 1
channels:
  email:
    host: 127.0.0.1
    port: {port}
    from_address: intmon@example.com
    username: intmon
    password: "${{SMTP_PASSWORD}}"
clients:
  acme:
    contacts:
      - {{name: Acme Support, email: support@acme.example, roles: [operational_public], locale: ru}}
      - name: Acme Slack
        slack_webhook_url: "${{ACME_SLACK_URL}}"
        roles: [operational_internal]
      - {{name: Duty Desk, email: desk@acme.example, roles: [merchant], escalation_level: 2}}
integrations:
  - id: a
    name: ACME Broker
    kind: broker
    client: acme
    base_url: http://127.0.0.1:9
    auth: {{type: bearer, token: "${{PARTNER_TOKEN}}"}}
    interval_s: 60
    production: true
    checks: [{{name: health, path: /health}}]
    contacts:
      - {{name: Olga Oncall, email: oncall@broker.example, roles: [alert, technical_emergency]}}
      - name: Nina Dev
        email: dev@broker.example
        roles: [technical_non_emergency]
        locale: ru
        hours: {WORKDAYS}
      - name: Eve Escalation
        email: eve@broker.example
        webhook_url: https://hooks.broker.example/intmon/{WEBHOOK_SECRET}?key={WEBHOOK_SECRET}
        roles: [technical_emergency]
        escalation_level: 2
  - id: b
    name: Beta Shop
    kind: shop
    client: acme
    base_url: http://127.0.0.1:9
    interval_s: 60
    checks: [{{name: health, path: /health}}]
    contacts:
      - name: Nina Dev
        email: dev@broker.example
        roles: [technical_non_emergency]
        locale: ru
        hours: {WORKDAYS}
      - {{name: duty desk, email: desk@beta.example, roles: [alert]}}
"""


class Clock:
    """What the CLI takes for now."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("INTMON_DATABASE_URL", url)
    monkeypatch.delenv("INTMON_REDIS_URL", raising=False)
    # Tables wide enough to read whole cells, whatever COLUMNS the run started with.
    monkeypatch.setattr(notify_commands, "console", Console(width=250))
    monkeypatch.setenv("PARTNER_TOKEN", PARTNER_TOKEN)
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("ACME_SLACK_URL", SLACK_URL)
    get_settings.cache_clear()
    engine = db.make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()
    db.engine_for(url).dispose()
    get_settings.cache_clear()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(T0)
    monkeypatch.setattr(db, "utcnow", clock)
    return clock


@pytest.fixture
def server(smtp_server: Callable[..., SmtpServer]) -> SmtpServer:  # noqa: F811
    return smtp_server()


def cli(*args: str, code: int = 0) -> Result:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    for text in (result.stdout, result.stderr):
        assert "Traceback" not in text
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked: {text}"
    return result


def as_json(*args: str, code: int = 0) -> Any:
    return json.loads(cli(*args, "--json", code=code).stdout)


def refused(*args: str, message: str) -> None:
    """Exit 2 with one line on stderr that says why, and nothing on stdout."""
    result = cli(*args, code=2)
    assert message in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""


def apply(tmp_path: Path, port: int) -> dict[str, IntegrationSpec]:
    path = tmp_path / "intmon.yaml"
    path.write_text(config(port))
    cli("apply", str(path))
    engine = db.engine_for(get_settings().database_url)
    return {i: r.spec for i, r in load_specs(engine).items()}


def subjects(server: SmtpServer) -> dict[str, list[str]]:
    """Recipient → subjects received."""
    out: dict[str, list[str]] = {}
    for delivered in server.mailbox.delivered:
        for rcpt in delivered.rcpt_tos:
            out.setdefault(rcpt, []).append(str(delivered.message["Subject"]))
    return out


# --- contacts list --------------------------------------------------------------------


def test_contacts_list_shows_every_contact_without_secrets(
    engine: Engine, tmp_path: Path, server: SmtpServer
) -> None:
    """At the real current time: open/closed is not asserted, only that it is consistent."""
    apply(tmp_path, server.port)
    report = as_json("contacts", "list")
    contacts = report["contacts"]
    assert [(c["source"], c["name"]) for c in contacts] == [
        ("client acme", "Acme Support"),
        ("client acme", "Acme Slack"),
        ("client acme", "Duty Desk"),
        ("integration a", "Olga Oncall"),
        ("integration a", "Nina Dev"),
        ("integration a", "Eve Escalation"),
        ("integration b", "Nina Dev"),
        ("integration b", "duty desk"),
    ]
    by_name = {(c["integration_id"], c["name"]): c for c in contacts}
    nina = by_name[("a", "Nina Dev")]
    assert nina["roles"] == ["technical_non_emergency"]
    assert nina["channels"] == [
        {"channel": "email", "address": "dev@broker.example", "configured": True}
    ]
    assert (nina["locale"], nina["timezone"], nina["escalation_level"]) == (
        "ru",
        "Europe/Moscow",
        1,
    )
    assert nina["hours"] == "mon–fri 09:00–18:00 Europe/Moscow"
    assert isinstance(nina["open_now"], bool)
    assert (nina["next_open"] is None) == nina["open_now"]

    olga = by_name[("a", "Olga Oncall")]
    assert (olga["hours"], olga["open_now"], olga["next_open"]) == (None, True, None)
    assert olga["roles"] == ["alert", "technical_emergency"]

    eve = by_name[("a", "Eve Escalation")]
    assert eve["escalation_level"] == 2
    assert eve["channels"] == [
        {"channel": "email", "address": "eve@broker.example", "configured": True},
        {"channel": "webhook", "address": "hooks.broker.example", "configured": False},
    ]
    slack = by_name[(None, "Acme Slack")]
    assert slack["channels"] == [{"channel": "slack", "address": None, "configured": False}]
    assert by_name[(None, "Acme Support")]["client"] == "acme"

    assert report["required_roles"] == ["alert", "technical_emergency", "technical_non_emergency"]
    assert report["production_coverage"] == [
        {"integration_id": "a", "client": "acme", "missing_roles": []}
    ]

    table = cli("contacts", "list").stdout
    for shown in (
        "integration a",
        "Nina Dev",
        "mon–fri 09:00–18:00 Europe/Moscow",
        "webhook hooks.broker.example (channels.webhook not configured)",
        "slack (channels.slack not configured)",
        "email oncall@broker.example",
        "any time",
        "Production coverage (required roles: alert, technical_emergency, technical_non_emergency)",
        "none",
    ):
        assert shown in table, shown
    assert "open now" in table or "closed" in table


def test_contacts_list_filters_and_coverage_gaps(
    engine: Engine, tmp_path: Path, server: SmtpServer
) -> None:
    apply(tmp_path, server.port)

    def names(*args: str) -> list[tuple[str, str]]:
        return [(c["source"], c["name"]) for c in as_json("contacts", "list", *args)["contacts"]]

    # Who is told about b: its own contacts and its client's; b is not in production.
    assert names("--integration", "b") == [
        ("client acme", "Acme Support"),
        ("client acme", "Acme Slack"),
        ("client acme", "Duty Desk"),
        ("integration b", "Nina Dev"),
        ("integration b", "duty desk"),
    ]
    assert as_json("contacts", "list", "-i", "b")["production_coverage"] == []
    assert len(names("--client", "acme")) == 8
    refused("contacts", "list", "-i", "zzz", message="integration 'zzz' is not registered")
    refused("contacts", "list", "--client", "initech", message="client 'initech' has no contacts")
    refused(
        "contacts", "list", "--client", "initech", "-i", "a",
        message="integration 'a' belongs to client 'acme'",
    )  # fmt: skip

    # A required role added after the file was validated shows as a gap (merchant is
    # held only at escalation level 2, which does not count).
    with engine.begin() as connection:
        required = ["alert", "technical_emergency", "technical_non_emergency", "merchant"]
        documents.store(connection, {documents.NOTIFICATIONS: {"required_roles": required}}, T0)
    coverage = as_json("contacts", "list")["production_coverage"]
    assert coverage == [{"integration_id": "a", "client": "acme", "missing_roles": ["merchant"]}]
    assert "merchant" in cli("contacts", "list", "-i", "a").stdout


# --- notifications list ---------------------------------------------------------------


def rows(*args: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = as_json("notifications", "list", *args)
    return found


def test_queued_notifications_are_pending_then_sent(
    engine: Engine, tmp_path: Path, server: SmtpServer, clock: Clock
) -> None:
    specs = apply(tmp_path, server.port)
    feed(engine, specs, [Outcome.CONNECTION_REFUSED] * 3)  # incident and ticket at T0+2m
    clock.now = T0 + 3 * MINUTE
    queued = rows()
    assert [r["id"] for r in queued] == sorted((r["id"] for r in queued), reverse=True)
    assert {(r["recipient"], r["address"], r["event"], r["status"]) for r in queued} == {
        ("Olga Oncall", "oncall@broker.example", "incident.opened", "pending"),
        ("Acme Support", "support@acme.example", "ticket.opened", "pending"),
    }
    olga = next(r for r in queued if r["recipient"] == "Olga Oncall")
    assert (olga["channel"], olga["ticket"], olga["integration_id"]) == ("email", "INC-000001", "a")
    assert (olga["attempts"], olga["sent_at"], olga["last_error"]) == (0, None, None)
    assert olga["available_at"] == (T0 + 2 * MINUTE).isoformat()
    assert olga["reason"] == "roles alert, technical_emergency; emergency, sent at any hour"
    assert rows("--status", "held") == [] and len(rows("--status", "pending")) == 2
    assert len(rows("--limit", "1")) == 1

    table = cli("notifications", "list").stdout
    assert "pending" in table and "oncall@broker.example" in table and "INC-000001" in table

    report = housekeep(engine, Policy(), T0 + 3 * MINUTE, sync=False)
    assert report.notified.sent == 2
    sent = rows()
    assert {(r["recipient"], r["status"], r["attempts"]) for r in sent} == {
        ("Olga Oncall", "sent", 1),
        ("Acme Support", "sent", 1),
    }
    assert all(r["sent_at"] == (T0 + 3 * MINUTE).isoformat() for r in sent)
    assert rows("--status", "pending") == [] and len(rows("--status", "sent")) == 2
    assert "sent 2026-11-23 12:03" in cli("notifications", "list", "--status", "sent").stdout


def test_a_non_emergency_outside_hours_is_held(
    engine: Engine, tmp_path: Path, server: SmtpServer, clock: Clock
) -> None:
    specs = apply(tmp_path, server.port)
    start = (SATURDAY - T0) / MINUTE
    feed(engine, specs, [Outcome.AUTH_FAILURE] * 3, start=start)  # opened Saturday 12:02 UTC
    clock.now = SATURDAY + 3 * MINUTE
    (held,) = rows("--status", "held")
    assert (held["recipient"], held["event"], held["status"]) == (
        "Nina Dev",
        "incident.opened",
        "held",
    )
    assert held["available_at"] == MONDAY_NINE_MOSCOW.isoformat()
    assert held["reason"] == (
        "role technical_non_emergency; outside support hours, "
        "held until Mon 2026-11-30 09:00 Europe/Moscow"
    )
    table = cli("notifications", "list", "--status", "held").stdout
    assert "held until 2026-11-30 06:00" in table and "Nina Dev" in table

    housekeep(engine, Policy(), SATURDAY + 3 * MINUTE, sync=False)
    assert {r["recipient"]: r["status"] for r in rows()} == {
        "Olga Oncall": "sent",
        "Acme Support": "sent",
        "Nina Dev": "held",
    }
    clock.now = MONDAY_NINE_MOSCOW
    assert [r["recipient"] for r in rows("--status", "pending")] == ["Nina Dev"]
    housekeep(engine, Policy(), MONDAY_NINE_MOSCOW, sync=False)
    assert [r["recipient"] for r in rows("--status", "sent")].count("Nina Dev") == 1
    assert "dev@broker.example" in subjects(server)


def test_a_refused_recipient_is_dead_with_its_error(
    engine: Engine, tmp_path: Path, server: SmtpServer, clock: Clock
) -> None:
    specs = apply(tmp_path, server.port)
    feed(engine, specs, [Outcome.CONNECTION_REFUSED] * 3)
    server.mailbox.rcpt_replies.append("550 5.1.1 mailbox unavailable")
    clock.now = T0 + 3 * MINUTE
    housekeep(engine, Policy(), clock.now, sync=False)
    (dead,) = rows("--status", "dead")
    assert "550 5.1.1 mailbox unavailable" in dead["last_error"]
    assert dead["dead_at"] == clock.now.isoformat() and dead["sent_at"] is None
    assert len(rows("--status", "sent")) == 1
    table = cli("notifications", "list", "--status", "dead").stdout
    assert "dead 2026-11-23 12:03" in table and "550 5.1.1 mailbox unavailable" in table


def test_rows_for_slack_and_webhook_show_no_secret(
    engine: Engine, tmp_path: Path, server: SmtpServer, clock: Clock
) -> None:
    """The Slack URL is stored as its ${ENV} reference and shown as such, never resolved;
    a webhook is shown by its host (its path and query may carry a token)."""
    apply(tmp_path, server.port)
    contact = ContactSpec(
        name="Hooks",
        slack_webhook_url="${ACME_SLACK_URL}",
        webhook_url=f"https://hooks.broker.example/in/{WEBHOOK_SECRET}?key={WEBHOOK_SECRET}",
        roles=["alert"],
    )
    with engine.begin() as connection:
        for channel in ("slack", "webhook"):
            outbox.enqueue(
                connection,
                target=f"notify:{channel}",
                kind="incident.opened",
                aggregate=f"notice:{channel}",
                payload={
                    "recipient": notify_recipient(contact),
                    "event": "incident.opened",
                    "context": {"ticket": 7, "integration_id": "a"},
                    "reason": "role alert; emergency, sent at any hour",
                },
                now=T0,
            )
    assert [(r["channel"], r["address"], r["ticket"]) for r in rows()] == [
        ("webhook", "hooks.broker.example", "INC-000007"),
        ("slack", "${ACME_SLACK_URL}", "INC-000007"),
    ]
    assert "${ACME_SLACK_URL}" in cli("notifications", "list").stdout


def test_notifications_list_refusals(engine: Engine, tmp_path: Path, server: SmtpServer) -> None:
    apply(tmp_path, server.port)
    assert rows() == []
    refused("notifications", "list", "--limit", "0", message="limit: must be at least 1")
    assert cli("notifications", "list", "--status", "lost", code=2).stdout == ""


# --- notify test ----------------------------------------------------------------------


def test_notify_test_delivers_in_the_contacts_locale(
    engine: Engine, tmp_path: Path, server: SmtpServer
) -> None:
    apply(tmp_path, server.port)
    text = cli("notify", "test", "olga ONCALL").stdout
    assert "Olga Oncall (integration a)" in text and "sent" in text
    (delivered,) = server.mailbox.delivered
    assert delivered.rcpt_tos == ["oncall@broker.example"]
    assert delivered.authenticated
    message = delivered.message
    assert message["Subject"] == "[intmon] Test notification for Olga Oncall"
    assert "Olga Oncall" in str(message["To"])
    plain = message.get_body(("plain",))
    assert plain is not None
    body = plain.get_content()
    assert "intmon notify test" in body and "ACME Broker (a)" in body
    first_id = str(message["Message-ID"])
    assert first_id.startswith("<notify-test-") and first_id.endswith("@intmon>")

    # A contact listed in two places with the same addresses is one contact; Russian.
    result = as_json("notify", "test", "nina dev", "--channel", "email")
    assert (result["contact"], result["locale"]) == ("Nina Dev", "ru")
    assert result["results"] == [
        {"channel": "email", "address": "dev@broker.example", "sent": True, "error": None}
    ]
    assert result["subject"] == "[intmon] Тестовое уведомление для Nina Dev"
    assert subjects(server)["dev@broker.example"] == [result["subject"]]
    # Every invocation has a fresh idempotency key.
    assert result["idempotency_key"].startswith("notify-test-")
    assert str(server.mailbox.delivered[-1].message["Message-ID"]) != first_id


def test_notify_test_refusals(engine: Engine, tmp_path: Path, server: SmtpServer) -> None:
    apply(tmp_path, server.port)
    refused("notify", "test", "Nobody", message="no contact named 'Nobody'")
    refused(
        "notify", "test", "Duty Desk",
        message="contact name 'Duty Desk' matches 2 contacts: Duty Desk (client acme: "
        "email desk@acme.example); duty desk (integration b: email desk@beta.example)",
    )  # fmt: skip
    refused(
        "notify", "test", "Acme Slack",
        message="slack: not configured (the applied file has no channels.slack block)",
    )  # fmt: skip
    refused(
        "notify", "test", "Eve Escalation",
        message="webhook: not configured (the applied file has no channels.webhook block); "
        "test the others with --channel email",
    )  # fmt: skip
    refused(
        "notify", "test", "Eve Escalation", "--channel", "webhook",
        message="channels.webhook block",
    )  # fmt: skip
    refused(
        "notify", "test", "Olga Oncall", "--channel", "telegram",
        message="--channel: Olga Oncall has no telegram address; reachable on email",
    )  # fmt: skip
    assert server.mailbox.delivered == []
    # Narrowed to a configured channel, the same contact is reachable.
    assert as_json("notify", "test", "Eve Escalation", "--channel", "email")["results"][0]["sent"]


def test_notify_test_with_smtp_down_exits_1_with_the_error(engine: Engine, tmp_path: Path) -> None:
    apply(tmp_path, free_port())  # nothing listens there
    result = cli("notify", "test", "Olga Oncall", code=1)
    assert "email channel, recipient 'Olga Oncall': 127.0.0.1:" in result.stdout
    assert "ConnectionRefusedError" in result.stdout
    detail = as_json("notify", "test", "Olga Oncall", code=1)
    (failed,) = detail["results"]
    assert failed["sent"] is False and "Connection refused" in failed["error"]


def test_a_refused_smtp_password_is_not_shown(
    engine: Engine, tmp_path: Path, server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(tmp_path, server.port)
    monkeypatch.setenv("SMTP_PASSWORD", WRONG_PASSWORD)  # the test server echoes it back
    result = cli("notify", "test", "Olga Oncall", code=1)
    assert "535" in result.stdout
    assert server.mailbox.delivered == []
