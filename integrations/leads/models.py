"""Tables of the lead ledger.

`leads` is the delivery queue (one row per lead and integration, its state
changes); `lead_attempts` is the ledger (append-only: every attempt, hold and
expiry, never updated or deleted); `lead_dispatch` leases one integration's
queue to one dispatcher at a time, which is what keeps arrival order;
`change_notices` holds the brokers' announcements.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, BigId, UTCDateTime

LEAD_STATES = ("queued", "held", "delivered", "rejected", "expired")


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("integration_id", "lead_id"),
        Index("ix_leads_integration_state_next", "integration_id", "state", "next_attempt_at"),
        Index("ix_leads_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(String(64), ForeignKey("integrations.id"))
    # The platform's id of the lead: the idempotency key of every attempt.
    lead_id: Mapped[str] = mapped_column(String(128))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16))
    # Sends started (claims), counted before the request goes out: more sends
    # than recorded answers means an answer was lost.
    sends: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    broker_lead_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    last_outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LeadAttempt(Base):
    """One ledger entry. `attempt` counts sends (a hold or expiry carries the count so far)."""

    __tablename__ = "lead_attempts"
    __table_args__ = (
        UniqueConstraint("integration_id", "lead_id", "attempt", "outcome"),
        Index("ix_lead_attempts_integration_at", "integration_id", "at"),
        # A broker's postback finds its lead by the broker's id (integrations.postbacks).
        Index("ix_lead_attempts_integration_broker_lead", "integration_id", "broker_lead_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(String(64))
    lead_id: Mapped[str] = mapped_column(String(128))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(8))  # deliver | record
    outcome: Mapped[str] = mapped_column(String(32))
    # The probe's classification (timeout, auth_failure, …) when a request was made.
    check_outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    http_status: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    broker_lead_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Method, URL path and body as sent, secrets as their `${…}` references only.
    request: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class LeadDispatch(Base):
    __tablename__ = "lead_dispatch"

    integration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Who holds the lease (a random token per pass), so a dispatcher whose lease
    # lapsed cannot renew or release a lease another one has taken since.
    owner: Mapped[str | None] = mapped_column(String(32), nullable=True)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ChangeNotice(Base):
    __tablename__ = "change_notices"
    __table_args__ = (UniqueConstraint("integration_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(String(64), ForeignKey("integrations.id"))
    name: Mapped[str] = mapped_column(String(64))
    announced_at: Mapped[datetime] = mapped_column(UTCDateTime())
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime())
    description: Mapped[str] = mapped_column(Text)
    breaking: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(16))  # config | cli | api
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
