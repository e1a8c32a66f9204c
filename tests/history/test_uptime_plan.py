"""Which source each part of a period is read from, and quantiles from a histogram:
pure functions, one row per case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integrations.rollup_buckets import quantile
from integrations.uptime import Availability, Coverage, Segment, plan

D = datetime(2026, 11, 1, tzinfo=UTC)


def at(days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
    return D + timedelta(days=days, hours=hours, minutes=minutes)


FRESH = Coverage(hour_mark=at(10), day_mark=at(10), earliest_hour=D, earliest_raw=D)
# Raw results kept for the last 3 days, hour rows for the last 6.
RETAINED = Coverage(
    hour_mark=at(10), day_mark=at(10), earliest_hour=at(4), earliest_raw=at(7, minutes=13)
)

PLANS = [
    ("nothing rolled up", Coverage(None, None, None, None), at(1), at(2), [("raw", at(1), at(2))]),
    ("all after the watermark", FRESH, at(10, 1), at(11), [("raw", at(10, 1), at(11))]),
    ("inside one hour", FRESH, at(2, 3, 5), at(2, 3, 50), [("raw", at(2, 3, 5), at(2, 3, 50))]),
    (
        "edges inside hours, a whole day, the tail",
        FRESH,
        at(1, 22, 30),
        at(10, 2),
        [
            ("raw", at(1, 22, 30), at(1, 23)),
            ("hour", at(1, 23), at(2)),
            ("day", at(2), at(10)),
            ("raw", at(10), at(10, 2)),
        ],
    ),
    (
        "day edges inside the rolled-up span",
        FRESH,
        at(3, 5),
        at(5, 7, 10),
        [
            ("hour", at(3, 5), at(4)),
            ("day", at(4), at(5)),
            ("hour", at(5), at(5, 7)),
            ("raw", at(5, 7), at(5, 7, 10)),
        ],
    ),
    (
        "raw results gone at the start edge: the whole hour",
        RETAINED,
        at(5, 3, 20),
        at(8),
        [("hour", at(5, 3), at(6)), ("day", at(6), at(8))],
    ),
    (
        "hour rows gone too: whole days",
        RETAINED,
        at(2, 3, 20),
        at(8),
        [("day", at(2), at(8))],
    ),
    ("an empty period", FRESH, at(3), at(3), []),
]


@pytest.mark.parametrize(
    ("coverage", "start", "end", "expected"),
    [row[1:] for row in PLANS],
    ids=[row[0] for row in PLANS],
)
def test_plan(
    coverage: Coverage,
    start: datetime,
    end: datetime,
    expected: list[tuple[str, datetime, datetime]],
) -> None:
    assert plan(start, end, coverage) == [Segment(*segment) for segment in expected]  # type: ignore[arg-type]


QUANTILES = [
    # (name, q, counts per bucket 0.05 0.1 0.25 0.5 1 2.5 5 +Inf, expected)
    ("empty", 0.5, [0, 0, 0, 0, 0, 0, 0, 0], None),
    ("first bucket starts at zero", 0.5, [10, 0, 0, 0, 0, 0, 0, 0], 0.025),
    ("interpolated inside a bucket", 0.5, [0, 0, 4, 0, 0, 0, 0, 0], 0.175),
    ("rank on a bucket's upper edge", 0.5, [5, 5, 0, 0, 0, 0, 0, 0], 0.05),
    ("in the unbounded bucket: the last bound", 0.99, [1, 0, 0, 0, 0, 0, 0, 9], 5.0),
    ("p95 of a spread", 0.95, [0, 0, 0, 10, 10, 0, 0, 0], 0.5 + 0.5 * 9 / 10),
]


@pytest.mark.parametrize(
    ("q", "histogram", "expected"),
    [row[1:] for row in QUANTILES],
    ids=[row[0] for row in QUANTILES],
)
def test_quantile(q: float, histogram: list[int], expected: float | None) -> None:
    assert quantile(q, histogram) == (None if expected is None else pytest.approx(expected))


def test_ratio_counts_neither_maintenance_nor_inhibited() -> None:
    found = Availability("a", None, D, at(1), 10, 6, 2, 1, 1)
    assert found.ratio == 0.75
    assert Availability("a", None, D, at(1), 3, 0, 0, 3, 0).ratio is None
