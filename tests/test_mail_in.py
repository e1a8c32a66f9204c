"""Replies by e-mail, over real SMTP: intmon's mail (captured by an aiosmtpd server)
carries a tagged Reply-To; `smtplib` answers it to the `intmon mail-in` server on a
free port on 127.0.0.1, and the reply becomes a comment — or is refused, with one
answer per sender per hour, and nothing stored."""

from __future__ import annotations

import email.policy
import smtplib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from alerts import reply_tokens, tickets
from alerts.deliver import deliver
from alerts.housekeeping import open_channels
from alerts.models import TicketComment, TicketHistory
from alerts.policy import Policy
from alerts.queries import ticket_detail
from alerts.sender import close_all
from alerts.tickets import Actor
from core import db
from core.db import table_of
from core.outbox import OutboxMessage
from intmon.config_file import apply_config, load_config_text
from intmon.mail_server import MailInLimits, MailInServer
from intmon.web.users import create_user
from tests.alerts.test_channels import SmtpServer, smtp_server  # noqa: F401  (fixture)

C = table_of(TicketComment)
H = table_of(TicketHistory)
OUT = table_of(OutboxMessage)
CONSOLE = "https://intmon.example.com"
SECRET = "partner-token-S3CRET-42"


def config(port: int) -> str:
    return f"""version: 1
channels:
  email: {{host: 127.0.0.1, port: {port}, from_address: intmon@example.com,
           reply_to: support@intmon.example.com}}
clients:
  acme:
    contacts:
      - {{name: Anna, email: Anna@Acme.example, roles: [operational_public]}}
      - {{name: Пётр, email: petr@acme.example, roles: [technical_non_emergency], locale: ru}}
integrations:
  - id: acme-broker
    name: ACME Broker
    kind: broker
    client: acme
    base_url: http://127.0.0.1:9
    auth: {{type: bearer, token: "${{PARTNER_TOKEN}}"}}
    checks: [{{name: health, path: /health}}]
"""


@dataclass
class World:
    engine: Engine
    outgoing: SmtpServer  # where intmon's own mail lands
    mail_in: MailInServer

    def send_out(self, now: datetime | None = None) -> int:
        channels = open_channels(self.engine)
        try:
            report = deliver(self.engine, channels, now or db.utcnow(), base_url=CONSOLE)
        finally:
            close_all(channels)
        return report.sent

    def reply(self, message: EmailMessage | bytes, *, mail_from: str | None = None) -> None:
        with smtplib.SMTP("127.0.0.1", self.mail_in.port, timeout=10) as smtp:
            if isinstance(message, bytes):
                smtp.sendmail(mail_from or "", ["support@intmon.example.com"], message)
            else:
                smtp.send_message(message, from_addr=mail_from)

    def sent_to(self, address: str) -> list[Any]:
        return [d.message for d in self.outgoing.mailbox.delivered if address in d.rcpt_tos]


@pytest.fixture
def world_on(
    smtp_server: Callable[..., SmtpServer],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[Engine], World]]:
    monkeypatch.setenv("PARTNER_TOKEN", SECRET)
    servers: list[MailInServer] = []

    def start(engine: Engine, limits: MailInLimits | None = None) -> World:
        outgoing = smtp_server()
        apply_config(engine, load_config_text(config(outgoing.port)))
        create_user(
            engine, "nina@intmon.example.com", role="support", password="x" * 12, now=db.utcnow()
        )
        server = MailInServer(engine, Policy(), port=0, limits=limits)
        server.__enter__()
        servers.append(server)
        return World(engine, outgoing, server)

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def open_ticket(engine: Engine, status: str = "waiting_for_reply") -> int:
    now = db.utcnow()
    with engine.begin() as connection:
        ticket_id = tickets.create(
            connection,
            client="acme",
            tier="standard",
            section="system_errors",
            topic="Leads are not accepted",
            form={},
            now=now,
            policy=Policy(),
            actor=Actor("client", "anna@acme.example"),
            integration_id="acme-broker",
        )
        tickets.comment(
            connection, ticket_id, body="Which lead ids?", actor=Actor("support", "nina"), now=now
        )
        if status == "closed":
            tickets.set_status(
                connection, ticket_id, "closed", actor=Actor("support", "nina"), now=now
            )
        else:
            tickets.set_status(
                connection, ticket_id, status, actor=Actor("support", "nina"), now=now
            )
    return ticket_id


