"""Retention of raw check results: how long they are kept, and the pass that removes them.

A result is kept while its UTC day is within `results_retention_days` of today:
with 14 days, on the 20th every result from the 6th on is kept and the 5th goes.
Whole days, so both backends keep exactly the same rows.

    PostgreSQL  `check_results` is partitioned by day (migration 0016,
                `integrations.partitions`). The pass creates the partitions of
                today and `results_partitions_ahead_days` ahead, moves rows that
                landed in DEFAULT into their day's partition, and detaches and
                drops the partitions whose whole range is older than the
                retention: O(1) whatever their size, and no dead rows to vacuum.
    SQLite      one ordinary table: old rows are deleted `batch_rows` at a time,
                each batch its own short transaction, at most `max_batches` per
                pass, so a big backlog never holds the write lock for long.

Called by the housekeeping pass (`alerts.housekeeping`) and by `intmon results
prune`. Every step is its own transaction that first takes a PostgreSQL
advisory lock and re-reads the catalog, so two passes at once, or one killed
half-way, leave a consistent state the next pass finishes.

Nothing a verdict cites lives here: an incident stores its evidence (the
failing answer, `alerts.evidence`) and its contract change (`contract_diff`,
with the last passing run, `integrations.contracts`) when it opens, and the
lead report reads incidents, notices, windows and the ledger, never raw results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Engine, delete, func, select, text

from core import metrics
from core.db import table_of
from core.settings import Settings
from integrations import partitions
from integrations.models import CheckResultRow
from integrations.partitions import DAY, DEFAULT, Partition, day_of

log = logging.getLogger(__name__)

T = TypeVar("T")

RESULTS = table_of(CheckResultRow)
# pg_advisory_xact_lock key of the retention pass ("intmonrt" in ASCII: a bigint).
LOCK_KEY = 0x696E746D6F6E7274
# A DDL step waits at most this long for the table's lock: better to retry at the
# next pass than to queue every writer behind a DETACH that waits on a long reader.
LOCK_TIMEOUT = "5s"


@dataclass(frozen=True, slots=True)
class Retention:
    """How long raw results are kept and how the pass paces itself (settings:
    `results_retention_days`, `results_partitions_ahead_days`)."""

    days: int = 14
    ahead_days: int = 3
    batch_rows: int = 5_000
    max_batches: int = 20

    def __post_init__(self) -> None:
        for name in ("days", "batch_rows", "max_batches"):
            if getattr(self, name) < 1:
                raise ValueError(f"retention {name} must be at least 1")
        if self.ahead_days < 0:
            raise ValueError("retention ahead_days must not be negative")

    def keep_from(self, now: datetime) -> datetime:
        """The oldest moment still kept: the start of the oldest kept day."""
        return day_of(now) - timedelta(days=self.days)


def retention_of(settings: Settings) -> Retention:
    """What the operator set (`INTMON_RESULTS_RETENTION_DAYS`, `…_PARTITIONS_AHEAD_DAYS`)."""
    return Retention(
        days=settings.results_retention_days, ahead_days=settings.results_partitions_ahead_days
    )


@dataclass
class RetentionReport:
    keep_from: datetime
    dry_run: bool = False
    partitions_created: list[str] = field(default_factory=list)
    partitions_dropped: list[str] = field(default_factory=list)
    # Rows moved out of DEFAULT into their day's new partition.
    rows_moved: int = 0
    # Rows deleted one by one: SQLite's batches, and expired rows found in DEFAULT.
    rows_deleted: int = 0
    # Rows in the partitions dropped, as PostgreSQL's statistics estimate them.
    rows_dropped_estimate: int = 0
    # SQLite: older rows are left for the next pass (it did its `max_batches`).
    backlog: bool = False

    @property
    def changed(self) -> bool:
        return bool(
            self.partitions_created
            or self.partitions_dropped
            or self.rows_moved
            or self.rows_deleted
        )

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["keep_from"] = self.keep_from.isoformat()
        return document


def prune(
    engine: Engine, retention: Retention, now: datetime, *, dry_run: bool = False
) -> RetentionReport:
    """One retention pass (or, with `dry_run`, what it would do, changing nothing)."""
    report = RetentionReport(retention.keep_from(now), dry_run=dry_run)
    if engine.dialect.name == "postgresql":
        _prune_partitions(engine, retention, now, report)
    else:
        _delete_in_batches(engine, retention, report)
    if not dry_run:
        metrics.retention_deleted.labels("partition").inc(report.rows_dropped_estimate)
        metrics.retention_deleted.labels("delete").inc(report.rows_deleted)
        if report.changed:
            log.info("retention: %s", report.as_dict())
    return report


# --- PostgreSQL --------------------------------------------------------------


def _prune_partitions(
    engine: Engine, retention: Retention, now: datetime, report: RetentionReport
) -> None:
    keep_from = report.keep_from
    last_day = day_of(now) + timedelta(days=retention.ahead_days)
    with engine.connect() as connection:
        existing = {p.name: p for p in partitions.list_partitions(connection)}
        waiting = _days_in_default(connection, last_day)
    expired_in_default = sum(count for day, count in waiting.items() if day < keep_from)
    wanted = sorted({day for day in waiting if day >= keep_from} | set(_days(now, last_day)))
    to_create = [day for day in wanted if partitions.name_of(day) not in existing]
    to_drop = [p for p in existing.values() if p.upper is not None and p.upper <= keep_from]
    if report.dry_run:
        report.partitions_created = [partitions.name_of(day) for day in to_create]
        report.rows_moved = sum(waiting.get(day, 0) for day in to_create)
        report.rows_deleted = expired_in_default
        report.partitions_dropped = [p.name for p in to_drop]
        report.rows_dropped_estimate = sum(p.rows_estimate or 0 for p in to_drop)
        return
    if expired_in_default:
        report.rows_deleted += _step(engine, lambda c: _delete_expired_default(c, keep_from))
    for day in to_create:
        moved = _step(engine, partial(_ensure_day, day=day))
        if moved is not None:  # None: a pass running at the same time made it
            report.partitions_created.append(partitions.name_of(day))
            report.rows_moved += moved
    for partition in to_drop:
        dropped = _step(engine, partial(_drop_if_present, partition=partition))
        if dropped:
            report.partitions_dropped.append(partition.name)
            report.rows_dropped_estimate += partition.rows_estimate or 0


def _step(engine: Engine, work: Callable[[Connection], T]) -> T:
    """One step in its own transaction, under the retention lock."""
    with engine.begin() as connection:
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        return work(connection)


def _days(first: datetime, last: datetime) -> list[datetime]:
    day, days = day_of(first), []
    while day <= last:
        days.append(day)
        day += DAY
    return days


def _days_in_default(connection: Connection, last_day: datetime) -> dict[datetime, int]:
    """UTC days with rows waiting in DEFAULT (up to `last_day`; a row further
    ahead, from a partner's clock far off, stays there) → how many."""
    rows = connection.execute(
        text(
            f"SELECT date_trunc('day', started_at AT TIME ZONE 'UTC') AS day, count(*) "
            f"FROM {DEFAULT} WHERE started_at < :until GROUP BY 1"
        ),
        {"until": last_day + DAY},
    ).all()
    return {day_of(day.replace(tzinfo=UTC)): count for day, count in rows}


def _delete_expired_default(connection: Connection, keep_from: datetime) -> int:
    deleted = connection.execute(
        text(f"DELETE FROM {DEFAULT} WHERE started_at < :keep_from"), {"keep_from": keep_from}
    ).rowcount
    return max(deleted, 0)


def _ensure_day(connection: Connection, *, day: datetime) -> int | None:
    return partitions.ensure_day(connection, day)


def _drop_if_present(connection: Connection, *, partition: Partition) -> bool:
    """Drop it unless a pass running at the same time already did."""
    if not partitions.exists(connection, partition.name):
        return False
    partitions.drop(connection, partition)
    return True


# --- SQLite ------------------------------------------------------------------


def _delete_in_batches(engine: Engine, retention: Retention, report: RetentionReport) -> None:
    old = RESULTS.c.started_at < report.keep_from
    if report.dry_run:
        with engine.connect() as connection:
            query = select(func.count()).select_from(RESULTS).where(old)
            count = connection.execute(query).scalar_one()
        report.rows_deleted = int(count)
        report.backlog = count > retention.batch_rows * retention.max_batches
        return
    # Read first: housekeeping runs every few seconds, and most passes find
    # nothing, so they need not take SQLite's write lock at all.
    if not _any(engine, old):
        return
    batch = select(RESULTS.c.id).where(old).limit(retention.batch_rows)
    for _ in range(retention.max_batches):
        with engine.begin() as connection:
            deleted = connection.execute(delete(RESULTS).where(RESULTS.c.id.in_(batch))).rowcount
        report.rows_deleted += deleted
        if deleted < retention.batch_rows:
            return
    report.backlog = _any(engine, old)


def _any(engine: Engine, condition: ColumnElement[bool]) -> bool:
    with engine.connect() as connection:
        found = connection.execute(select(RESULTS.c.id).where(condition).limit(1)).first()
    return found is not None


def oldest_result(engine: Engine) -> datetime | None:
    """When the oldest raw result ran (None: there is none). Each partition
    answers from its started_at index."""
    with engine.connect() as connection:
        value = connection.execute(select(func.min(RESULTS.c.started_at))).scalar()
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
