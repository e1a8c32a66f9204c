"""Availability and latency of integrations over a period, read from stored results.

This version counts raw `check_results` rows in SQL (availability) and reads the
durations of a period to take percentiles per hour (latency); the rollups of
issue 23 answer the same questions with the same signatures from hourly and
daily aggregates.

A result in a declared maintenance window, or held back by a platform outage
(intmon's own network failing), is counted apart and never as up or down: the
ratio is `up / (up + down)`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Engine, and_, case, func, not_, select

from checks.outcomes import Outcome
from integrations.models import CheckResultRow

UP_OUTCOMES = tuple(o.value for o in Outcome if o.is_up)


@dataclass(frozen=True, slots=True)
class Availability:
    integration_id: str
    check_name: str | None  # None when summed over the integration's checks
    start: datetime
    end: datetime
    total: int  # results in the period
    up: int  # outcome is up (Outcome.is_up), outside maintenance/inhibited
    down: int  # not up, outside maintenance/inhibited
    maintenance: int  # results in maintenance (shown separately, not counted)
    inhibited: int  # held back by a platform outage (not counted)

    @property
    def ratio(self) -> float | None:
        """up / (up + down); None when nothing counted."""
        counted = self.up + self.down
        return self.up / counted if counted else None


@dataclass(frozen=True, slots=True)
class LatencyPoint:
    hour: datetime
    count: int
    p50_s: float | None
    p95_s: float | None
    p99_s: float | None


def availability(
    engine: Engine,
    start: datetime,
    end: datetime,
    *,
    integration_ids: Sequence[str] | None = None,
    per_check: bool = False,
) -> list[Availability]:
    """Availability of each integration (or each check) over [start, end), ordered by
    integration and check; integrations with no result in the period are absent."""
    table = CheckResultRow.__table__
    maintenance = table.c.maintenance
    inhibited = and_(table.c.inhibited, not_(table.c.maintenance))
    counted = and_(not_(table.c.maintenance), not_(table.c.inhibited))
    is_up = table.c.outcome.in_(UP_OUTCOMES)

    def count_of(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    keys = [table.c.integration_id] + ([table.c.check_name] if per_check else [])
    query = (
        select(
            *keys,
            func.count().label("total"),
            count_of(and_(counted, is_up)).label("up"),
            count_of(and_(counted, not_(is_up))).label("down"),
            count_of(maintenance).label("maintenance"),
            count_of(inhibited).label("inhibited"),
        )
        .where(table.c.started_at >= start, table.c.started_at < end)
        .group_by(*keys)
        .order_by(*keys)
    )
    if integration_ids is not None:
        query = query.where(table.c.integration_id.in_(list(integration_ids)))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        Availability(
            integration_id=row.integration_id,
            check_name=row.check_name if per_check else None,
            start=start,
            end=end,
            total=int(row.total),
            up=int(row.up),
            down=int(row.down),
            maintenance=int(row.maintenance),
            inhibited=int(row.inhibited),
        )
        for row in rows
    ]


def latency_by_hour(
    engine: Engine,
    integration_id: str,
    check_name: str | None,
    start: datetime,
    end: datetime,
) -> list[LatencyPoint]:
    """p50/p95/p99 of the durations of each hour in [start, end) that has results
    (all checks of the integration when `check_name` is None), oldest first."""
    table = CheckResultRow.__table__
    query = select(table.c.started_at, table.c.duration_s).where(
        table.c.integration_id == integration_id,
        table.c.started_at >= start,
        table.c.started_at < end,
    )
    if check_name is not None:
        query = query.where(table.c.check_name == check_name)
    durations: dict[datetime, list[float]] = defaultdict(list)
    with engine.connect() as connection:
        for started_at, duration_s in connection.execute(query):
            hour = started_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            durations[hour].append(float(duration_s))
    points = []
    for hour in sorted(durations):
        values = sorted(durations[hour])
        points.append(
            LatencyPoint(
                hour=hour,
                count=len(values),
                p50_s=_percentile(values, 0.50),
                p95_s=_percentile(values, 0.95),
                p99_s=_percentile(values, 0.99),
            )
        )
    return points


def _percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Nearest rank: the smallest value with at least `fraction` of the values at or below."""
    if not ordered:
        return None
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]
