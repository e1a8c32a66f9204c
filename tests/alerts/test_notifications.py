"""Notifications end to end: incidents and tickets → routing → outbox → a real SMTP
server (aiosmtpd) on 127.0.0.1; held until support hours, retried when the server
is down, one Message-ID after a dispatcher died mid-send, no secret in any byte."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from alerts.deliver import deliver
from alerts.housekeeping import housekeep, open_channels
from alerts.policy import Policy
from core import outbox
from core.vocabulary.outcomes import Outcome
from integrations.errors import ConfigError
from integrations.registry import load_specs
from intmon.config_file import apply_config, load_config_text
from tests.alerts.helpers import feed
from tests.alerts.test_channels import (  # noqa: F401  (fixtures)
    SmtpServer,
    free_port,
    smtp_server,
)

TOKEN = "partner-token-S3CRET-42"
MONDAY = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # 15:00 in Moscow: Nina is at work
SATURDAY = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def config(port: int, *, production: bool = True, contacts: bool = True) -> str:
    integration_contacts = (
        """    contacts:
      - {name: Olga Oncall, email: oncall@broker.example, roles: [alert, technical_emergency]}
      - name: Nina Dev
        email: dev@broker.example
        roles: [technical_non_emergency]
        locale: ru
        hours:
          weekly: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "18:00"}]
          timezone: Europe/Moscow
"""
        if contacts
        else ""
    )
    return f"""version: 1
channels:
  email: {{host: 127.0.0.1, port: {port}, from_address: intmon@example.com}}
clients:
  acme:
    contacts:
      - {{name: Acme Support, email: support@acme.example, roles: [operational_public], locale: ru}}
