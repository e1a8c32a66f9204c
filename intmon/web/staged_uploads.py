"""Files of a new-ticket form that is shown again instead of filed.

When the console answers a new ticket with its form again (the seed 003
duplicate warning, a refused field), the browser cannot put the chosen files
back into the file input. So the files that passed the attachment checks wait
here (`staged_uploads`), the form lists them by name with a checkbox to keep
each, and sending the form again attaches the kept ones with the ticket.

Who may use a staged file: the same login that chose it. Every read and claim
matches the session's key hash *and* the user, so the random token written in
the form is only a name; another client (or the same person in another browser)
who sends it gets "expired". A staged file lives `STAGED_TTL` at most; expired
rows are deleted whenever files are staged and at every login
(`session_store.start_session`), all of a session's rows go with the session
(`end_session`, and all of a user's when they are logged out everywhere), and a
claimed file is deleted in the transaction that attaches it, so it is attached
once.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, Engine, delete, insert, select

from alerts.attachments import FIELD, Upload, safe_name
from alerts.errors import InvalidTicketInput
from core.db import table_of
from intmon.web.models import StagedUpload

STAGED = table_of(StagedUpload)
STAGED_TTL = timedelta(minutes=30)
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
EXPIRED = "a file chosen earlier is no longer kept; choose it again"


@dataclass(frozen=True, slots=True)
class Owner:
    """One login: the hash of the session's key and its user."""

    session_hash: str
    user_id: int


@dataclass(frozen=True, slots=True)
class StagedFile:
    """A staged file as the form lists it."""

    token: str
    name: str
    size: int


def _mine(owner: Owner, now: datetime) -> ColumnElement[bool]:
    return (
        (STAGED.c.session_hash == owner.session_hash)
        & (STAGED.c.user_id == owner.user_id)
        & (STAGED.c.expires_at > now)
    )


def stage(engine: Engine, owner: Owner, uploads: Sequence[Upload], now: datetime) -> list[str]:
    """Keep the (already checked) uploads for the owner; their tokens, in order.
    Expired files of anyone are deleted on the way."""
    tokens = []
    with engine.begin() as connection:
        connection.execute(delete(STAGED).where(STAGED.c.expires_at <= now))
        for upload in uploads:
            token = secrets.token_urlsafe(32)
            connection.execute(
                insert(STAGED).values(
                    token=token,
                    session_hash=owner.session_hash,
                    user_id=owner.user_id,
                    name=safe_name(upload.name),
                    size=len(upload.content),
                    content=upload.content,
                    created_at=now,
                    expires_at=now + STAGED_TTL,
                )
            )
            tokens.append(token)
    return tokens


def listed(engine: Engine, owner: Owner, tokens: Sequence[str], now: datetime) -> list[StagedFile]:
    """The owner's live staged files among `tokens`, in the tokens' order (others left out)."""
    wanted = [t for t in tokens if TOKEN.match(t)]
    if not wanted:
        return []
    with engine.connect() as connection:
        rows = connection.execute(
            select(STAGED.c.token, STAGED.c.name, STAGED.c.size).where(
                STAGED.c.token.in_(wanted), _mine(owner, now)
            )
        ).all()
    found = {row.token: StagedFile(str(row.token), str(row.name), int(row.size)) for row in rows}
    return [found[t] for t in wanted if t in found]


def uploads_of(engine: Engine, owner: Owner, tokens: Sequence[str], now: datetime) -> list[Upload]:
    """The bytes of the owner's staged files `tokens` (to check them with new ones);
    InvalidTicketInput ("attachments") if one is not the owner's or has expired."""
    with engine.connect() as connection:
        return _read(connection, owner, tokens, now)


def _read(
    connection: Connection, owner: Owner, tokens: Sequence[str], now: datetime
) -> list[Upload]:
    wanted = _tokens(tokens)
    if not wanted:
        return []
    rows = connection.execute(
        select(STAGED.c.token, STAGED.c.name, STAGED.c.content).where(
            STAGED.c.token.in_(wanted), _mine(owner, now)
        )
    ).all()
    found = {row.token: Upload(str(row.name), bytes(row.content)) for row in rows}
    if len(found) != len(wanted):
        raise InvalidTicketInput(FIELD, EXPIRED)
    return [found[token] for token in wanted]


def _tokens(tokens: Sequence[str]) -> list[str]:
    """The tokens once each, in order; InvalidTicketInput if one cannot be a token."""
    if not all(TOKEN.match(t) for t in tokens):
        raise InvalidTicketInput(FIELD, EXPIRED)
    return list(dict.fromkeys(tokens))


def claim(
    connection: Connection, owner: Owner, tokens: Sequence[str], shown: Sequence[str], now: datetime
) -> list[Upload]:
    """In the caller's transaction: the files `tokens`, deleted with the others the
    form showed (`shown`, the ones left unticked). A file gone in between — expired,
    or claimed by the same form sent twice — is InvalidTicketInput, which rolls back.

    Each file is taken by the delete that returns it (`DELETE … RETURNING`): of two
    sends at once, the second waits on the first's row locks and then finds the rows
    gone, so it gets none of them. (Reading first and counting the rows deleted was
    not enough: a file the second send only listed could make up for one the first
    took, and that file was attached twice; tests/web/test_staged_uploads_race.py.)"""
    wanted = _tokens(tokens)
    taken = connection.execute(
        delete(STAGED)
        .where(STAGED.c.token.in_(wanted), _mine(owner, now))
        .returning(STAGED.c.token, STAGED.c.name, STAGED.c.content)
    ).all()
    found = {row.token: Upload(str(row.name), bytes(row.content)) for row in taken}
    if len(found) != len(wanted):
        raise InvalidTicketInput(FIELD, EXPIRED)
    _delete(connection, owner, shown)
    return [found[token] for token in wanted]


def drop(engine: Engine, owner: Owner, tokens: Sequence[str]) -> None:
    """Forget the owner's files `tokens` (unticked on a form shown again)."""
    with engine.begin() as connection:
        _delete(connection, owner, tokens)


def _delete(connection: Connection, owner: Owner, tokens: Sequence[str]) -> int:
    wanted = list(dict.fromkeys(t for t in tokens if TOKEN.match(t)))
    if not wanted:
        return 0
    deleted = connection.execute(
        delete(STAGED).where(
            STAGED.c.token.in_(wanted),
            STAGED.c.session_hash == owner.session_hash,
            STAGED.c.user_id == owner.user_id,
        )
    ).rowcount
    return int(deleted or 0)
