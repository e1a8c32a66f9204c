"""Availability from rollups equals a brute-force count over raw results, on both backends.

Random results over three days, rolled up by passes of a few hours each (so the
catch-up path runs too), read back over random windows whose edges fall
anywhere, inside hours, on hour and day boundaries, before the first result and
after the watermark.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from core.vocabulary.outcomes import Outcome
from integrations.rollups import last_complete_hour, roll_up, watermark
from integrations.uptime import Availability, availability
from tests.history.results_data import (
    CHECKS,
    INTEGRATIONS,
    T0,
    Raw,
    brute_force,
    forget_history,
    register,
    store,
)

SPAN_S = 3 * 86400
# Instants that matter: hour and day boundaries and a second either side.
BOUNDARIES = [h * 3600 + d for h in range(0, 80, 1) for d in (-1, 0, 1)]
offsets = st.one_of(st.integers(-3600, SPAN_S + 3600), st.sampled_from(BOUNDARIES))

raw_rows = st.builds(
    lambda integration, check, offset, micros, outcome, duration, maintenance, inhibited: Raw(
        integration,
        check,
        T0 + timedelta(seconds=offset, microseconds=micros),
        outcome,
        duration,
        maintenance,
        inhibited,
    ),
    st.sampled_from(INTEGRATIONS),
    st.sampled_from(CHECKS),
    st.integers(0, SPAN_S),
    st.sampled_from([0, 1, 999_999]),
    st.sampled_from(list(Outcome)),
    st.floats(0, 12, allow_nan=False),
    st.booleans(),
    st.booleans(),
)

EXAMPLES = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def counted(found: list[Availability]) -> dict[tuple[str, str | None], tuple[int, ...]]:
    """(integration, check) → (total, up, down, maintenance, inhibited), where any ran."""
    return {
        (row.integration_id, row.check_name): (
            row.total,
            row.up,
            row.down,
            row.maintenance,
            row.inhibited,
        )
        for row in found
        if row.total
    }


@EXAMPLES
@given(
    rows=st.lists(raw_rows, max_size=60),
    now_offset=st.integers(0, SPAN_S + 6 * 3600),
    windows=st.lists(st.tuples(offsets, offsets), min_size=1, max_size=6),
    step_hours=st.integers(1, 30),
    per_check=st.booleans(),
)
def test_availability_equals_a_count_over_raw_results(
    db_engine: Engine,
    rows: list[Raw],
    now_offset: int,
    windows: list[tuple[int, int]],
    step_hours: int,
    per_check: bool,
) -> None:
    register(db_engine)
    forget_history(db_engine)
    store(db_engine, rows)
    now = T0 + timedelta(seconds=now_offset)
    for _ in range(200):  # passes until caught up
        roll_up(db_engine, now, max_step=timedelta(hours=step_hours))
        if rows and watermark(db_engine) == last_complete_hour(now):
            break
    for a, b in windows:
        start, end = T0 + timedelta(seconds=min(a, b)), T0 + timedelta(seconds=max(a, b))
        got = counted(availability(db_engine, start, end, per_check=per_check))
        assert got == brute_force(rows, start, end, per_check=per_check), (start, end, now)
        # A few integrations (a board's page; per check on PostgreSQL): the same counts.
        some = availability(db_engine, start, end, per_check=per_check, integration_ids=["acme"])
        assert counted(some) == {key: value for key, value in got.items() if key[0] == "acme"}
