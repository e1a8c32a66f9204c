"""API tokens and who is calling: `Authorization: Bearer <token>` → `Principal`.

A token is 32 random bytes (URL-safe base64, prefixed `imt_`); the database keeps
its SHA-256 only, so `intmon tokens create` prints it once and nothing can show
it again. Roles: `support` sees and does everything, `client` sees only its own
client's integrations, incidents and tickets, `tester` reads integrations and
incidents. Revoked tokens stop working at once (each request looks the hash up),
and so do expired ones (`expires_at`, set with `--expires-in`). The last use is
kept to the minute (`last_used_at`), so `intmon tokens list` shows tokens nobody
uses any more without a write on every request.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, or_, select, update

from core.db import table_of
from intmon.api.models import ROLES, ApiToken

TOKENS = table_of(ApiToken)
PREFIX = "imt_"
# `last_used_at` moves at most this often per token.
LAST_USE_RESOLUTION = timedelta(minutes=1)
DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
UNITS["w"] = timedelta(weeks=1)


class TokenError(ValueError):
    """A token that cannot be created or revoked; the message names the field. Permanent."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class Principal:
    role: str  # support | client | tester
    client: str | None
    name: str = "api"

    @property
    def is_support(self) -> bool:
        return self.role == "support"

    @property
    def sees_every_client(self) -> bool:
        return self.role == "support" or self.client is None

    def sees_client(self, client: str | None) -> bool:
        """Whether this principal may see things that belong to `client`."""
        return self.sees_every_client or client == self.client


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_lifetime(text: str) -> timedelta:
    """`90m`, `12h`, `30d`, `2w` → a timedelta; TokenError names `expires-in` otherwise."""
    found = DURATION.match(text)
    if found is None or int(found.group(1)) == 0:
        raise TokenError("expires-in", f"{text!r} is not a lifetime like 90m, 12h, 30d or 2w")
    return int(found.group(1)) * UNITS[found.group(2)]


def create_token(
    engine: Engine,
    *,
    role: str,
    now: datetime,
    client: str | None = None,
    name: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[int, str]:
    """Store a new token; returns (id, the token). The token is not kept anywhere."""
    if expires_at is not None and expires_at <= now:
        raise TokenError("expires-in", "must be in the future")
    if role not in ROLES:
        raise TokenError("role", f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if role == "client" and not client:
        raise TokenError("client", "required for a client token")
    token = PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as connection:
        token_id = connection.execute(
            insert(TOKENS)
            .values(
                name=name or client or role,
                role=role,
                client=client,
                token_hash=token_hash(token),
                created_at=now,
                expires_at=expires_at,
            )
            .returning(TOKENS.c.id)
        ).scalar_one()
    return int(token_id), token


def list_tokens(engine: Engine) -> list[dict[str, Any]]:
    """Every token without its secret: id, name, role, client, created_at, revoked_at,
    expires_at, last_used_at."""
    columns = [c for c in TOKENS.c if c.name != "token_hash"]
    with engine.connect() as connection:
        rows = connection.execute(select(*columns).order_by(TOKENS.c.id)).all()
    return [dict(row._mapping) for row in rows]


def revoke_token(engine: Engine, token_id: int, now: datetime) -> None:
    with engine.begin() as connection:
        done = connection.execute(
            update(TOKENS)
            .where(TOKENS.c.id == token_id, TOKENS.c.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount
    if not done:
        raise TokenError("id", f"no active token with id {token_id}")


def authenticate(engine: Engine, token: str, now: datetime) -> Principal | None:
    """The principal a token stands for, or None when it is unknown, revoked or expired."""
    with engine.connect() as connection:
        row = connection.execute(
            select(
                TOKENS.c.id,
                TOKENS.c.role,
                TOKENS.c.client,
                TOKENS.c.name,
                TOKENS.c.expires_at,
                TOKENS.c.last_used_at,
            ).where(TOKENS.c.token_hash == token_hash(token), TOKENS.c.revoked_at.is_(None))
        ).first()
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USE_RESOLUTION:
        _note_use(engine, int(row.id), now)
    return Principal(str(row.role), row.client, str(row.name))


def _note_use(engine: Engine, token_id: int, now: datetime) -> None:
    # Conditional, so concurrent requests of one token write it once per minute.
    with engine.begin() as connection:
        connection.execute(
            update(TOKENS)
            .where(
                TOKENS.c.id == token_id,
                or_(
                    TOKENS.c.last_used_at.is_(None),
                    TOKENS.c.last_used_at <= now - LAST_USE_RESOLUTION,
                ),
            )
            .values(last_used_at=now)
        )