def reply_to(world: World, address: str) -> str:
    """The Reply-To of the latest mail intmon sent to `address`."""
    return str(world.sent_to(address)[-1]["Reply-To"])


def answer(
    world: World, to: str, body: str, *, sender: str = "anna@acme.example", **headers: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Someone <{sender}>"
    message["To"] = to
    message["Subject"] = headers.pop("Subject", "Re: [INC-000001] Waiting for your reply")
    message["Message-ID"] = headers.pop("Message_ID", f"<{len(body)}.{sender}@client.example>")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def comments(engine: Engine, ticket_id: int) -> list[tuple[str, str, str]]:
    with engine.connect() as connection:
        return [
            (row.author_kind, row.author, row.body)
            for row in connection.execute(
                select(C).where(C.c.ticket_id == ticket_id).order_by(C.c.id)
            )
        ]


def status_of(engine: Engine, ticket_id: int) -> str:
    with engine.connect() as connection:
        return str(tickets.load(connection, ticket_id).status)


def answers_queued(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).select_from(OUT).where(OUT.c.kind == "mail.reply")
            ).scalar_one()
        )


def test_a_clients_reply_becomes_a_comment_and_the_ticket_moves(
    db_engine: Engine, world_on
) -> None:  # type: ignore[no-untyped-def]
    world = world_on(db_engine)
    ticket_id = open_ticket(db_engine)
    assert world.send_out() >= 1
    # Every mail about the ticket links to its page and says where replies go.
    mail = world.sent_to("Anna@Acme.example")[-1]
    text = mail.get_body(("plain",)).get_content()
    assert f"{CONSOLE}/tickets/INC-{ticket_id:06d}" in text
    assert f"{CONSOLE}/integrations/acme-broker" in text
    assert "intmon tickets show" not in text
    address = str(mail["Reply-To"])
    assert address.startswith(f"support+inc-{ticket_id:06d}.")
    assert address.endswith("@intmon.example.com")

    world.reply(
        answer(
            world,
            address,
            "The lead ids are 17 and 18.\n"
            f"Our header was Authorization: Bearer {SECRET}\n\n"
            "On Mon, Dec 7, 2026 at 10:00 AM intmon <support@intmon.example.com> wrote:\n"
            "> Which lead ids?\n"
            "-- \nAnna, ACME\n",
        )
    )

    [*_, last] = comments(db_engine, ticket_id)
    assert last[:2] == ("client", "anna@acme.example")
    assert last[2] == "The lead ids are 17 and 18.\nOur header was Authorization: Bearer [REDACTED]"
    assert status_of(db_engine, ticket_id) == "in_progress"
    detail = ticket_detail(db_engine, ticket_id, include_internal=True)
    moves = [(h.actor, h.action, h.new, h.via) for h in detail.history[-2:]]
    assert moves[0][1:2] == ("comment_public",) and moves[0][3] == "email"
    assert moves[1] == ("anna@acme.example", "status", "in_progress", "email")
    assert answers_queued(db_engine) == 0  # no attachments: nothing to say

    # The same message delivered twice is one comment.
    world.reply(
        answer(
            world,
            address,
            "The lead ids are 17 and 18.\n"
            f"Our header was Authorization: Bearer {SECRET}\n\n"
            "On Mon, Dec 7, 2026 at 10:00 AM intmon <support@intmon.example.com> wrote:\n"
            "> Which lead ids?\n"
            "-- \nAnna, ACME\n",
        )
    )
    assert len(comments(db_engine, ticket_id)) == 2


def test_a_russian_reply_with_quotes_reopens_a_closed_ticket(
    sqlite_engine: Engine, world_on
) -> None:  # type: ignore[no-untyped-def]
    world = world_on(sqlite_engine)
    ticket_id = open_ticket(sqlite_engine, status="closed")
    world.send_out()
    mail = world.sent_to("petr@acme.example")[-1]
    text = mail.get_body(("plain",)).get_content()
    assert f"Ссылка:           {CONSOLE}/tickets/INC-{ticket_id:06d}" in text
    world.reply(
        answer(
            world,
            str(mail["Reply-To"]),
            "Проблема вернулась: лиды снова не принимаются.\n\n"
            "пн, 7 дек. 2026 г. в 10:00, intmon <support@intmon.example.com> написал(а):\n"
            "> Тикет закрыт.\n\nОтправлено с iPhone\n",
            sender="Petr@acme.example",
            Subject="Re: Тикет INC-000001 закрыт",
        )
    )
    assert comments(sqlite_engine, ticket_id)[-1] == (
        "client",
        "petr@acme.example",
        "Проблема вернулась: лиды снова не принимаются.",
    )
    assert status_of(sqlite_engine, ticket_id) == "open"


