"""Availability and latency over any period, from rollups and raw results.

A period is cut into segments, each read from the cheapest source that is exact
for it (`plan`): whole days from day rows, whole hours from hour rows (both only
up to their watermarks, `integrations.rollups`), and the edges inside an hour
and the tail not yet rolled up from raw results. Where raw results are gone
(retention) an edge is counted in whole hours, and where hour rows are gone in
whole days; everywhere else the figures equal a count over raw results.

Results in maintenance and results held back by a platform outage are shown
but never counted as up or down: availability is up / (up + down).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, Select, and_, case, func, select, true

from core.db import table_of
from core.vocabulary.outcomes import Outcome
from integrations.models import (
    LATENCY_COLUMNS,
    CheckResultRow,
    CheckRollup,
    CheckState,
    RollupWatermark,
)
from integrations.rollup_buckets import (
    DAY,
    HOUR,
    as_utc,
    bucket_of,
    ceil_to,
    floor_to,
    latency_counts,
    quantile,
)

UP_OUTCOMES = tuple(outcome.value for outcome in Outcome if outcome.is_up)

rollups = table_of(CheckRollup)
results = table_of(CheckResultRow)
watermarks = table_of(RollupWatermark)


@dataclass(frozen=True, slots=True)
class Availability:
    integration_id: str
    check_name: str | None  # None when summed over the integration's checks
    start: datetime
    end: datetime
    total: int  # results in the period
    up: int  # results whose outcome is up (Outcome.is_up), outside maintenance/inhibited
    down: int  # results not up, outside maintenance/inhibited
    maintenance: int  # results in maintenance (shown separately, not counted)
    inhibited: int  # held back by a platform outage, outside maintenance (not counted)

    @property
    def ratio(self) -> float | None:
        """up / (up + down); None when nothing in the period counted."""
        counted = self.up + self.down
        return self.up / counted if counted else None


@dataclass(frozen=True, slots=True)
class LatencyPoint:
    hour: datetime
    count: int
    p50_s: float | None
    p95_s: float | None
    p99_s: float | None


Source = Literal["raw", "hour", "day"]


@dataclass(frozen=True, slots=True)
class Segment:
    source: Source
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Coverage:
    """What each source holds: rollups up to their watermarks (None: none yet),
    the earliest hour row left by retention, the earliest raw result kept."""

    hour_mark: datetime | None
    day_mark: datetime | None
    earliest_hour: datetime | None
    earliest_raw: datetime | None


def plan(start: datetime, end: datetime, coverage: Coverage) -> list[Segment]:
    """The segments [start, end) is read from (pure: see the module docstring)."""
    if end <= start:
        return []
    hour_mark = coverage.hour_mark
    if hour_mark is None or hour_mark <= start:
        return [Segment("raw", start, end)]
    raw_from = coverage.earliest_raw
    rolled_end = min(end, hour_mark)
    h0, h1 = ceil_to(start, HOUR), floor_to(rolled_end, HOUR)
    # An edge hour with no raw results kept in it: counted whole from its hour row.
    if h0 > start and (raw_from is None or h0 <= raw_from):
        h0 = floor_to(start, HOUR)
    if h1 < end and h1 + HOUR <= hour_mark and (raw_from is None or h1 + HOUR <= raw_from):
        h1 += HOUR
    if h0 >= h1:
        return [Segment("raw", start, end)]
    segments = [Segment("raw", start, h0)] if start < h0 else []
    segments += _whole_hours(h0, h1, coverage)
    if h1 < end:
        segments.append(Segment("raw", h1, end))
    return segments


def _whole_hours(h0: datetime, h1: datetime, coverage: Coverage) -> list[Segment]:
    day_mark = coverage.day_mark
    if day_mark is None:
        return [Segment("hour", h0, h1)]
    d0, d1 = ceil_to(h0, DAY), min(floor_to(h1, DAY), day_mark)
    earliest_hour = coverage.earliest_hour or coverage.hour_mark
    # Hour rows gone (retention) at the start: counted in whole days.
    if earliest_hour is not None and h0 < earliest_hour and floor_to(h0, DAY) < day_mark:
        d0 = floor_to(h0, DAY)
    if d0 >= d1:
        return [Segment("hour", h0, h1)]
    segments = [Segment("hour", h0, d0)] if h0 < d0 else []
    segments.append(Segment("day", d0, d1))
    if d1 < h1:
        segments.append(Segment("hour", d1, h1))
    return segments


def coverage(connection: Connection) -> Coverage:
    marks = dict(connection.execute(select(watermarks.c.grain, watermarks.c.rolled_until)).all())
    earliest_hour = connection.execute(
        select(func.min(rollups.c.bucket_start)).where(rollups.c.grain == "hour")
    ).scalar()
    earliest_raw = connection.execute(select(func.min(results.c.started_at))).scalar()
    return Coverage(
        hour_mark=marks.get("hour"),
        day_mark=marks.get("day"),
        earliest_hour=_as_datetime(earliest_hour),
        earliest_raw=_as_datetime(earliest_raw),
    )


def availability(
    engine: Engine,
    start: datetime,
    end: datetime,
    *,
    integration_ids: Sequence[str] | None = None,
    per_check: bool = False,
) -> list[Availability]:
    """Availability of every integration with results in [start, end) (and of each
    of `integration_ids`, with or without), summed over its checks or per check."""
    if integration_ids is not None and not integration_ids:
        return []
    counts: dict[tuple[str, str | None], list[int]] = {}
    with engine.connect() as connection:
        for segment in plan(start, end, coverage(connection)):
            for integration, check, *numbers in _segment_counts(
                connection, segment, integration_ids
            ):
                key = (integration, check if per_check else None)
                found = counts.setdefault(key, [0, 0, 0, 0])
                for index, number in enumerate(numbers):
                    found[index] += int(number or 0)
    if integration_ids is not None and not per_check:
        for integration in integration_ids:
            counts.setdefault((integration, None), [0, 0, 0, 0])
    return [
        _availability(integration, check, start, end, *numbers)
        for (integration, check), numbers in sorted(counts.items(), key=_order)
    ]


def _order(item: tuple[tuple[str, str | None], list[int]]) -> tuple[str, str]:
    (integration, check), _ = item
    return integration, check or ""


def _availability(
    integration: str,
    check: str | None,
    start: datetime,
    end: datetime,
    total: int,
    up: int,
    maintenance: int,
    inhibited: int,
) -> Availability:
    down = total - up - maintenance - inhibited
    return Availability(integration, check, start, end, total, up, down, maintenance, inhibited)


def _segment_counts(
    connection: Connection, segment: Segment, integration_ids: Sequence[str] | None
) -> Iterable[Any]:
    """(integration, check, total, up, maintenance, inhibited) per check in a segment."""
    if segment.source == "raw":
        table, moment = results, results.c.started_at
        counted = and_(~results.c.maintenance, ~results.c.inhibited)
        total: Any = func.count()
        up = func.sum(case((and_(results.c.outcome.in_(UP_OUTCOMES), counted), 1), else_=0))
        maintenance = func.sum(case((results.c.maintenance, 1), else_=0))
        inhibited = func.sum(case((and_(results.c.inhibited, ~results.c.maintenance), 1), else_=0))
        conditions = []
    else:
        table, moment = rollups, rollups.c.bucket_start
        total = func.sum(rollups.c.count)
        up_count = rollups.c.count - rollups.c.maintenance - rollups.c.inhibited
        up = func.sum(case((rollups.c.outcome.in_(UP_OUTCOMES), up_count), else_=0))
        maintenance = func.sum(rollups.c.maintenance)
        inhibited = func.sum(rollups.c.inhibited)
        conditions = [rollups.c.grain == segment.source]
    conditions += [moment >= segment.start, moment < segment.end]
    numbers = (
        total.label("total"),
        up.label("up"),
        maintenance.label("maintenance"),
        inhibited.label("inhibited"),
    )
    if integration_ids is not None and connection.dialect.name == "postgresql":
        return connection.execute(_per_check(table, conditions, numbers, integration_ids)).all()
    if integration_ids is not None:
        conditions.append(table.c.integration_id.in_(list(integration_ids)))
    query = (
        select(table.c.integration_id, table.c.check_name, *numbers)
        .where(*conditions)
        .group_by(table.c.integration_id, table.c.check_name)
    )
    return connection.execute(query).all()


def _per_check(
    table: Any, conditions: list[Any], numbers: tuple[Any, ...], integration_ids: Sequence[str]
) -> Select[Any]:
    """PostgreSQL, some integrations (a board's page, one integration): each check's
    counts (one `check_state` row per check that ever ran) read along its own index
    range, (integration, check, started_at) for raw results and the rollups' key
    for rollups. Grouping the period's rows of every integration and keeping the
    page's read all of them: 1,000 integrations, a 24 h board, 65 ms against 5."""
    check = (
        select(CheckState.integration_id, CheckState.check_name)
        .where(CheckState.integration_id.in_(list(integration_ids)))
        .subquery("check_")
    )
    counted = (
        select(*numbers)
        .where(
            table.c.integration_id == check.c.integration_id,
            table.c.check_name == check.c.check_name,
            *conditions,
        )
        .lateral("counted")
    )
    return (
        select(check.c.integration_id, check.c.check_name, *counted.c)
        .select_from(check)
        .join(counted, true())
        .where(counted.c.total > 0)  # an aggregate of no rows is a row of zeros
    )


def latency_by_hour(
    engine: Engine,
    integration_id: str,
    check_name: str | None,
    start: datetime,
    end: datetime,
) -> list[LatencyPoint]:
    """p50/p95/p99 per hour of one check (or all of an integration's checks), for
    every hour starting in [floor(start), end): from hour rows where rolled up,
    from raw results after the watermark. An hour without results has count 0."""
    first = floor_to(start, HOUR)
    if end <= first:
        return []
    histograms: dict[datetime, list[int]] = {}
    with engine.connect() as connection:
        mark = coverage(connection).hour_mark
        rolled_end = min(end, mark) if mark else first
        if rolled_end > first:
            _add_rollup_histograms(
                connection, histograms, integration_id, check_name, first, rolled_end
            )
        raw_from = max(first, rolled_end)
        if raw_from < end:
            _add_raw_histograms(connection, histograms, integration_id, check_name, raw_from, end)
    points = []
    hour = first
    while hour < end:
        histogram = histograms.get(hour, [0] * len(LATENCY_COLUMNS))
        points.append(
            LatencyPoint(
                hour=hour,
                count=sum(histogram),
                p50_s=quantile(0.5, histogram),
                p95_s=quantile(0.95, histogram),
                p99_s=quantile(0.99, histogram),
            )
        )
        hour += HOUR
    return points


def _add_rollup_histograms(
    connection: Connection,
    into: dict[datetime, list[int]],
    integration_id: str,
    check_name: str | None,
    start: datetime,
    end: datetime,
) -> None:
    conditions = [
        rollups.c.grain == "hour",
        rollups.c.integration_id == integration_id,
        rollups.c.bucket_start >= start,
        rollups.c.bucket_start < end,
    ]
    if check_name is not None:
        conditions.append(rollups.c.check_name == check_name)
    query = (
        select(rollups.c.bucket_start, *(func.sum(rollups.c[name]) for name in LATENCY_COLUMNS))
        .where(*conditions)
        .group_by(rollups.c.bucket_start)
    )
    _merge(into, connection.execute(query).all())


def _add_raw_histograms(
    connection: Connection,
    into: dict[datetime, list[int]],
    integration_id: str,
    check_name: str | None,
    start: datetime,
    end: datetime,
) -> None:
    hour = bucket_of(results.c.started_at, "hour", connection.dialect.name)
    counts = latency_counts(results.c.duration_s)
    conditions = [
        results.c.integration_id == integration_id,
        results.c.started_at >= start,
        results.c.started_at < end,
    ]
    if check_name is not None:
        conditions.append(results.c.check_name == check_name)
    query = (
        select(hour, *(counts[name] for name in LATENCY_COLUMNS)).where(*conditions).group_by(hour)
    )
    _merge(into, connection.execute(query).all())


def _merge(into: dict[datetime, list[int]], rows: Iterable[Any]) -> None:
    for moment, *numbers in rows:
        hour = _as_datetime(moment)
        assert hour is not None
        found = into.setdefault(hour, [0] * len(LATENCY_COLUMNS))
        for index, number in enumerate(numbers):
            found[index] += int(number or 0)


def _as_datetime(value: Any) -> datetime | None:
    return None if value is None else as_utc(value)
