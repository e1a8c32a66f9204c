"""The rollup pass: set-based, idempotent, catching up in bounded steps, exact when
killed half-way or run twice at once, and pruned by its own retention."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select

from core.vocabulary.outcomes import Outcome
from integrations import rollups
from integrations.models import CheckResultRow, CheckRollup
from integrations.rollup_buckets import DAY, HOUR
from integrations.rollups import lag_seconds, prune, rebuild, roll_up, watermark
from integrations.uptime import availability, latency_by_hour
from tests.history.results_data import T0, Raw, brute_force, register, store


def after(hours: int) -> datetime:
    """When a pass rolls up the first `hours` hours: once the last one has settled."""
    return T0 + hours * HOUR + rollups.SETTLE


def every_minute(hours: int, **overrides: Any) -> list[Raw]:
    return [
        Raw("acme", "health", T0 + timedelta(minutes=m), Outcome.OK, 0.2, **overrides)
        for m in range(hours * 60)
    ]


def rollup_rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(select(CheckRollup).order_by(*CheckRollup.__table__.primary_key))
        return [tuple(row) for row in rows]


def as_tuple(engine: Engine, start: Any, end: Any) -> dict[Any, tuple[int, ...]]:
    return {
        (a.integration_id, a.check_name): (a.total, a.up, a.down, a.maintenance, a.inhibited)
        for a in availability(engine, start, end)
        if a.total
    }


@pytest.fixture
def engine(db_engine: Engine) -> Engine:
    register(db_engine)
    return db_engine


def test_a_pass_sums_complete_hours_and_days(engine: Engine) -> None:
    rows = every_minute(26)
    rows[0] = Raw("acme", "health", T0, Outcome.TIMEOUT, 10.0)
    rows[1] = Raw("acme", "health", T0 + timedelta(minutes=1), Outcome.OK, 0.2, maintenance=True)
    store(engine, rows)
    done = roll_up(engine, T0 + timedelta(hours=26, minutes=5))
    assert done.hours == (T0, T0 + timedelta(hours=26))
    assert done.days == (T0, T0 + DAY)
    with engine.connect() as connection:
        first_hour = connection.execute(
            select(CheckRollup).where(CheckRollup.grain == "hour", CheckRollup.bucket_start == T0)
        ).all()
        day = connection.execute(
            select(CheckRollup).where(CheckRollup.grain == "day", CheckRollup.outcome == "ok")
        ).one()
    by_outcome = {row.outcome: row for row in first_hour}
    assert by_outcome["ok"].count == 59 and by_outcome["ok"].maintenance == 1
    assert by_outcome["ok"].latency_le_250ms == 59
    assert by_outcome["timeout"].latency_over_last == 1
    assert by_outcome["timeout"].duration_sum_s == pytest.approx(10.0)
    assert day.count == 24 * 60 - 1 and day.bucket_start == T0
    # Raw results of a rolled-up span deleted: the figures now come from the rollups.
    expected = as_tuple(engine, T0, T0 + timedelta(hours=20))
    with engine.begin() as connection:
        connection.execute(delete(CheckResultRow).where(CheckResultRow.started_at < T0 + DAY))
    assert as_tuple(engine, T0, T0 + timedelta(hours=20)) == expected
    assert expected == {("acme", None): (1200, 1198, 1, 1, 0)}


def test_running_a_pass_twice_changes_nothing(engine: Engine) -> None:
    store(engine, every_minute(30))
    now = T0 + timedelta(hours=30, minutes=1)
    roll_up(engine, now)
    before = rollup_rows(engine)
    again = roll_up(engine, now)
    assert again.hours is None and rollup_rows(engine) == before
    # Forcing the same hours to be rewritten gives the same rows too.
    rebuild(engine, None, None, now)
    assert rollup_rows(engine) == before


def test_late_results_within_two_hours_are_counted_by_the_next_pass(engine: Engine) -> None:
    store(engine, every_minute(3))
    roll_up(engine, after(3))
    late = [Raw("acme", "health", T0 + timedelta(hours=2, minutes=30), Outcome.SERVER_ERROR)]
    store(engine, late)
    roll_up(engine, after(4))
    with engine.begin() as connection:
        connection.execute(delete(CheckResultRow))
    assert as_tuple(engine, T0, T0 + timedelta(hours=3)) == {("acme", None): (181, 180, 1, 0, 0)}


def test_after_downtime_it_catches_up_in_bounded_steps(engine: Engine) -> None:
    store(engine, every_minute(1))
    roll_up(engine, after(1))
    now = T0 + timedelta(days=5, minutes=8)
    first = roll_up(engine, now)
    assert first.hours == (T0 - HOUR, T0 + HOUR + rollups.MAX_STEP)
    passes = 1
    while watermark(engine) != T0 + timedelta(days=5):
        roll_up(engine, now)
        passes += 1
    assert passes == 3  # 119 hours at 48 per pass
    assert lag_seconds(engine, now) == 480


def test_a_pass_killed_mid_transaction_leaves_the_figures_exact(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = every_minute(5)
    store(engine, rows)
    roll_up(engine, after(2))
    before = rollup_rows(engine)

    def killed(*_: Any) -> None:
        raise KeyboardInterrupt("killed after the hours were rewritten")

    monkeypatch.setattr(rollups, "_roll_up_days", killed)
    with pytest.raises(KeyboardInterrupt):
        roll_up(engine, after(5))
    assert rollup_rows(engine) == before and watermark(engine) == T0 + 2 * HOUR
    for end in (T0 + HOUR, T0 + timedelta(hours=4, minutes=30)):
        assert as_tuple(engine, T0, end) == brute_force(rows, T0, end)
    monkeypatch.undo()
    roll_up(engine, after(5))
    assert watermark(engine) == T0 + 5 * HOUR
    assert as_tuple(engine, T0, T0 + 5 * HOUR) == brute_force(rows, T0, T0 + 5 * HOUR)


def test_two_passes_at_once_are_exact(engine: Engine) -> None:
    rows = every_minute(30) + every_minute(30, maintenance=True)
    store(engine, rows)
    now = T0 + timedelta(hours=30, minutes=10)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def one_pass() -> None:
        start.wait()
        try:
            roll_up(engine, now)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=one_pass) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    together = rollup_rows(engine)
    rebuild(engine, None, None, now)
    assert rollup_rows(engine) == together
    end = T0 + timedelta(hours=30)
    assert as_tuple(engine, T0, end) == brute_force(rows, T0, end)


def test_rebuild_never_zeroes_hours_whose_results_are_gone(engine: Engine) -> None:
    store(engine, every_minute(4))
    roll_up(engine, after(4))
    with engine.begin() as connection:
        connection.execute(delete(CheckResultRow).where(CheckResultRow.started_at < T0 + 2 * HOUR))
    rebuilt = rebuild(engine, T0 - DAY, None, after(4))
    assert rebuilt == (T0 + 2 * HOUR, T0 + 4 * HOUR)
    assert as_tuple(engine, T0, T0 + 4 * HOUR) == {("acme", None): (240, 240, 0, 0, 0)}


def test_retention_removes_old_rollups_in_batches(engine: Engine) -> None:
    store(engine, every_minute(72))
    now = T0 + timedelta(days=3)
    roll_up(engine, after(72))
    roll_up(engine, after(72))  # 72 hours: two passes
    assert watermark(engine) == now
    pruned = prune(engine, now, hour_retention_days=1, day_retention_days=2, batch=5)
    assert (pruned.hours, pruned.days) == (48, 1)
    with engine.connect() as connection:
        hours = (
            connection.execute(select(CheckRollup.bucket_start).where(CheckRollup.grain == "hour"))
            .scalars()
            .all()
        )
    assert min(hours) == T0 + 2 * DAY
    # Two days whose hour rows are gone still count, from their day rows.
    with engine.begin() as connection:
        connection.execute(delete(CheckResultRow))
    assert as_tuple(engine, T0 + DAY, now) == {("acme", None): (2880, 2880, 0, 0, 0)}


def test_latency_quantiles_per_hour_from_rollups_and_raw_results(engine: Engine) -> None:
    rows = [
        Raw("acme", "health", T0 + timedelta(hours=h, minutes=m), Outcome.OK, 0.05 + m / 1000)
        for h in range(3)
        for m in range(60)
    ]
    store(engine, rows)
    roll_up(engine, after(2))  # hours 0-1 rolled up, hour 2 raw
    points = latency_by_hour(engine, "acme", "health", T0, T0 + 4 * HOUR)
    assert [p.hour for p in points] == [T0 + h * HOUR for h in range(4)]
    assert [p.count for p in points] == [60, 60, 60, 0]
    # One result at 0.05 s (first bucket), 50 in (0.05, 0.1], 9 in (0.1, 0.25].
    p50 = 0.05 + 0.05 * (30 - 1) / 50
    assert points[0].p50_s == pytest.approx(p50) and points[2].p50_s == pytest.approx(p50)
    assert points[1].p99_s == pytest.approx(0.1 + 0.15 * (59.4 - 51) / 9)
    assert points[3].p50_s is None
    assert latency_by_hour(engine, "acme", None, T0, T0 + HOUR)[0].count == 60


def test_a_backfill_older_than_the_watermark_is_rolled_up(engine: Engine) -> None:
    """`intmon results import` stores a check's past results (its history only moves
    forward, but another check's may already be rolled up beyond them)."""
    import json

    from alerts.backfill import backfill
    from alerts.policy import Policy
    from integrations.registry import load_specs

    store(engine, every_minute(6))
    roll_up(engine, after(6))
    lines = [
        json.dumps(
            {
                "integration": "orbit",
                "check": "orders",
                "started_at": (T0 + timedelta(hours=1, minutes=m)).isoformat(),
                "outcome": "server_error" if m < 10 else "ok",
            }
        )
        for m in range(30)
    ]
    specs = {i: r.spec for i, r in load_specs(engine).items()}
    backfill(engine, lines, specs, Policy(), after(6))
    with engine.begin() as connection:
        connection.execute(delete(CheckResultRow))  # only the rollups are left to read
    found = as_tuple(engine, T0, T0 + 6 * HOUR)
    assert found[("orbit", None)] == (30, 20, 10, 0, 0)
    assert found[("acme", None)] == (360, 360, 0, 0, 0)