integrations:
  - id: a
    name: ACME Broker
    kind: broker
    client: acme
    base_url: http://127.0.0.1:9
    auth: {{type: bearer, token: "${{PARTNER_TOKEN}}"}}
    interval_s: 60
    production: {"true" if production else "false"}
    checks: [{{name: health, path: /health}}]
{integration_contacts}"""


@pytest.fixture
def world(
    sqlite_engine: Engine,
    smtp_server: Callable[..., SmtpServer],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Engine, SmtpServer, dict]:  # type: ignore[type-arg]
    monkeypatch.setenv("PARTNER_TOKEN", TOKEN)
    server = smtp_server()
    apply_config(sqlite_engine, load_config_text(config(server.port)))
    specs = {i: r.spec for i, r in load_specs(sqlite_engine).items()}
    return sqlite_engine, server, specs


def inbox(server: SmtpServer) -> dict[str, list[str]]:
    """Recipient → subjects received."""
    out: dict[str, list[str]] = {}
    for delivered in server.mailbox.delivered:
        for rcpt in delivered.rcpt_tos:
            out.setdefault(rcpt, []).append(str(delivered.message["Subject"]))
    return out


def minutes(start: datetime, n: int) -> float:
    return (start - datetime(2026, 11, 23, 12, 0, tzinfo=UTC)).total_seconds() / 60 + n


def test_an_outage_wakes_the_emergency_contact_and_tells_the_client(world) -> None:  # type: ignore[no-untyped-def]
    engine, server, specs = world
    feed(engine, specs, [Outcome.CONNECTION_REFUSED] * 3)
    report = housekeep(engine, Policy(), MONDAY + timedelta(minutes=3), sync=False)
    assert report.notified.sent == 2 and report.notified.dead == 0
    mail = inbox(server)
    assert set(mail) == {"oncall@broker.example", "support@acme.example"}
    assert "INC-000001" in mail["oncall@broker.example"][0]
    assert "INC-000001" in mail["support@acme.example"][0]
    # The client's message is in Russian (its contact's locale).
    body = server.mailbox.delivered[-1].message.get_body(("plain",)).get_content()
    assert "INC-000001" in body
    for delivered in server.mailbox.delivered:
        assert TOKEN.encode() not in delivered.raw
    # Nothing is sent twice.
    assert housekeep(engine, Policy(), MONDAY + timedelta(minutes=4), sync=False).notified.sent == 0


def test_an_expired_token_waits_for_the_developers_hours(world) -> None:  # type: ignore[no-untyped-def]
    engine, server, specs = world
    feed(engine, specs, [Outcome.AUTH_FAILURE] * 3, start=minutes(SATURDAY, 0))
    opened = SATURDAY + timedelta(minutes=2)
    housekeep(engine, Policy(), opened, sync=False)
    mail = inbox(server)
    # The alert contact hears at once; Nina (non-emergency) only on Monday 09:00 Moscow.
    assert "oncall@broker.example" in mail and "dev@broker.example" not in mail
    monday_nine_moscow = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    housekeep(engine, Policy(), monday_nine_moscow - timedelta(seconds=1), sync=False)
    assert "dev@broker.example" not in inbox(server)
    housekeep(engine, Policy(), monday_nine_moscow, sync=False)
    assert len(inbox(server)["dev@broker.example"]) == 1


def test_smtp_down_is_retried_and_delivered_later(  # type: ignore[no-untyped-def]
    sqlite_engine: Engine,
    smtp_server: Callable[..., SmtpServer],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PARTNER_TOKEN", TOKEN)
    port = free_port()  # nothing listens yet
    apply_config(sqlite_engine, load_config_text(config(port)))
    specs = {i: r.spec for i, r in load_specs(sqlite_engine).items()}
    feed(sqlite_engine, specs, [Outcome.CONNECTION_REFUSED] * 3)
    at = MONDAY + timedelta(minutes=3)
    report = housekeep(sqlite_engine, Policy(), at, sync=False)
    assert (report.notified.sent, report.notified.retried) == (0, 2)
    server = smtp_server(port=port)
    # Not before the backoff; then delivered, nothing lost.
    assert (
        housekeep(sqlite_engine, Policy(), at + timedelta(seconds=4), sync=False).notified.sent == 0
    )
    assert (
        housekeep(sqlite_engine, Policy(), at + timedelta(seconds=5), sync=False).notified.sent == 2
    )
    assert set(inbox(server)) == {"oncall@broker.example", "support@acme.example"}


def test_a_dispatcher_killed_after_sending_resends_with_the_same_message_id(world) -> None:  # type: ignore[no-untyped-def]
    engine, server, specs = world
    feed(engine, specs, [Outcome.CONNECTION_REFUSED] * 3)
    at = MONDAY + timedelta(minutes=3)
    channels = open_channels(engine)
    # A dispatcher claims and sends, then dies before recording the send.
    claimed = outbox.claim(engine, ["notify:email"], at, lease_s=120)
    assert len(claimed) == 2
    from alerts.deliver import _notice, _recipient

    first = claimed[0]
    recipient = _recipient(first.payload["recipient"])
    channels["email"].send(recipient, _notice([first], recipient))
    # After the lease another dispatcher sends what was not recorded.
    assert deliver(engine, channels, at + timedelta(seconds=60)).sent == 0
    assert deliver(engine, channels, at + timedelta(seconds=121)).sent == 2
    for channel in channels.values():
        channel.close()
    ids_by_rcpt: dict[str, set[str]] = {}
    for delivered in server.mailbox.delivered:
        ids_by_rcpt.setdefault(delivered.rcpt_tos[0], set()).add(
            str(delivered.message["Message-ID"])
        )
    # The resend carries the same Message-ID: one message for the receiving system.
    assert all(len(ids) == 1 for ids in ids_by_rcpt.values())
    assert len(server.mailbox.delivered) == 3


def test_a_burst_for_one_contact_is_one_digest(world) -> None:  # type: ignore[no-untyped-def]
    engine, server, specs = world
    feed(engine, specs, [Outcome.CONNECTION_REFUSED] * 3)
    feed(engine, specs, [Outcome.OK, Outcome.OK], start=3)  # resolved, ticket closed
    housekeep(engine, Policy(), MONDAY + timedelta(minutes=5), sync=False)
    mail = inbox(server)
    # Opened + resolved reach the on-call contact as one digest.
    assert len(mail["oncall@broker.example"]) == 1


def test_no_contact_mail_for_integrations_not_in_production(  # type: ignore[no-untyped-def]
    sqlite_engine: Engine,
    smtp_server: Callable[..., SmtpServer],  # noqa: F811
) -> None:
    server = smtp_server()
    apply_config(sqlite_engine, load_config_text(config(server.port, production=False)))
    specs = {i: r.spec for i, r in load_specs(sqlite_engine).items()}
    feed(sqlite_engine, specs, [Outcome.CONNECTION_REFUSED] * 3)
    housekeep(sqlite_engine, Policy(), MONDAY + timedelta(minutes=3), sync=False)
    assert set(inbox(server)) == {"support@acme.example"}  # ticket mail only


def test_production_needs_the_required_roles() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(config(25, contacts=False))
    (problem,) = caught.value.problems
    assert problem.field == "integrations[0].production"
    assert "alert, technical_emergency, technical_non_emergency" in problem.message
    assert problem.line == 16  # the `production: true` line


ESCALATION = """      - {name: Lead Lena, email: lead@broker.example, roles: [technical_emergency],
         escalation_level: 2}
