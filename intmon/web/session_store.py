"""Server-side sessions of the web console: started at login, ended from the server.

The signed cookie only carries a random session key; the `web_sessions` row
behind it is what makes it a login. So logging out, a new password and a
disabled user end sessions at once (their rows go), and every session has two
clocks the cookie cannot stretch: an absolute lifetime counted from the login
(`INTMON_SESSION_MAX_AGE_S`) and an idle timeout counted from the last request
(`INTMON_SESSION_IDLE_TIMEOUT_S`). `now` is always passed in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, or_, select, update

from core.db import table_of
from intmon.web.models import StagedUpload, WebSession
from intmon.web.users import USERS, WebAccount

SESSIONS = table_of(WebSession)
STAGED = table_of(StagedUpload)

# `last_seen_at` moves at most this often: the idle timeout needs minutes, not
# a write on every click and every auto-refresh.
SESSION_TOUCH_S = 60.0


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """How long a session lives: at most `max_age_s` after login, and at most
    `idle_timeout_s` after its last request."""

    max_age_s: float
    idle_timeout_s: float

    def alive(self, created_at: datetime, last_seen_at: datetime, now: datetime) -> bool:
        return now - created_at < timedelta(
            seconds=self.max_age_s
        ) and now - last_seen_at < timedelta(seconds=self.idle_timeout_s)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start_session(engine: Engine, user_id: int, now: datetime, limits: SessionLimits) -> str:
    """A new session for the user; returns its key (for the cookie only).

    Sessions that have run out are deleted on the way, so the table holds about
    as many rows as there are live logins; so are the new-ticket form's kept files
    that have expired (staged_uploads.py), whether or not anyone stages more."""
    key = secrets.token_urlsafe(32)
    with engine.begin() as connection:
        connection.execute(delete(STAGED).where(STAGED.c.expires_at <= now))
        connection.execute(
            delete(SESSIONS).where(
                or_(
                    SESSIONS.c.created_at <= now - timedelta(seconds=limits.max_age_s),
                    SESSIONS.c.last_seen_at <= now - timedelta(seconds=limits.idle_timeout_s),
                )
            )
        )
        connection.execute(
            insert(SESSIONS).values(
                key_hash=key_hash(key), user_id=user_id, created_at=now, last_seen_at=now
            )
        )
    return key


def session_account(
    engine: Engine, key: str, now: datetime, limits: SessionLimits
) -> WebAccount | None:
    """The active user behind a live session key, else None (and a dead session is deleted)."""
    with engine.connect() as connection:
        row = connection.execute(
            select(
                SESSIONS.c.id,
                SESSIONS.c.created_at,
                SESSIONS.c.last_seen_at,
                USERS.c.id.label("user_id"),
                USERS.c.username,
                USERS.c.role,
                USERS.c.client,
                USERS.c.disabled_at,
            )
            .join(USERS, USERS.c.id == SESSIONS.c.user_id)
            .where(SESSIONS.c.key_hash == key_hash(key))
        ).first()
    if row is None:
        return None
    if row.disabled_at is not None or not limits.alive(row.created_at, row.last_seen_at, now):
        end_session(engine, key)
        return None
    if now - row.last_seen_at >= timedelta(seconds=SESSION_TOUCH_S):
        with engine.begin() as connection:
            connection.execute(
                update(SESSIONS).where(SESSIONS.c.id == row.id).values(last_seen_at=now)
            )
    return WebAccount(int(row.user_id), str(row.username), str(row.role), row.client)


def end_session(engine: Engine, key: str) -> None:
    """Delete the session, and the files its new-ticket form kept (staged_uploads)."""
    with engine.begin() as connection:
        connection.execute(delete(SESSIONS).where(SESSIONS.c.key_hash == key_hash(key)))
        connection.execute(delete(STAGED).where(STAGED.c.session_hash == key_hash(key)))
