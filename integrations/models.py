"""Tables owned by `integrations/`: the registry, check results and current check state."""

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
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, BigId, UTCDateTime
from core.metrics import DURATION_BUCKETS


class Integration(Base):
    """One watched partner API as last applied from the integrations file.

    `spec` holds the validated integration (secrets as references only).
    Removed integrations keep their row (`removed_at`) so history stays readable.
    """

    __tablename__ = "integrations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    client: Mapped[str] = mapped_column(String(64), index=True)
    tier: Mapped[str] = mapped_column(String(20))
    base_url: Mapped[str] = mapped_column(String(2000))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    spec_hash: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CheckResultRow(Base):
    """One run of one check. Append-only; written a batch at a time."""

    __tablename__ = "check_results"
    __table_args__ = (
        Index(
            "ix_check_results_integration_check_started",
            "integration_id",
            "check_name",
            "started_at",
        ),
        Index("ix_check_results_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(String(64), ForeignKey("integrations.id"))
    check_name: Mapped[str] = mapped_column(String(64))
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_s: Mapped[float] = mapped_column(Float)
    http_status: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Ran inside a declared maintenance window: shown, but never counted
    # towards an incident.
    maintenance: Mapped[bool] = mapped_column(Boolean, default=False)
    # A connectivity failure while intmon's own network was failing (a platform
    # outage): shown, but it neither extends nor breaks a streak.
    inhibited: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class CheckState(Base):
    """The latest result of each check and how long it has been up or down.

    Upserted with every batch; the status views and the `up` gauge read it
    instead of scanning results.
    """

    __tablename__ = "check_state"

    integration_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("integrations.id"), primary_key=True
    )
    check_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(32))
    up: Mapped[bool] = mapped_column(Boolean)
    # Results in a row with the same `up` value, and when that streak began.
    streak: Mapped[int] = mapped_column(Integer)
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_s: Mapped[float] = mapped_column(Float)
    http_status: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    certificate_expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The failure family of the latest result outside maintenance (None when it
    # passed) and how many results in a row had that family: what opens and
    # resolves incidents.
    family: Mapped[str | None] = mapped_column(String(32), nullable=True)
    family_streak: Mapped[int] = mapped_column(Integer, default=0)
    # When the first result of that family in the current run of it ran: where an
    # incident of the family begins (results in maintenance neither start nor break it).
    family_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    in_maintenance: Mapped[bool] = mapped_column(Boolean, default=False)
    # The latest result was held back by a platform outage (see CheckResultRow.inhibited).
    inhibited: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class CheckContract(Base):
    """The response contract learned from a check's passing answers (core.vocabulary.shapes).

    Upserted from the sampled shapes of passing results in the worker's batch
    transaction; compared with the failing answer when an auth or contract
    incident opens (`integrations.contracts`).
    """

    __tablename__ = "check_contracts"

    integration_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("integrations.id"), primary_key=True
    )
    check_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    shape: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Compared instead of the JSON (PostgreSQL's json type has no equality).
    shape_hash: Mapped[str] = mapped_column(String(64))
    # The first and the latest passing answer sampled with this shape.
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    learned_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MaintenanceWindowRow(Base):
    """A declared maintenance window; `source` says whether the YAML or the CLI owns it."""

    __tablename__ = "maintenance_windows"
    __table_args__ = (UniqueConstraint("integration_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(String(64), ForeignKey("integrations.id"))
    name: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))  # config | cli
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CheckSkip(Base):
    """The latest time a due run of a check was skipped on purpose, and why
    (`integrations.staleness`): the budget left no room, or the previous run was
    still in flight. Written in batches by `integrations.skips.SkipLog`; a result
    newer than `skipped_at` makes it history."""

    __tablename__ = "check_skips"

    integration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    check_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(16))
    skipped_at: Mapped[datetime] = mapped_column(UTCDateTime())


def latency_column(upper_s: float | None) -> str:
    """The rollup column counting results whose duration falls in the latency bucket
    ending at `upper_s` (None: above the last bound), e.g. `latency_le_250ms`."""
    if upper_s is None:
        return "latency_over_last"
    return f"latency_le_{round(upper_s * 1000)}ms"


# Non-cumulative buckets with the bounds of the duration metric's histogram, one
# integer column each: set-based SQL sums columns the same way on SQLite and
# PostgreSQL, which an array would not allow.
LATENCY_BOUNDS: tuple[float | None, ...] = (*DURATION_BUCKETS, None)
LATENCY_COLUMNS: tuple[str, ...] = tuple(latency_column(bound) for bound in LATENCY_BOUNDS)


class CheckRollup(Base):
    """Check results summed per (integration, check, hour or day, outcome).

    Written by `integrations.rollups` (hour rows from raw results, day rows from
    hour rows) and read by `integrations.uptime`. `maintenance` counts results in
    a maintenance window; `inhibited` those held back by a platform outage
    outside one: neither counts towards availability. Latency is a histogram
    (columns `latency_*`, see LATENCY_COLUMNS) with the buckets of
    `intmon_check_duration_seconds`, so p50/p95/p99 are read as Prometheus does.
    """

    __tablename__ = "check_rollups"
    __table_args__ = (Index("ix_check_rollups_grain_bucket", "grain", "bucket_start"),)

    grain: Mapped[str] = mapped_column(String(8), primary_key=True)  # hour | day
    integration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    check_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    maintenance: Mapped[int] = mapped_column(Integer)
    inhibited: Mapped[int] = mapped_column(Integer)
    duration_sum_s: Mapped[float] = mapped_column(Float)
    latency_le_50ms: Mapped[int] = mapped_column(Integer)
    latency_le_100ms: Mapped[int] = mapped_column(Integer)
    latency_le_250ms: Mapped[int] = mapped_column(Integer)
    latency_le_500ms: Mapped[int] = mapped_column(Integer)
    latency_le_1000ms: Mapped[int] = mapped_column(Integer)
    latency_le_2500ms: Mapped[int] = mapped_column(Integer)
    latency_le_5000ms: Mapped[int] = mapped_column(Integer)
    latency_over_last: Mapped[int] = mapped_column(Integer)


class RollupWatermark(Base):
    """How far rollups are written: one row per grain. `rolled_until` is the end of
    the last complete bucket written (everything before it is rolled up).

    The rollup pass updates its grain's row first thing in its transaction: the
    row lock (PostgreSQL) or the write lock (SQLite) makes concurrent passes run
    one after the other."""

    __tablename__ = "rollup_watermarks"

    grain: Mapped[str] = mapped_column(String(8), primary_key=True)
    rolled_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