"""


def test_an_unacknowledged_emergency_escalates_and_reminds_until_acknowledged(  # type: ignore[no-untyped-def]
    sqlite_engine: Engine,
    smtp_server: Callable[..., SmtpServer],  # noqa: F811
) -> None:
    from alerts.escalation import acknowledge, acknowledgements

    server = smtp_server()
    text = config(server.port) + ESCALATION
    apply_config(sqlite_engine, load_config_text(text))
    specs = {i: r.spec for i, r in load_specs(sqlite_engine).items()}
    feed(sqlite_engine, specs, [Outcome.CONNECTION_REFUSED] * 3)
    opened = MONDAY + timedelta(minutes=2)

    def run(after_minutes: float) -> dict[str, list[str]]:
        housekeep(sqlite_engine, Policy(), opened + timedelta(minutes=after_minutes), sync=False)
        return inbox(server)

    assert "lead@broker.example" not in run(29)
    first = run(30)  # ack timeout (30 min): level 2 hears of it
    assert len(first["lead@broker.example"]) == 1
    assert "escalat" in first["lead@broker.example"][0].lower()
    before = len(first["oncall@broker.example"])
    reminded = run(60)  # first reminder to the first line
    assert len(reminded["oncall@broker.example"]) == before + 1
    assert "reminder" in reminded["oncall@broker.example"][-1].lower() or "still" in (
        reminded["oncall@broker.example"][-1].lower()
    )
    assert acknowledgements(sqlite_engine, [1]) == {}
    assert acknowledge(sqlite_engine, 1, "olga", opened + timedelta(minutes=61))
    # A second acknowledgement changes nothing: the first one's name and time stay.
    assert not acknowledge(sqlite_engine, 1, "petr", opened + timedelta(minutes=62))
    (taken,) = acknowledgements(sqlite_engine, [1]).values()
    assert (taken.by, taken.at) == ("olga", opened + timedelta(minutes=61))
    after = run(180)
    assert len(after["oncall@broker.example"]) == before + 1  # no more reminders
    assert len(after["lead@broker.example"]) == 1  # and no level 3


@pytest.mark.parametrize("locale", ["en", "ru"])
def test_a_hand_made_tickets_mail_shows_its_topic(locale: str) -> None:
    from alerts.render import render

    context = {"ticket": 7, "topic": "Счёт за октябрь", "comment": "Готово", "author": "olga"}
    for event in ("ticket.opened", "ticket.commented", "ticket.waiting_for_reply", "ticket.closed"):
        message = render(event, locale, context)
        assert "INC-000007" in message.subject and "Счёт за октябрь" in message.subject
        assert "Счёт за октябрь" in message.text


def test_the_client_hears_of_a_ticket_made_by_hand(world) -> None:  # type: ignore[no-untyped-def]
    from alerts import tickets
    from alerts.tickets import Actor

    engine, server, _specs = world
    with engine.begin() as connection:
        number = tickets.create(
            connection,
            client="acme",
            tier="standard",
            section="documents_finance",
            subtype="other",
            topic="Invoice for October",
            form={"description": "Please resend the invoice."},
            now=MONDAY,
            policy=Policy(),
            actor=Actor("client", "acme"),
        )
        tickets.comment(
            connection, number, body="Sent again.", actor=Actor("support", "olga"), now=MONDAY
        )
    housekeep(engine, Policy(), MONDAY, sync=False)
    (subject,) = inbox(server)["support@acme.example"]  # opened + reply: one digest
    assert subject
    body = server.mailbox.delivered[-1].message.get_body(("plain",)).get_content()
    assert "Invoice for October" in body and "Sent again." in body


SECOND = """  - id: b
    name: Beta Broker
    kind: broker
    client: acme
    base_url: http://127.0.0.1:9
    interval_s: 60
    checks: [{name: health, path: /health}]
  - id: c
    name: Gamma Broker
    kind: broker
    client: acme
    base_url: http://127.0.0.1:9
    interval_s: 60
    checks: [{name: health, path: /health}]
