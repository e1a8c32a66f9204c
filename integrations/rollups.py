"""Rollups: check results summed per hour and per day, written by a housekeeping pass.

The leader's housekeeping (`alerts.housekeeping`) calls `roll_up` every tick. It
is a pass over the database rather than work in the worker's batch on purpose:
it costs the workers nothing per check (their hot path stays one COPY and one
upsert), and one `INSERT … SELECT … GROUP BY` per pass sums a whole hour of
every integration at once.

Each pass, in one transaction:

1. claims the watermark rows (an UPDATE: PostgreSQL's row lock, SQLite's write
   lock), so passes of two schedulers at a fail-over moment run one after the other;
2. deletes and re-inserts the hour rows of every complete hour (ended `SETTLE`
   ago) since the hour watermark, plus the two hours before it again (a check's
   result is stored when it ends, so an hour's results can arrive after the
   hour), at most `MAX_STEP` at a time: after downtime it catches up over a few
   passes;
3. does the same for day rows, from hour rows, for every day that is complete.

Rewriting a bucket range from its sources is idempotent: a second pass, or a
pass killed half-way (its transaction rolls back), leaves the same rows.
`prune` applies the rollups' own retention in bounded batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, case, delete, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.db import table_of, utcnow
from core.settings import Settings
from integrations.models import LATENCY_COLUMNS, CheckResultRow, CheckRollup, RollupWatermark
from integrations.rollup_buckets import (
    DAY,
    HOUR,
    Grain,
    as_utc,
    bucket_of,
    ceil_to,
    floor_to,
    latency_counts,
)

# An hour is rolled up this long after it ends: a check's result is stored when the
# check ends, so results of checks started late in the hour (timeout_s ≤ 300) are
# in by then. Rarer later ones are counted by the next pass (REDO).
SETTLE = timedelta(minutes=5)
# Results stored this long after their hour ended are still counted by the next pass.
REDO = 2 * HOUR
# The most hours one pass rolls up: bounds a catch-up pass's transaction.
MAX_STEP = 48 * HOUR
GRAINS: tuple[Grain, ...] = ("hour", "day")

rollups = table_of(CheckRollup)
results = table_of(CheckResultRow)
watermarks = table_of(RollupWatermark)


@dataclass(frozen=True, slots=True)
class RollupPass:
    """What one pass rewrote: [from, until) of hours and of days (None: nothing)."""

    hours: tuple[datetime, datetime] | None
    days: tuple[datetime, datetime] | None
    hour_watermark: datetime | None

    def as_dict(self) -> dict[str, Any]:
        def span(found: tuple[datetime, datetime] | None) -> list[str] | None:
            return [found[0].isoformat(), found[1].isoformat()] if found else None

        return {
            "hours": span(self.hours),
            "days": span(self.days),
            "hour_watermark": self.hour_watermark.isoformat() if self.hour_watermark else None,
        }


def roll_up(engine: Engine, now: datetime, *, max_step: timedelta = MAX_STEP) -> RollupPass:
    """One pass: roll up the complete hours and days not yet rolled up (see module).
    Until another hour completes there is nothing to do, and the pass reads one row."""
    complete = last_complete_hour(now)
    current = watermark(engine)
    if current is not None and current >= complete:
        return RollupPass(None, None, current)
    _ensure_watermarks(engine)
    with engine.begin() as connection:
        _claim(connection, now)
        marks = _read_watermarks(connection)
        hour_mark = marks["hour"]
        if hour_mark is not None and hour_mark >= complete:
            return RollupPass(None, None, hour_mark)  # a concurrent pass just did it
        if hour_mark is None:
            earliest = connection.execute(select(func.min(results.c.started_at))).scalar()
            first = as_utc(earliest) if earliest is not None else now
            start = floor_to(first, HOUR)
            last_done = start
        else:
            start = hour_mark - REDO
            last_done = hour_mark
        until = min(complete, last_done + max_step)
        hours = None
        if until > start:
            rewrite_hours(connection, start, until)
            hours = (start, until)
        new_mark = max(until, hour_mark) if hour_mark else until
        _set_watermark(connection, "hour", new_mark, now)
        days = _roll_up_days(connection, marks["day"], start, new_mark, now)
        return RollupPass(hours, days, new_mark)


def last_complete_hour(now: datetime) -> datetime:
    """The end of the last hour a pass at `now` rolls up (see SETTLE)."""
    return floor_to(now - SETTLE, HOUR)


def _roll_up_days(
    connection: Connection,
    day_mark: datetime | None,
    hours_from: datetime,
    hour_mark: datetime,
    now: datetime,
) -> tuple[datetime, datetime] | None:
    """Rewrite the day rows of complete days whose hours this pass touched, and of
    any complete day not rolled up yet."""
    start = floor_to(hours_from, DAY)
    if day_mark is not None:
        start = min(start, day_mark)
    until = floor_to(hour_mark, DAY)
    if until <= start:
        return None
    rewrite_days(connection, start, until)
    _set_watermark(connection, "day", max(until, day_mark) if day_mark else until, now)
    return (start, until)


def rewrite_hours(connection: Connection, start: datetime, until: datetime) -> None:
    """Replace the hour rows of [start, until) (whole hours) with sums of raw results."""
    dialect = connection.dialect.name
    hour = bucket_of(results.c.started_at, "hour", dialect)
    maintenance = func.sum(_when(results.c.maintenance))
    inhibited = func.sum(_when(results.c.inhibited & ~results.c.maintenance))
    sums = latency_counts(results.c.duration_s)
    query = (
        select(
            literal("hour"),
            results.c.integration_id,
            results.c.check_name,
            hour,
            results.c.outcome,
            func.count(),
            maintenance,
            inhibited,
            func.sum(results.c.duration_s),
            *(sums[name] for name in LATENCY_COLUMNS),
        )
        .where(results.c.started_at >= start, results.c.started_at < until)
        .group_by(results.c.integration_id, results.c.check_name, hour, results.c.outcome)
    )
    _replace(connection, "hour", start, until, query)


def rewrite_days(connection: Connection, start: datetime, until: datetime) -> None:
    """Replace the day rows of [start, until) (whole days) with sums of hour rows."""
    day = bucket_of(rollups.c.bucket_start, "day", connection.dialect.name)
    summed = ("count", "maintenance", "inhibited", "duration_sum_s", *LATENCY_COLUMNS)
    query = (
        select(
            literal("day"),
            rollups.c.integration_id,
            rollups.c.check_name,
            day,
            rollups.c.outcome,
            *(func.sum(rollups.c[name]) for name in summed),
        )
        .where(
            rollups.c.grain == "hour",
            rollups.c.bucket_start >= start,
            rollups.c.bucket_start < until,
        )
        .group_by(rollups.c.integration_id, rollups.c.check_name, day, rollups.c.outcome)
    )
    _replace(connection, "day", start, until, query)


COLUMNS = (
    "grain",
    "integration_id",
    "check_name",
    "bucket_start",
    "outcome",
    "count",
    "maintenance",
    "inhibited",
    "duration_sum_s",
    *LATENCY_COLUMNS,
)


def _replace(
    connection: Connection, grain: Grain, start: datetime, until: datetime, query: Any
) -> None:
    connection.execute(
        delete(rollups).where(
            rollups.c.grain == grain,
            rollups.c.bucket_start >= start,
            rollups.c.bucket_start < until,
        )
    )
    connection.execute(insert(rollups).from_select(list(COLUMNS), query))


def _when(condition: Any) -> Any:
    return case((condition, 1), else_=0)


def _ensure_watermarks(engine: Engine) -> None:
    """The watermark rows exist (inserted once, racing passes notwithstanding)."""
    module: Any = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = module.insert(watermarks).on_conflict_do_nothing(index_elements=["grain"])
    with engine.begin() as connection:
        connection.execute(statement, [{"grain": grain} for grain in GRAINS])


def _claim(connection: Connection, now: datetime) -> None:
    # The first statement writes: SQLite takes its write lock before anything is
    # read (no stale snapshot to upgrade), PostgreSQL locks the rows until commit.
    connection.execute(update(watermarks).values(updated_at=now))


def _read_watermarks(connection: Connection) -> dict[str, datetime | None]:
    rows = connection.execute(select(watermarks.c.grain, watermarks.c.rolled_until)).all()
    found: dict[str, datetime | None] = dict.fromkeys(GRAINS)
    found.update({grain: until for grain, until in rows})
    return found


def _set_watermark(connection: Connection, grain: Grain, until: datetime, now: datetime) -> None:
    connection.execute(
        update(watermarks)
        .where(watermarks.c.grain == grain)
        .values(rolled_until=until, updated_at=now)
    )


def watermark(engine: Engine, grain: Grain = "hour") -> datetime | None:
    """The end of what is rolled up at `grain` (None before the first pass)."""
    with engine.connect() as connection:
        return connection.execute(
            select(watermarks.c.rolled_until).where(watermarks.c.grain == grain)
        ).scalar()


def lag_seconds(engine: Engine, now: datetime | None = None) -> float | None:
    """Seconds between now and the hour watermark: at least the current hour's age
    (only complete hours are rolled up); more means passes are not keeping up."""
    mark = watermark(engine)
    if mark is None:
        return None
    return ((now or utcnow()) - mark).total_seconds()


def rebuild(
    engine: Engine, start: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime] | None:
    """Rewrite the rollups of [start, until) from raw results (hours outward to
    whole hours; default: everything raw results still cover, up to the last
    complete hour). A start before the earliest raw result is moved up to it:
    rollups of hours whose results retention removed are kept, not zeroed.
    Returns the hours rewritten, or None when there was nothing to rebuild."""
    _ensure_watermarks(engine)
    with engine.begin() as connection:
        _claim(connection, now)
        earliest = connection.execute(select(func.min(results.c.started_at))).scalar()
        if earliest is None:
            return None
        first = floor_to(as_utc(earliest), HOUR)
        begin = max(floor_to(start, HOUR), first) if start else first
        complete = last_complete_hour(now)
        end = min(ceil_to(until, HOUR), complete) if until else complete
        if end <= begin:
            return None
        rewrite_hours(connection, begin, end)
        marks = _read_watermarks(connection)
        hour_mark = max(end, marks["hour"]) if marks["hour"] else end
        _set_watermark(connection, "hour", hour_mark, now)
        # Whole days only, and only those whose hour rows all come from this rebuild
        # or were there before it.
        day_end = min(ceil_to(end, DAY), floor_to(hour_mark, DAY))
        day_start = floor_to(begin, DAY)
        if day_end > day_start:
            rewrite_days(connection, day_start, day_end)
            day_mark = marks["day"]
            _set_watermark(connection, "day", max(day_end, day_mark) if day_mark else day_end, now)
        return (begin, end)


def roll_up_again(
    engine: Engine, start: datetime, until: datetime, now: datetime
) -> tuple[datetime, datetime] | None:
    """After results were stored for a past span [start, until] (a backfill), rewrite
    the hours of it already rolled up; later hours are the next pass's work."""
    mark = watermark(engine)
    if mark is None or start >= mark:
        return None
    return rebuild(engine, start, min(floor_to(until, HOUR) + HOUR, mark), now)


