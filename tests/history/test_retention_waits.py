"""Raw results are dropped only once the rollups have counted them: a retention pass
with the rollups behind (just upgraded, or the pass failing for days) keeps them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, func, select

from alerts.housekeeping import housekeep, within_rollups
from alerts.policy import Policy
from core.vocabulary.outcomes import Outcome
from integrations.models import CheckResultRow
from integrations.retention import Retention
from integrations.rollups import roll_up, watermark
from tests.history.results_data import T0, Raw, register, store

RETENTION = Retention(days=3)


def raw_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(CheckResultRow)).scalar())


def test_no_rollup_yet_keeps_everything(db_engine: Engine) -> None:
    now = T0 + timedelta(days=30)
    assert watermark(db_engine) is None
    assert within_rollups(db_engine, RETENTION, now).keep_from(now) < T0 - timedelta(days=3650)


def test_rollups_behind_the_cut_hold_it_back_to_their_day(db_engine: Engine) -> None:
    register(db_engine)
    store(db_engine, [Raw("acme", "health", T0 + timedelta(hours=h), Outcome.OK, 0.1)
                      for h in range(0, 24 * 10, 6)])  # fmt: skip
    now = T0 + timedelta(days=10)
    roll_up(db_engine, now)  # one pass: 48 hours from the first result
    mark = watermark(db_engine)
    assert mark is not None and mark == T0 + timedelta(hours=48)
    held = within_rollups(db_engine, RETENTION, now)
    assert held.keep_from(now) <= mark < RETENTION.keep_from(now)


def test_rollups_past_the_cut_leave_the_retention_as_set(db_engine: Engine) -> None:
    register(db_engine)
    store(db_engine, [Raw("acme", "health", T0, Outcome.OK, 0.1)])
    now = T0 + timedelta(days=1)
    roll_up(db_engine, now)
    assert within_rollups(db_engine, RETENTION, now) == RETENTION


def test_housekeeping_drops_a_day_only_after_rolling_it_up(db_engine: Engine) -> None:
    register(db_engine)
    store(db_engine, [Raw("acme", "health", T0 + timedelta(hours=h), Outcome.OK, 0.1)
                      for h in range(0, 24 * 10, 6)])  # fmt: skip
    now = T0 + timedelta(days=10)
    housekeep(db_engine, Policy(), now, sync=False, retention=RETENTION)
    # The first pass rolled up two days, and only those two went (4 results a day).
    assert watermark(db_engine) == T0 + timedelta(days=2)
    assert raw_count(db_engine) == 40 - 2 * 4
    for _ in range(6):  # each pass rolls up 48 more hours, then retention follows
        housekeep(db_engine, Policy(), now, sync=False, retention=RETENTION)
    assert watermark(db_engine) >= RETENTION.keep_from(now)
    kept = [h for h in range(0, 24 * 10, 6) if T0 + timedelta(hours=h) >= RETENTION.keep_from(now)]
    assert raw_count(db_engine) == len(kept) == 3 * 4