def test_support_answers_by_e_mail_as_support(sqlite_engine: Engine, world_on) -> None:  # type: ignore[no-untyped-def]
    world = world_on(sqlite_engine)
    ticket_id = open_ticket(sqlite_engine)
    world.send_out()
    address = reply_to(world, "Anna@Acme.example")
    world.reply(answer(world, address, "Fixed on our side.", sender="nina@intmon.example.com"))
    assert comments(sqlite_engine, ticket_id)[-1] == (
        "support",
        "nina@intmon.example.com",
        "Fixed on our side.",
    )


def test_a_spoofed_sender_is_refused_once_an_hour_and_nothing_is_stored(
    db_engine: Engine, world_on
) -> None:  # type: ignore[no-untyped-def]
    world = world_on(db_engine)
    ticket_id = open_ticket(db_engine)
    world.send_out()
    address = reply_to(world, "Anna@Acme.example")
    before = comments(db_engine, ticket_id)

    for n in range(3):  # a flood from an address nobody at the client has
        world.reply(answer(world, address, f"Close it {n}", sender="eve@evil.example"))
    # The ticket number in the subject alone is no key either, whoever claims to send it.
    world.reply(answer(world, "support@intmon.example.com", "Close it", sender="anna@acme.example"))
    # Nor is a made-up token.
    forged = f"support+inc-{ticket_id:06d}.{'0' * 24}@intmon.example.com"
    world.reply(answer(world, forged, "Close it", sender="anna@acme.example"))

    assert comments(db_engine, ticket_id) == before
    assert status_of(db_engine, ticket_id) == "waiting_for_reply"
    assert answers_queued(db_engine) == 2  # one to eve, one to anna: once an hour each
    assert world.send_out() == 2
    [refusal] = world.sent_to("eve@evil.example")
    body = refusal.get_body(("plain",)).get_content()
    assert "eve@evil.example is not one of the addresses allowed" in body
    assert "INC-" not in body + str(refusal["Subject"]).replace("[INC-000001]", "")
    assert refusal["Reply-To"] is None
    [unknown] = world.sent_to("anna@acme.example")
    assert "does not answer a message intmon sent" in unknown.get_body(("plain",)).get_content()

    # An hour later the same sender hears once more.
    later = db.utcnow() + timedelta(hours=1, seconds=1)
    with db_engine.begin() as connection:
        from alerts.mail_replies import _claim_refusal

        assert _claim_refusal(connection, "eve@evil.example", later)
        assert not _claim_refusal(connection, "eve@evil.example", later)


def test_auto_replies_are_never_answered(sqlite_engine: Engine, world_on) -> None:  # type: ignore[no-untyped-def]
    world = world_on(sqlite_engine)
    ticket_id = open_ticket(sqlite_engine)
    world.send_out()
    address = reply_to(world, "Anna@Acme.example")
    before = comments(sqlite_engine, ticket_id)
    world.reply(answer(world, address, "I am on holiday.", Auto_Submitted="auto-replied"))
    world.reply(answer(world, address, "Out of office", Precedence="auto_reply"))
    world.reply(answer(world, address, "Bounce"), mail_from="<>")
    # Unknown senders' auto-replies too: no answer, so no loop with another robot.
    world.reply(answer(world, address, "Away", sender="bot@evil.example", Precedence="bulk"))
    assert comments(sqlite_engine, ticket_id) == before
    assert answers_queued(sqlite_engine) == 0