"""


def test_what_comes_within_the_digest_window_waits_and_goes_out_as_one(  # type: ignore[no-untyped-def]
    sqlite_engine: Engine,
    smtp_server: Callable[..., SmtpServer],  # noqa: F811
) -> None:
    server = smtp_server()
    apply_config(
        sqlite_engine,
        load_config_text(config(server.port, contacts=False, production=False) + SECOND),
    )
    specs = {i: r.spec for i, r in load_specs(sqlite_engine).items()}

    def desk() -> list[str]:
        return inbox(server).get("support@acme.example", [])

    feed(sqlite_engine, specs, [Outcome.CONNECTION_REFUSED] * 3, integration="a")
    housekeep(sqlite_engine, Policy(), MONDAY + timedelta(minutes=2), sync=False)
    assert len(desk()) == 1  # the first goes at once
    feed(sqlite_engine, specs, [Outcome.CONNECTION_REFUSED] * 3, start=1, integration="b")
    feed(sqlite_engine, specs, [Outcome.CONNECTION_REFUSED] * 3, start=2, integration="c")
    report = housekeep(sqlite_engine, Policy(), MONDAY + timedelta(minutes=4), sync=False)
    assert report.notified.postponed == 2 and len(desk()) == 1
    housekeep(sqlite_engine, Policy(), MONDAY + timedelta(minutes=6, seconds=59), sync=False)
    assert len(desk()) == 1  # the window (5 min from 12:02) is not over
    housekeep(sqlite_engine, Policy(), MONDAY + timedelta(minutes=7), sync=False)
    assert len(desk()) == 2  # b and c together, as one digest
    body = server.mailbox.delivered[-1].message.get_body(("plain",)).get_content()
    assert "INC-000002" in body and "INC-000003" in body


def test_a_platform_side_failure_reaches_the_platforms_operators_only(  # type: ignore[no-untyped-def]
    sqlite_engine: Engine,
    smtp_server: Callable[..., SmtpServer],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A secret unset where the checks run is intmon's problem: no ticket for the
    client, no message to the partner's contacts; `operational_internal` hears."""
    from sqlalchemy import select

    from alerts.models import Incident, Ticket

    server = smtp_server()
    text = config(server.port).replace(
        "      - {name: Olga Oncall",
        "      - {name: Ivan Ops, email: ops@platform.example, roles: [operational_internal]}\n"
        "      - {name: Olga Oncall",
    )
    apply_config(sqlite_engine, load_config_text(text))
    specs = {i: r.spec for i, r in load_specs(sqlite_engine).items()}
    done = feed(
        sqlite_engine,
        specs,
        [Outcome.CONFIG_ERROR] * 3,
        detail="environment variable PARTNER_TOKEN is not set",
    )
    assert len(done.opened) == 1 and done.tickets_opened == []
    housekeep(sqlite_engine, Policy(), MONDAY + timedelta(minutes=3), sync=False)
    assert set(inbox(server)) == {"ops@platform.example"}
    with sqlite_engine.connect() as c:
        (incident,) = c.execute(select(Incident)).all()
        assert (incident.family, incident.ticket_id) == ("platform", None)
        assert c.execute(select(Ticket)).first() is None
    # It recovers like any incident, and tells the same people only.
    feed(sqlite_engine, specs, [Outcome.OK] * 2, start=3)
    housekeep(sqlite_engine, Policy(), MONDAY + timedelta(minutes=10), sync=False)
    subjects = inbox(server)
    assert set(subjects) == {"ops@platform.example"}
    assert [s.split(":")[0] for s in subjects["ops@platform.example"]] == [
        "[#1] Incident opened",
        "[#1] Resolved",
    ]
    body = server.mailbox.delivered[0].message.get_body(("plain",)).get_content()
    assert "opened internal incident #1" in body and "no client ticket" in body
    assert "PARTNER_TOKEN" in body  # the detail names what to set


def test_an_emergency_goes_out_at_its_opening_not_at_the_digest_windows_end(world) -> None:  # type: ignore[no-untyped-def]
    engine, server, specs = world

    def oncall() -> list[str]:
        return inbox(server).get("oncall@broker.example", [])

    # 12:02: an expired token (not an emergency) reaches the on-call contact.
    feed(engine, specs, [Outcome.AUTH_FAILURE] * 3)
    housekeep(engine, Policy(), MONDAY + timedelta(minutes=2), sync=False)
    assert len(oncall()) == 1
    # 12:05, inside the 5-minute digest window: the partner goes down. The
    # opening goes out now, not as part of a digest at 12:07 (issue 21).
    feed(engine, specs, [Outcome.CONNECTION_REFUSED] * 3, start=3)
    housekeep(engine, Policy(), MONDAY + timedelta(minutes=5), sync=False)
    assert len(oncall()) == 2
    latest = server.mailbox.delivered[-1]
    assert latest.rcpt_tos == ["oncall@broker.example"]
    body = latest.message.get_body(("plain",)).get_content()
    assert "INC-000002" in body and "INC-000001" not in body  # the opening alone
    # What is not urgent still waits for the window and goes out as one digest.
    housekeep(engine, Policy(), MONDAY + timedelta(minutes=6), sync=False)
    assert len(oncall()) == 2
