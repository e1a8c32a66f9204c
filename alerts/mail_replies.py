"""Replies by e-mail: a client's answer to a ticket's mail becomes a comment on it.

`intmon mail-in` hands every message it receives to `receive`, which decides:

    automatic (auto-reply, bounce, list)        ignored: nothing stored, no answer
    unreadable (malformed MIME, no text)        refused
    no reply tag, or a tag whose token is not   refused (unknown ticket)
      the ticket's (alerts.reply_tokens)
    a sender who is none of the ticket's        refused (unknown sender); the answer
      client's known addresses nor support        names no ticket
    a rejected ticket (final)                   refused
    nothing written above the quoted mail       refused
    otherwise                                   a comment, through `tickets.comment`
                                                as the console adds it: a client's
                                                comment moves "waiting for reply"
                                                back to in progress and reopens a
                                                closed ticket; the history says
                                                `via email`

A refusal stores nothing and queues one answer to the sender through the outbox
(event `mail.reply`, channel e-mail), at most one per sender per hour
(`REFUSAL_INTERVAL`), so a flood of spoofed mail cannot turn intmon into a spam
cannon. Attachments are never stored; a comment whose mail had some is answered
with a note saying so. The same Message-ID delivered twice is one comment.
Secrets of the ticket's integration, and credential headers the client pasted,
are redacted from the stored text as they are from partners' answers.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from alerts import notify, reply_tokens, tickets
from alerts.errors import InvalidTicketInput, UnreadableMail
from alerts.inbound_mail import InboundMail, read
from alerts.models import NotificationThrottle, TicketComment
from alerts.policy import Policy
from alerts.tickets import Actor, Status, ticket_number
from core import outbox
from core.db import table_of
from integrations.errors import SecretUnavailable
from integrations.models import Integration
from integrations.redaction import SENSITIVE_NAME, credential_values, redact
from integrations.secrets import REFERENCE, resolve

log = logging.getLogger(__name__)

C = table_of(TicketComment)
THROTTLE = table_of(NotificationThrottle)
INTEGRATIONS = table_of(Integration)
EVENT = "mail.reply"
TARGET = notify.TARGET_PREFIX + "email"
REFUSAL_CHANNEL = "mail-refusal"  # its row in the notification throttle table
REFUSAL_INTERVAL = timedelta(hours=1)
VIA = "email"

# Who may answer a client's ticket: lower-case address → the actor the comment is by.
Senders = Callable[[Connection, str], dict[str, Actor]]


class Verdict(enum.StrEnum):
    COMMENTED = "commented"
    DUPLICATE = "duplicate"  # the same Message-ID again: already a comment
    IGNORED = "ignored"  # an auto-reply: never answered
    UNREADABLE = "unreadable"
    UNKNOWN_TICKET = "unknown_ticket"
    UNKNOWN_SENDER = "unknown_sender"
    REJECTED_TICKET = "rejected_ticket"
    EMPTY = "empty"


@dataclass(frozen=True)
class Received:
    verdict: Verdict
    sender: str
    ticket: str | None = None
    comment_id: int | None = None
    answered: bool = False  # an answer to the sender was queued
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "sender": self.sender,
            "ticket": self.ticket,
            "comment_id": self.comment_id,
            "answered": self.answered,
            "detail": self.detail,
        }


def contact_senders(connection: Connection, client: str) -> dict[str, Actor]:
    """The client's contacts with an e-mail address (`clients:` in the file)."""
    return {
        contact.email.lower(): Actor("client", contact.email.lower())
        for contact in notify.client_contacts(connection, client)
        if contact.email
    }


