"""The `heartbeats` table: one row per heartbeat declared in the integrations file."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, BigId, UTCDateTime


class HeartbeatState:
    """A heartbeat's state, as stored (plain strings: they are also API and CLI words)."""

    NEW = "new"  # no ping yet: nothing is expected until the job first pings
    UP = "up"
    MISSED = "missed"  # no ping by next due + grace
    FAILED = "failed"  # the job pinged /fail

    ALL = (NEW, UP, MISSED, FAILED)


class Heartbeat(Base):
    """A push monitor: its secret ping key, its latest pings, and when the next one is due.

    The ping key is a capability, like healthchecks.io's check UUID: whoever holds
    the URL may ping, nothing more. It is stored as is (not as a digest) because
    support and the owning client must be able to read the ping URL again
    (`intmon heartbeats list`, `GET /api/heartbeats`); 144 random bits, unique.

    `alert_at` (next due + grace) is what the detector's query reads; NULL while
    nothing is expected (never pinged, or removed from the file). It is not indexed,
    on purpose: a ping moves it, and an update that changes no indexed column is HOT
    on PostgreSQL (no index entries written, the old row version pruned on its page;
    the table keeps room for that, migration 0025). The detector's pass scans the
    table instead, a few milliseconds at 10,000 heartbeats.
    The schedule is copied from the spec on `intmon apply`, so the ping writer and
    the detector compute the next due time without reading integration specs.
    """

    __tablename__ = "heartbeats"
    __table_args__ = (UniqueConstraint("integration_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(String(64), ForeignKey("integrations.id"))
    name: Mapped[str] = mapped_column(String(64))
    ping_key: Mapped[str] = mapped_column(String(64), unique=True)
    period_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    schedule: Mapped[str | None] = mapped_column(String(120), nullable=True)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    grace_s: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    last_ping_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_start_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_fail_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The latest ping's body (start, success or fail), redacted and capped.
    last_body: Mapped[str] = mapped_column(Text, default="")
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    alert_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