def test_an_oversized_message_is_refused_at_the_smtp_level(sqlite_engine: Engine, world_on) -> None:  # type: ignore[no-untyped-def]
    world = world_on(sqlite_engine, MailInLimits(max_bytes=64 * 1024, max_recipients=2))
    ticket_id = open_ticket(sqlite_engine)
    world.send_out()
    address = reply_to(world, "Anna@Acme.example")
    before = comments(sqlite_engine, ticket_id)
    big = answer(world, address, "x" * (100 * 1024))
    # A client that declares the size (SIZE, RFC 1870) is refused at MAIL FROM...
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        world.reply(big)
    assert refused.value.smtp_code == 552
    # ...one that does not, after DATA, before anything is read.
    with smtplib.SMTP("127.0.0.1", world.mail_in.port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.mail("anna@acme.example")[0] == 250
        assert smtp.rcpt(address)[0] == 250
        assert smtp.data(big.as_bytes(policy=email.policy.SMTP))[0] == 552
    with smtplib.SMTP("127.0.0.1", world.mail_in.port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("anna@acme.example")
        assert smtp.rcpt("a@intmon.example.com")[0] == 250
        assert smtp.rcpt("b@intmon.example.com")[0] == 250
        assert smtp.rcpt("c@intmon.example.com")[0] == 452
    assert comments(sqlite_engine, ticket_id) == before
    assert answers_queued(sqlite_engine) == 0


@pytest.mark.parametrize(
    "raw",
    [
        b'From: anna@acme.example\r\nContent-Type: multipart/mixed; boundary="zz"\r\n'
        b"\r\nno parts\r\n",
        b"From: anna@acme.example\r\nContent-Type: text/plain; charset=x-none\r\n\r\nhi\r\n",
        b"\x00\xff\xfe garbage without headers \x00\r\n",
    ],
)
def test_malformed_mime_is_refused_without_a_crash(
    sqlite_engine: Engine, world_on, raw: bytes
) -> None:  # type: ignore[no-untyped-def]
    world = world_on(sqlite_engine)
    ticket_id = open_ticket(sqlite_engine)
    before = comments(sqlite_engine, ticket_id)
    world.reply(raw, mail_from="anna@acme.example")
    assert comments(sqlite_engine, ticket_id) == before
    world.send_out()
    [refusal] = world.sent_to("anna@acme.example")
    assert "could not be read" in refusal.get_body(("plain",)).get_content()
    # The server is still there for the next message.
    world.reply(raw, mail_from="anna@acme.example")


def test_attachments_are_ignored_and_the_sender_is_told(sqlite_engine: Engine, world_on) -> None:  # type: ignore[no-untyped-def]
    world = world_on(sqlite_engine)
    ticket_id = open_ticket(sqlite_engine)
    world.send_out()
    address = reply_to(world, "Anna@Acme.example")
    message = answer(world, address, "Screenshot attached.")
    message.add_attachment(
        b"MZ\x90\x00", maintype="application", subtype="octet-stream", filename="a.exe"
    )
    world.reply(message)
    assert comments(sqlite_engine, ticket_id)[-1][2] == "Screenshot attached."
    world.send_out(db.utcnow() + timedelta(minutes=10))
    note = world.sent_to("anna@acme.example")[-1]
    body = note.get_body(("plain",)).get_content()
    assert f"added to ticket INC-{ticket_id:06d}" in body
    assert "1 attached file was not kept" in body


def test_a_rejected_ticket_takes_no_reply(sqlite_engine: Engine, world_on) -> None:  # type: ignore[no-untyped-def]
    world = world_on(sqlite_engine)
    ticket_id = open_ticket(sqlite_engine)
    world.send_out()
    address = reply_to(world, "Anna@Acme.example")
    with sqlite_engine.begin() as connection:
        tickets.set_status(
            connection, ticket_id, "rejected", actor=Actor("support", "nina"), now=db.utcnow()
        )
    before = comments(sqlite_engine, ticket_id)
    world.reply(answer(world, address, "Why?"))
    assert comments(sqlite_engine, ticket_id) == before
    world.send_out(db.utcnow() + timedelta(minutes=10))
    assert (
        "was rejected" in world.sent_to("anna@acme.example")[-1].get_body(("plain",)).get_content()
    )


def test_reply_tags() -> None:
    assert (
        reply_tokens.reply_address("support@x.org", "inc-000042.ab")
        == "support+inc-000042.ab@x.org"
    )
    token = "0123456789abcdef01234567"
    assert reply_tokens.parse(f"Support+INC-000042.{token.upper()}@X.org") == (42, token)
    assert reply_tokens.parse("support@x.org") is None
    assert reply_tokens.parse(f"support+inc-000042.{token[:-1]}@x.org") is None


def test_without_a_public_url_mail_names_the_cli_command(sqlite_engine: Engine, world_on) -> None:  # type: ignore[no-untyped-def]
    world = world_on(sqlite_engine)
    ticket_id = open_ticket(sqlite_engine)
    channels = open_channels(sqlite_engine)
    try:
        deliver(sqlite_engine, channels, datetime.now(UTC))
    finally:
        close_all(channels)
    text = world.sent_to("Anna@Acme.example")[-1].get_body(("plain",)).get_content()
    assert f"intmon tickets show INC-{ticket_id:06d}" in text
    assert "https://" not in text
