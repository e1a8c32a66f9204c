"""People of the web console: creating, listing and disabling them, and checking a password.

A password is kept as `scrypt$N$r$p$salt$hash` (stdlib `hashlib.scrypt`, 16 random
bytes of salt, both base64), compared in constant time. A login with an unknown
username still pays for one scrypt, so the answer time does not tell which
usernames exist. Usernames are stored lower-case; the database keeps them unique.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.db import table_of
from integrations.strict import SLUG
from intmon.api.auth import Principal
from intmon.web.models import WEB_ROLES, StagedUpload, WebSession, WebUser

USERS = table_of(WebUser)
SESSIONS = table_of(WebSession)
STAGED = table_of(StagedUpload)

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.@+-]{0,99}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # scrypt hashes anything; a megabyte "password" is a denial of service
SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES = 2**14, 8, 1, 32


class UserError(ValueError):
    """A user that cannot be created or disabled; the message names the field. Permanent."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class WebAccount:
    """A person as the console sees them; `principal` carries the API's visibility rules."""

    id: int
    username: str
    role: str
    client: str | None

    @property
    def principal(self) -> Principal:
        return Principal(self.role, self.client, self.username)


# --- passwords ------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES, maxmem=64 * 1024 * 1024
    )


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        expected = base64.b64decode(key)
        actual = _scrypt(password[:MAX_PASSWORD], base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


# Checked against when the username is unknown, so that costs one scrypt too.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


# --- users ----------------------------------------------------------------------------


USERNAME_MAX = 100  # web_users.username VARCHAR(100)


def normalise_username(username: str) -> str:
    return username.strip().lower()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError("password", f"must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError("password", f"must be at most {MAX_PASSWORD} characters")


def create_user(
    engine: Engine,
    username: str,
    *,
    role: str,
    password: str,
    now: datetime,
    client: str | None = None,
) -> int:
    """Store a new person; returns their id. UserError names the field it refuses."""
    name = normalise_username(username)
    if not USERNAME.match(name):
        raise UserError(
            "username", "1-100 characters: letters, digits and _ . @ + -, starting with one"
        )
    if role not in WEB_ROLES:
        raise UserError("role", f"unknown role {role!r}; one of {', '.join(WEB_ROLES)}")
    if role == "client" and not client:
        raise UserError("client", "required for a client user")
    if role == "support" and client:
        raise UserError("client", "only a client user belongs to a client")
    if client is not None and not re.match(SLUG, client):
        raise UserError("client", f"{client!r} is not a client id (as in the integrations file)")
    check_password(password)
    try:
        with engine.begin() as connection:
            user_id = connection.execute(
                insert(USERS)
                .values(
                    username=name,
                    password_hash=hash_password(password),
                    role=role,
                    client=client,
                    created_at=now,
                )
                .returning(USERS.c.id)
            ).scalar_one()
    except IntegrityError:
        raise UserError("username", f"{name!r} already exists") from None
    return int(user_id)


def list_users(engine: Engine) -> list[dict[str, Any]]:
    """Every user without the password hash."""
    columns = [c for c in USERS.c if c.name != "password_hash"]
    with engine.connect() as connection:
        rows = connection.execute(select(*columns).order_by(USERS.c.id)).all()
    return [dict(row._mapping) for row in rows]


def disable_user(engine: Engine, username: str, now: datetime) -> None:
    """The user cannot log in any more, and every session of theirs ends now."""
    name = normalise_username(username)
    with engine.begin() as connection:
        user_id = connection.execute(
            update(USERS)
            .where(USERS.c.username == name, USERS.c.disabled_at.is_(None))
            .values(disabled_at=now)
            .returning(USERS.c.id)
        ).scalar()
        if user_id is None:
            raise UserError("username", f"no active user {name!r}")
        end_user_sessions(connection, int(user_id))


def set_password(engine: Engine, username: str, password: str) -> int:
    """A new password for an active user; every session of theirs ends (someone who
    knew the old one may be logged in). Returns how many sessions ended."""
    name = normalise_username(username)
    check_password(password)
    with engine.begin() as connection:
        user_id = connection.execute(
            update(USERS)
            .where(USERS.c.username == name, USERS.c.disabled_at.is_(None))
            .values(password_hash=hash_password(password))
            .returning(USERS.c.id)
        ).scalar()
        if user_id is None:
            raise UserError("username", f"no active user {name!r}")
        return end_user_sessions(connection, int(user_id))


def end_user_sessions(connection: Connection, user_id: int) -> int:
    """Log the user out everywhere (the files their forms kept go too); returns how
    many sessions that ended."""
    ended = connection.execute(delete(SESSIONS).where(SESSIONS.c.user_id == user_id)).rowcount
    connection.execute(delete(STAGED).where(STAGED.c.user_id == user_id))
    return int(ended or 0)


def _account(row: Any) -> WebAccount:
    return WebAccount(int(row.id), str(row.username), str(row.role), row.client)


def authenticate(engine: Engine, username: str, password: str) -> WebAccount | None:
    """The active user with this username and password, else None (one answer for all)."""
    name = normalise_username(username)
    row = None
    # No stored username holds NUL (PostgreSQL could not even compare it) or is
    # longer than its column: such a name is simply unknown.
    if "\x00" not in name and len(name) <= USERNAME_MAX:
        with engine.connect() as connection:
            row = connection.execute(select(USERS).where(USERS.c.username == name)).first()
    matches = verify_password(password, row.password_hash if row is not None else _DUMMY_HASH)
    if row is None or not matches or row.disabled_at is not None:
        return None
    return _account(row)