def receive(
    engine: Engine,
    raw: bytes,
    *,
    envelope_from: str | None,
    recipients: list[str],
    now: datetime,
    policy: Policy,
    senders: Senders = contact_senders,
) -> Received:
    """Decide what one received message becomes (see the module docstring)."""
    try:
        mail = read(raw, return_path=envelope_from)
    except UnreadableMail as error:
        # Its From could not be read: the envelope's sender is who sent it.
        address = (envelope_from or "").strip("<> ").lower()
        if not address:
            return Received(Verdict.IGNORED, "", detail=str(error))
        answered = _refuse(engine, address, Verdict.UNREADABLE, now, detail=str(error))
        return Received(Verdict.UNREADABLE, address, answered=answered, detail=str(error))
    if mail.automatic:
        return Received(Verdict.IGNORED, mail.sender, detail="an automatic message")
    # Decided on a read-only connection; the write that follows is one short
    # transaction (an embedded SQLite file is shared with busy worker threads).
    with engine.connect() as connection:
        found = _ticket(connection, [*recipients, *mail.addressed_to])
        if found is None:
            verdict, ticket, actor = Verdict.UNKNOWN_TICKET, None, None
        else:
            ticket = found
            actor = senders(connection, str(ticket.client)).get(mail.sender)
            verdict = _verdict(mail, ticket, actor)
    if verdict is Verdict.COMMENTED:
        assert ticket is not None and actor is not None
        with engine.begin() as connection:
            received = _comment(connection, mail, ticket, actor, now, policy)
        if received is not None:
            return received
        verdict = Verdict.REJECTED_TICKET  # rejected between the decision and the write
    number = ticket_number(ticket.id) if ticket is not None else None
    # An unknown sender learns nothing about the ticket they named.
    shown = None if verdict in (Verdict.UNKNOWN_SENDER, Verdict.UNKNOWN_TICKET) else number
    answered = _refuse(engine, mail.sender, verdict, now, mail=mail, ticket=shown)
    return Received(verdict, mail.sender, number, answered=answered)


def _verdict(mail: InboundMail, ticket: Any, actor: Actor | None) -> Verdict:
    if actor is None:
        return Verdict.UNKNOWN_SENDER
    if ticket.status == Status.REJECTED:
        return Verdict.REJECTED_TICKET
    if not mail.text.strip():
        return Verdict.EMPTY
    return Verdict.COMMENTED


def _ticket(connection: Connection, addresses: list[str]) -> Any:
    """The ticket whose reply tag (with its right token) is in one of the addresses."""
    for address in addresses:
        tagged = reply_tokens.parse(address)
        if tagged is not None and reply_tokens.matches(connection, *tagged):
            return tickets.load(connection, tagged[0])
    return None


def _comment(
    connection: Connection,
    mail: InboundMail,
    ticket: Any,
    actor: Actor,
    now: datetime,
    policy: Policy,
) -> Received | None:
    """The comment, or None when the ticket was rejected meanwhile (nothing stored)."""
    number = ticket_number(ticket.id)
    reference = f"email:{mail.message_id}"[:200] if mail.message_id else None
    if (
        reference is not None
        and connection.execute(select(C.c.id).where(C.c.external_ref == reference)).first()
    ):
        return Received(Verdict.DUPLICATE, mail.sender, number)
    body = redact(mail.text, _secrets(connection, ticket.integration_id, mail.text))
    try:
        with connection.begin_nested():
            comment_id = tickets.comment(
                connection,
                ticket.id,
                body=body,
                actor=actor,
                now=now,
                external_ref=reference,
                policy=policy,
                via=VIA,
            )
    except IntegrityError:  # the same message through a second server at the same moment
        return Received(Verdict.DUPLICATE, mail.sender, number)
    except InvalidTicketInput:  # tickets.comment re-reads the ticket, locked: rejected now
        return None
    answered = False
    if mail.attachments:
        _answer(connection, mail.sender, mail, now, "attachments_ignored", ticket=number)
        answered = True
    return Received(Verdict.COMMENTED, mail.sender, number, comment_id, answered)


# Lines a client may paste from a request: "Authorization: Bearer …", "X-Api-Key: …".
_CREDENTIAL_LINE = re.compile(r"^\s*([A-Za-z0-9_-]{1,64})\s*[:=]\s*(\S.{0,500}?)\s*$", re.MULTILINE)