@dataclass(frozen=True, slots=True)
class RollupRetention:
    """Days rollups are kept (settings `rollup_hour_retention_days`, `…_day_…`)."""

    hour_days: float = 90.0
    day_days: float = 730.0


def rollup_retention_of(settings: Settings) -> RollupRetention:
    """What the operator set (`INTMON_ROLLUP_HOUR_RETENTION_DAYS`, `…_DAY_…`)."""
    return RollupRetention(settings.rollup_hour_retention_days, settings.rollup_day_retention_days)


def housekeep_rollups(
    engine: Engine, now: datetime, retention: RollupRetention | None = None
) -> RollupPass:
    """The leader's housekeeping part: one rollup pass, then retention."""
    done = roll_up(engine, now)
    retention = retention or RollupRetention()
    prune(
        engine, now, hour_retention_days=retention.hour_days, day_retention_days=retention.day_days
    )
    return done


@dataclass(frozen=True, slots=True)
class Pruned:
    hours: int
    days: int


def prune(
    engine: Engine,
    now: datetime,
    *,
    hour_retention_days: float,
    day_retention_days: float,
    batch: int = 5000,
    max_batches: int = 20,
) -> Pruned:
    """Delete hour rows older than `hour_retention_days` and day rows older than
    `day_retention_days`, a batch (about `batch` rows) per transaction and at most
    `max_batches` batches per call: a big backlog is removed over several passes
    instead of in one long transaction."""
    hours = _prune(engine, "hour", now - timedelta(days=hour_retention_days), batch, max_batches)
    days = _prune(engine, "day", now - timedelta(days=day_retention_days), batch, max_batches)
    return Pruned(hours, days)


def _prune(engine: Engine, grain: Grain, cutoff: datetime, batch: int, max_batches: int) -> int:
    removed = 0
    for _ in range(max_batches):
        with engine.begin() as connection:
            old = (rollups.c.grain == grain) & (rollups.c.bucket_start < cutoff)
            # The bucket start `batch` rows in: delete up to and including it.
            boundary = connection.execute(
                select(rollups.c.bucket_start)
                .where(old)
                .order_by(rollups.c.bucket_start)
                .offset(batch)
                .limit(1)
            ).scalar()
            condition = old if boundary is None else old & (rollups.c.bucket_start <= boundary)
            removed += connection.execute(delete(rollups).where(condition)).rowcount
        if boundary is None:
            break
    return removed
