"""`intmon mail-in`: the SMTP endpoint where replies to intmon's e-mails arrive.

An aiosmtpd server (the same library in production and in the tests). It relays
nothing: every message it accepts is handed to `alerts.mail_replies.receive`,
which turns a client's reply into a comment on its ticket or refuses it with an
answer through the outbox. Limits at the SMTP level, before anything is read:
`INTMON_MAIL_IN_MAX_BYTES` per message (552 beyond), `INTMON_MAIL_IN_MAX_RECIPIENTS`
per message (452 beyond), and aiosmtpd's idle timeout per session.

Who may answer a ticket (`known_senders`): the client's contacts with an e-mail
address (`clients:` in the integrations file), the console's client users of that
client and its support users, when their user name is an e-mail address.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import Connection, Engine, select

from alerts.mail_replies import Verdict, contact_senders, receive
from alerts.policy import Policy
from alerts.tickets import Actor
from core import db
from core.db import table_of
from intmon.web.models import WebUser

log = logging.getLogger(__name__)
# aiosmtpd logs every connection at INFO; intmon logs one line per message instead.
logging.getLogger("mail.log").setLevel(logging.WARNING)
USERS = table_of(WebUser)
SESSION_TIMEOUT_S = 60.0  # an idle SMTP session is closed after this long

# What the sending server is told (the sender hears the rest from the answer mail).
SMTP_REPLIES: dict[Verdict, str] = {
    Verdict.COMMENTED: "250 2.0.0 Added to the ticket",
    Verdict.DUPLICATE: "250 2.0.0 Already added",
    Verdict.IGNORED: "250 2.0.0 Automatic message ignored",
}
REFUSED = "250 2.0.0 Not added to any ticket; an answer explains why"


def known_senders(connection: Connection, client: str) -> dict[str, Actor]:
    """Who may answer `client`'s tickets by e-mail: lower-case address → actor."""
    found = contact_senders(connection, client)
    users = connection.execute(
        select(USERS.c.username, USERS.c.role, USERS.c.client).where(
            USERS.c.disabled_at.is_(None), USERS.c.username.contains("@")
        )
    )
    for username, role, user_client in users:
        if role == "support":
            found[username.lower()] = Actor("support", username)
        elif user_client == client:
            found[username.lower()] = Actor("client", username)
    return found


@dataclass(frozen=True)
class MailInLimits:
    max_bytes: int = 10 * 1024 * 1024
    max_recipients: int = 20


class ReplyHandler:
    """aiosmtpd's handler: RCPT counts recipients, DATA hands the message over."""

    def __init__(self, engine: Engine, policy: Policy, limits: MailInLimits) -> None:
        self._engine = engine
        self._policy = policy
        self._limits = limits

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= self._limits.max_recipients:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content or b""
        raw = raw if isinstance(raw, bytes) else str(raw).encode("utf-8", "replace")
        try:
            received = await asyncio.to_thread(
                receive,
                self._engine,
                raw,
                envelope_from=envelope.mail_from,
                recipients=list(envelope.rcpt_tos),
                now=db.utcnow(),
                policy=self._policy,
                senders=known_senders,
            )
        except Exception:  # the database away: the sending server keeps it and tries again
            log.exception("mail-in: a message could not be processed")
            return "451 4.3.0 Cannot process the message now; try again later"
        log.info(
            "mail-in: %s from %s%s%s",
            received.verdict,
            received.sender or "(no sender)",
            f" for {received.ticket}" if received.ticket else "",
            ", answered" if received.answered else "",
        )
        return SMTP_REPLIES.get(received.verdict, REFUSED)


class MailInServer:
    """The endpoint on (host, port); port 0 picks a free one. Use with `with`."""

    def __init__(
        self,
        engine: Engine,
        policy: Policy,
        *,
        host: str = "127.0.0.1",
        port: int = 2525,
        limits: MailInLimits | None = None,
    ) -> None:
        limits = limits or MailInLimits()
        self.host = host
        self._controller = Controller(
            ReplyHandler(engine, policy, limits),
            hostname=host,
            port=port or _free_port(host),
            data_size_limit=limits.max_bytes,
            enable_SMTPUTF8=True,
            timeout=SESSION_TIMEOUT_S,
        )

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def __enter__(self) -> MailInServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
