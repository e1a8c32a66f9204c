"""The outbox: messages written in the transaction that causes them, sent after it commits.

A crash between commit and send loses nothing (the row is still there) and a
crash after sending sends nothing twice in effect (each row carries an
idempotency key the receiver deduplicates on, and sinks look for their own
earlier copy before creating). Rows are leased with a conditional UPDATE, so
any number of dispatchers can run; a killed dispatcher's lease simply expires.
Retries back off from the row's own attempt count (STYLE.md §5).

Every stage that must not lose a message uses it (alerts' sinks, notifications and
escalations, the lead ledger's expiry webhook), so the table and its lease sit in
the foundation. Who a message is for is the writer's business (`target`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    Index,
    Integer,
    String,
    Text,
    and_,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, aliased, mapped_column

from core.db import Base, BigId, UTCDateTime, table_of

log = logging.getLogger(__name__)


class OutboxMessage(Base):
    """A message to send after the transaction that caused it commits.

    `target` says who it is for: a ticket sink's name, `notify:<channel>`,
    `escalation` (alerts.outbox_targets), `lead-expired` (integrations.leads.expiry).
    Rows are leased, never deleted: a worker killed mid-send leaves a lease
    that expires, and the receiver deduplicates on `idempotency_key`.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "target", "sent_at", "dead_at", "available_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(40))
    # Messages with the same aggregate go out in id order (a comment never
    # overtakes the ticket it belongs to).
    aggregate: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    available_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


OUT = table_of(OutboxMessage)


def new_key() -> str:
    return uuid.uuid4().hex


def enqueue(
    connection: Connection,
    *,
    target: str,
    kind: str,
    aggregate: str,
    payload: dict[str, Any],
    now: datetime,
    available_at: datetime | None = None,
) -> None:
    """Queue one message; `available_at` holds it back (a contact's office hours)."""
    connection.execute(
        insert(OUT).values(
            target=target,
            kind=kind,
            aggregate=aggregate,
            payload=payload,
            idempotency_key=f"{target.replace(':', '-')}-{new_key()}",
            created_at=now,
            available_at=available_at or now,
            attempts=0,
        )
    )


# --- dispatching ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    target: str
    kind: str
    payload: dict[str, Any]
    idempotency_key: str
    attempts: int


@dataclass
class DispatchReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    postponed: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s, … capped at 30 min."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 1800))


MAX_ATTEMPTS = 12  # about 6 hours of retrying before a message is declared dead


def claim(
    engine: Engine, targets: list[str], now: datetime, *, limit: int = 50, lease_s: float = 60
) -> list[Claimed]:
    """Lease up to `limit` sendable messages for `targets`, oldest first.

    A message is sendable when no earlier message of the same aggregate and
    target is still unsent: a comment never overtakes the ticket it belongs to.
    """
    if not targets:
        return []
    earlier = aliased(OUT)
    blocked = (
        select(earlier.c.id)
        .where(
            earlier.c.target == OUT.c.target,
            earlier.c.aggregate == OUT.c.aggregate,
            earlier.c.id < OUT.c.id,
            earlier.c.sent_at.is_(None),
            earlier.c.dead_at.is_(None),
        )
        .exists()
    )
    free = or_(OUT.c.leased_until.is_(None), OUT.c.leased_until < now)
    candidates = select(OUT.c.id).where(
        OUT.c.target.in_(targets),
        OUT.c.sent_at.is_(None),
        OUT.c.dead_at.is_(None),
        OUT.c.available_at <= now,
        free,
        ~blocked,
    )
    claimed: list[Claimed] = []
    with engine.begin() as connection:
        ids = connection.execute(candidates.order_by(OUT.c.id).limit(limit)).scalars().all()
        for message_id in ids:
            # The conditional UPDATE is the claim: of two dispatchers racing for
            # the same row, only one sees a row count of 1.
            row = connection.execute(
                update(OUT)
                .where(and_(OUT.c.id == message_id, OUT.c.sent_at.is_(None), free))
                .values(leased_until=now + timedelta(seconds=lease_s), attempts=OUT.c.attempts + 1)
                .returning(
                    OUT.c.id,
                    OUT.c.target,
                    OUT.c.kind,
                    OUT.c.payload,
                    OUT.c.idempotency_key,
                    OUT.c.attempts,
                )
            ).first()
            if row is not None:
                claimed.append(Claimed(*row))
    return claimed


def mark_sent(engine: Engine, message: Claimed, now: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(OUT)
            .where(OUT.c.id == message.id)
            .values(sent_at=now, leased_until=None, last_error=None)
        )


def postpone(engine: Engine, messages: list[Claimed], until: datetime) -> None:
    """Give leased messages back to be sent at `until`; not a failed attempt."""
    with engine.begin() as connection:
        for message in messages:
            connection.execute(
                update(OUT)
                .where(OUT.c.id == message.id)
                .values(available_at=until, leased_until=None, attempts=OUT.c.attempts - 1)
            )


def mark_failed(
    engine: Engine,
    message: Claimed,
    now: datetime,
    reason: str,
    *,
    permanent: bool,
    wait: timedelta = timedelta(0),
) -> bool:
    """Record a failed send; returns True when the message is now dead.
    `wait` is the receiver's own Retry-After, honoured when longer than our backoff."""
    dead = permanent or message.attempts >= MAX_ATTEMPTS
    values: dict[str, Any] = {"leased_until": None, "last_error": reason[:2000]}
    if dead:
        values["dead_at"] = now
    else:
        values["available_at"] = now + max(backoff(message.attempts), wait)
    with engine.begin() as connection:
        connection.execute(update(OUT).where(OUT.c.id == message.id).values(**values))
    return dead