def _secrets(connection: Connection, integration_id: str | None, text: str) -> set[str]:
    """Every secret the stored text must not hold: the integration's (those this
    process can read) and the values of credential-named fields in the text."""
    found: set[str] = set()
    for name, value in _CREDENTIAL_LINE.findall(text):
        if SENSITIVE_NAME.search(name):
            found |= credential_values(value)
    if integration_id is None:
        return found
    spec = connection.execute(
        select(INTEGRATIONS.c.spec).where(INTEGRATIONS.c.id == integration_id)
    ).scalar_one_or_none()
    for reference in _references(spec):
        try:
            resolve(reference, found)
        except SecretUnavailable:
            continue  # not readable here: it cannot be in what we store from here either
    return found


def _references(value: Any) -> list[str]:
    if isinstance(value, str):
        return [match.group(0) for match in REFERENCE.finditer(value)]
    if isinstance(value, dict):
        return [ref for item in value.values() for ref in _references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _references(item)]
    return []


# --- answers ------------------------------------------------------------------------------


def _refuse(
    engine: Engine,
    address: str,
    verdict: Verdict,
    now: datetime,
    *,
    mail: InboundMail | None = None,
    ticket: str | None = None,
    detail: str | None = None,
) -> bool:
    """Queue one refusal to `address` unless it had one within the hour; True if queued."""
    with engine.begin() as connection:
        if not _claim_refusal(connection, address, now):
            log.info("mail-in: %s from %s, answer withheld (one per hour)", verdict, address)
            return False
        _answer(connection, address, mail, now, verdict.value, ticket=ticket, detail=detail)
    return True


def _claim_refusal(connection: Connection, address: str, now: datetime) -> bool:
    """Whether a refusal may go to `address` now: a conditional update (or the first
    insert) claims the hour, so two servers at once send one."""
    key = address[:320]
    claimed = connection.execute(
        update(THROTTLE)
        .where(
            THROTTLE.c.channel == REFUSAL_CHANNEL,
            THROTTLE.c.address == key,
            THROTTLE.c.last_sent_at <= now - REFUSAL_INTERVAL,
        )
        .values(last_sent_at=now)
    ).rowcount
    if claimed:
        return True
    exists = connection.execute(
        select(THROTTLE.c.address).where(
            THROTTLE.c.channel == REFUSAL_CHANNEL, THROTTLE.c.address == key
        )
    ).first()
    if exists is not None:
        return False
    try:
        with connection.begin_nested():
            connection.execute(
                insert(THROTTLE).values(channel=REFUSAL_CHANNEL, address=key, last_sent_at=now)
            )
    except IntegrityError:  # another server refused the same sender at the same moment
        return False
    return True


_CYRILLIC = re.compile(r"[А-Яа-яЁё]")


def _answer(
    connection: Connection,
    address: str,
    mail: InboundMail | None,
    now: datetime,
    reason: str,
    *,
    ticket: str | None = None,
    detail: str | None = None,
) -> None:
    """Queue `mail.reply` to `address`, in Russian when the sender wrote in Russian."""
    written = f"{mail.subject}\n{mail.text}" if mail is not None else ""
    locale = "ru" if _CYRILLIC.search(written) else "en"
    recipient = {
        "name": (mail.sender_name if mail is not None else "") or address,
        "email": address,
        "locale": locale,
        "timezone": None,
    }
    context = {
        "reason": reason,
        "subject": mail.subject if mail is not None else "",
        "ticket": ticket,
        "address": address,
        "attachments": mail.attachments if mail is not None else 0,
        "detail": detail,
    }
    outbox.enqueue(
        connection,
        target=TARGET,
        kind=EVENT,
        aggregate=f"mail-reply:{outbox.new_key()}",
        payload={
            "recipient": recipient,
            "event": EVENT,
            "context": context,
            "reason": reason,
            "immediate": True,  # an answer does not wait for a digest
        },
        now=now,
    )
