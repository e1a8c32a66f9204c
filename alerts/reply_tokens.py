"""Reply addresses: where a client's answer to a ticket's e-mail comes back to.

Every mail about one ticket carries `Reply-To: support+inc-000042.<token>@example.com`
(the e-mail channel's `reply_to`, plus-addressed with the ticket's reply tag). The
token is 96 random bits stored on the ticket (`tickets.reply_token`, made the first
time a mail about the ticket is sent), so a reply names its ticket and proves that
its sender saw a mail about it: a ticket number in a subject can be typed by anyone,
the token cannot be guessed. Tags are lower-case hex because mail systems may
fold the case of an address's local part.
"""

from __future__ import annotations

import dataclasses
import hmac
import re
import secrets
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, select, update

from alerts.models import Ticket
from core.db import table_of

if TYPE_CHECKING:  # the e-mail channel imports this module: no cycle at run time
    from alerts.channels.base import Notice
    from core.outbox import Claimed

T = table_of(Ticket)
TOKEN_BYTES = 12  # 24 hex characters; "support+inc-000042.<24>" fits the 64-character local part

# `inc-000042.<token>` after the `+` of a local part, anywhere in an address.
_TAG = re.compile(rf"\+(?:inc-)?0*(\d{{1,18}})\.([0-9a-f]{{{2 * TOKEN_BYTES}}})@", re.IGNORECASE)


def token_for(connection: Connection, ticket_id: int) -> str:
    """The ticket's reply token, made now if it has none (two senders at once agree:
    the conditional update lets one of them write it)."""
    connection.execute(
        update(T)
        .where(T.c.id == ticket_id, T.c.reply_token.is_(None))
        .values(reply_token=secrets.token_hex(TOKEN_BYTES))
    )
    token = connection.execute(select(T.c.reply_token).where(T.c.id == ticket_id)).scalar_one()
    return str(token)


def tag(ticket_id: int, token: str) -> str:
    return f"inc-{ticket_id:06d}.{token}"


def reply_address(reply_to: str, reply_tag: str) -> str:
    """`support@example.com` and a tag → `support+inc-000042.<token>@example.com`."""
    local, _, domain = reply_to.rpartition("@")
    return f"{local}+{reply_tag}@{domain}"


def parse(address: str) -> tuple[int, str] | None:
    """(ticket id, token) from a tagged reply address, else None."""
    match = _TAG.search(address)
    if match is None:
        return None
    return int(match.group(1)), match.group(2).lower()


def matches(connection: Connection, ticket_id: int, token: str) -> bool:
    """Whether `token` is that ticket's (compared in constant time)."""
    stored = connection.execute(
        select(T.c.reply_token).where(T.c.id == ticket_id)
    ).scalar_one_or_none()
    return stored is not None and hmac.compare_digest(str(stored), token.lower())


def tagged(engine: Engine, notice: Notice, messages: list[Claimed]) -> Notice:
    """`notice` with the reply tag of the one ticket its messages are about, if any."""
    tickets = {_ticket_of(message.payload.get("context") or {}) for message in messages}
    if len(tickets) != 1 or None in tickets:
        return notice
    (ticket_id,) = tickets
    assert ticket_id is not None
    with engine.begin() as connection:
        token = token_for(connection, ticket_id)
    return dataclasses.replace(notice, reply_tag=tag(ticket_id, token))


def _ticket_of(context: dict[str, Any]) -> int | None:
    """The ticket a message's context is about: an id (announce) or a number."""
    ticket = context.get("ticket")
    if isinstance(ticket, bool) or ticket is None:
        return None
    if isinstance(ticket, int):
        return ticket
    match = re.fullmatch(r"INC-0*(\d{1,18})", str(ticket))
    return int(match.group(1)) if match else None
