"""Hour and day buckets of rollups: UTC time arithmetic, and the same buckets in SQL.

Both backends compute bucket starts in SQL so that a whole range is rolled up by
one `INSERT … SELECT … GROUP BY`: PostgreSQL truncates in UTC whatever the
session's time zone; SQLite stores times as UTC text, so truncating the text is
the bucket, written in the very format SQLAlchemy stores a datetime in (text
comparison with bound datetimes then orders correctly).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, case, func, literal_column, type_coerce

from core.db import UTCDateTime
from integrations.models import LATENCY_BOUNDS, LATENCY_COLUMNS

Grain = Literal["hour", "day"]
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def floor_to(moment: datetime, step: timedelta) -> datetime:
    """The start of the UTC bucket of size `step` (an hour or a day) holding `moment`."""
    moment = moment.astimezone(UTC)
    return moment - (moment - EPOCH) % step


def ceil_to(moment: datetime, step: timedelta) -> datetime:
    floor = floor_to(moment, step)
    return floor if floor == moment else floor + step


def as_utc(value: Any) -> datetime:
    """A datetime read through SQL that bypassed the column type (a min(), a computed
    bucket): SQLite hands back its stored UTC text."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def bucket_of(column: Any, grain: Grain, dialect: str) -> ColumnElement[datetime]:
    """SQL for the start of the hour or day of a UTC timestamp column."""
    if dialect == "postgresql":
        utc: ColumnElement[str] = literal_column("'UTC'")
        local = column.op("AT TIME ZONE")(utc)
        truncated = func.date_trunc(literal_column(f"'{grain}'"), local)
        return type_coerce(truncated.op("AT TIME ZONE")(utc), UTCDateTime())
    pattern = "%Y-%m-%d %H:00:00.000000" if grain == "hour" else "%Y-%m-%d 00:00:00.000000"
    return type_coerce(func.strftime(literal_column(f"'{pattern}'"), column), UTCDateTime())


def latency_counts(duration: Any) -> dict[str, ColumnElement[int]]:
    """Per latency column, SQL counting the rows whose duration falls in its bucket
    (upper bound inclusive, as a Prometheus `le` bucket)."""
    counts: dict[str, ColumnElement[int]] = {}
    lower: float | None = None
    for name, upper in zip(LATENCY_COLUMNS, LATENCY_BOUNDS, strict=True):
        conditions = []
        if lower is not None:
            conditions.append(duration > lower)
        if upper is not None:
            conditions.append(duration <= upper)
        inside = conditions[0] if len(conditions) == 1 else conditions[0] & conditions[1]
        counts[name] = func.sum(case((inside, 1), else_=0))
        lower = upper
    return counts


def quantile(q: float, histogram: list[int]) -> float | None:
    """The q-quantile (0 < q < 1) of non-cumulative bucket counts, interpolated
    linearly inside its bucket as Prometheus' histogram_quantile does: the first
    bucket starts at 0, and a rank in the last (unbounded) bucket reads as the
    highest finite bound. None when the histogram is empty."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = q * total
    cumulative = 0
    lower = 0.0
    for count, upper in zip(histogram, LATENCY_BOUNDS, strict=True):
        if upper is None:
            return lower
        if count and cumulative + count >= rank:
            return lower + (upper - lower) * (rank - cumulative) / count
        cumulative += count
        lower = float(upper)
    return lower
