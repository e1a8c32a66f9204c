"""Retention of raw results: daily partitions on PostgreSQL, batched deletes on SQLite."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from alerts.housekeeping import housekeep
from alerts.policy import Policy
from core import metrics
from core.db import utcnow
from core.vocabulary.outcomes import CheckResult, Outcome
from integrations import partitions, retention
from integrations.apply import apply
from integrations.partitions import DEFAULT, list_partitions
from integrations.results import count_results, record_results
from integrations.retention import Retention, oldest_result, prune
from intmon.metrics import RetentionCollector
from tests.test_registry import config

# A Wednesday noon far from the real today, so the partitions the tests make are theirs.
NOW = datetime(2031, 3, 19, 12, 0, tzinfo=UTC)
TODAY = datetime(2031, 3, 19, tzinfo=UTC)
DAY = timedelta(days=1)
KEEP = Retention(days=14, ahead_days=3)


@pytest.fixture
def pg(pg_engine: Engine) -> Iterator[Engine]:
    """PostgreSQL with no day partitions left over from other tests; afterwards the
    partitions of the real today are back, as a deployment has them."""
    drop_day_partitions(pg_engine)
    yield pg_engine
    drop_day_partitions(pg_engine)
    prune(pg_engine, Retention(), utcnow())


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "pg")  # type: ignore[no-any-return]


def drop_day_partitions(engine: Engine) -> None:
    with engine.begin() as connection:
        for partition in list_partitions(connection):
            if not partition.is_default:
                partitions.drop(connection, partition)


def result(at: datetime, check: str = "health") -> CheckResult:
    return CheckResult(
        integration_id="a",
        check_name=check,
        outcome=Outcome.OK,
        started_at=at,
        duration_s=0.01,
        http_status=200,
        detail="",
    )


def where(engine: Engine) -> dict[datetime, str]:
    """started_at → the partition holding the row."""
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT started_at, tableoid::regclass::text FROM check_results")
        ).all()
    return {at: partition for at, partition in rows}


def started(engine: Engine) -> list[datetime]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT started_at FROM check_results ORDER BY 1")).all()
    return [_aware(at) for (at,) in rows]


def _aware(value: Any) -> datetime:
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def day_names(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(p.name for p in list_partitions(connection) if not p.is_default)


def test_rows_go_to_their_days_partition_and_a_day_without_one_to_default(pg: Engine) -> None:
    apply(pg, config("a"))
    report = prune(pg, KEEP, NOW)
    assert report.partitions_created == [
        "check_results_p20310319",
        "check_results_p20310320",
        "check_results_p20310321",
        "check_results_p20310322",
    ]
    in_range = [TODAY, TODAY + DAY - timedelta(microseconds=1), TODAY + 3 * DAY]
    outside = [TODAY - DAY, TODAY + 4 * DAY]
    record_results(pg, [result(at) for at in in_range + outside])
    assert where(pg) == {
        TODAY: "check_results_p20310319",
        TODAY + DAY - timedelta(microseconds=1): "check_results_p20310319",
        TODAY + 3 * DAY: "check_results_p20310322",
        TODAY - DAY: DEFAULT,
        TODAY + 4 * DAY: DEFAULT,
    }


def test_rows_that_landed_in_default_are_moved_to_their_new_partition(pg: Engine) -> None:
    apply(pg, config("a"))
    record_results(pg, [result(TODAY + timedelta(hours=h)) for h in range(5)])
    record_results(pg, [result(TODAY + 2 * DAY)])
    assert set(where(pg).values()) == {DEFAULT}
    with pg.connect() as connection:
        ids = connection.execute(text("SELECT id FROM check_results ORDER BY id")).scalars().all()

    report = prune(pg, KEEP, NOW)
    assert report.rows_moved == 6
    assert "check_results_p20310319" in report.partitions_created
    assert where(pg)[TODAY] == "check_results_p20310319"
    assert where(pg)[TODAY + 2 * DAY] == "check_results_p20310321"
    with pg.connect() as connection:
        assert connection.execute(text(f"SELECT count(*) FROM {DEFAULT}")).scalar() == 0
        moved = connection.execute(text("SELECT id FROM check_results ORDER BY id")).scalars()
        assert moved.all() == ids  # the same rows, not copies
    # The next batch of that day goes straight to the partition.
    record_results(pg, [result(TODAY + timedelta(hours=6))])
    assert where(pg)[TODAY + timedelta(hours=6)] == "check_results_p20310319"


def test_batches_written_while_their_day_is_moved_out_of_default_are_all_kept(
    pg: Engine,
) -> None:
    """The pass locks DEFAULT before moving a day out of it: a batch of that day
    written meanwhile waits, then lands in the new partition; none fails."""
    apply(pg, config("a"))
    record_results(pg, [result(TODAY + timedelta(hours=1, seconds=s)) for s in range(100)])
    stop, errors, written = threading.Event(), [], []

    def writer() -> None:
        try:
            while not stop.is_set() or len(written) < 10:
                record_results(pg, [result(TODAY + timedelta(hours=2, seconds=len(written)))])
                written.append(1)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=writer)
    thread.start()
    while len(written) < 5 and thread.is_alive():
        pass
    report = prune(pg, KEEP, NOW)
    stop.set()
    thread.join()
    assert errors == []
    assert report.rows_moved >= 105
    with pg.connect() as connection:
        counts = connection.execute(
            text("SELECT tableoid::regclass::text, count(*) FROM check_results GROUP BY 1")
        ).all()
    assert dict(counts) == {"check_results_p20310319": 100 + len(written)}


def test_a_row_far_ahead_stays_in_default_and_an_expired_one_there_is_deleted(pg: Engine) -> None:
    apply(pg, config("a"))
    far, expired = TODAY + 40 * DAY, TODAY - 30 * DAY
    record_results(pg, [result(far), result(expired)])
    report = prune(pg, KEEP, NOW)
    assert report.rows_deleted == 1
    assert where(pg) == {far: DEFAULT}
    assert "check_results_p20310428" not in day_names(pg)


def fill_days(engine: Engine, first: datetime, days: int) -> list[datetime]:
    """Two results on each day: its first and its last microsecond."""
    times = []
    for n in range(days):
        day = first + n * DAY
        times += [day, day + DAY - timedelta(microseconds=1)]
    record_results(engine, [result(at) for at in times])
    return times


def test_retention_keeps_exactly_its_days(engine: Engine) -> None:
    apply(engine, config("a"))
    if engine.dialect.name == "postgresql":
        # The partitions of the 20 days before, as earlier passes made them.
        prune(engine, Retention(days=60, ahead_days=24), NOW - 20 * DAY)
    times = fill_days(engine, TODAY - 20 * DAY, 21)

    report = prune(engine, KEEP, NOW)
    keep_from = TODAY - 14 * DAY  # 2031-03-05 00:00: the 5th is kept, the 4th goes
    assert report.keep_from == keep_from
    assert started(engine) == [at for at in times if at >= keep_from]
    assert oldest_result(engine) == keep_from
    if engine.dialect.name == "postgresql":
        assert report.partitions_dropped == [f"check_results_p203102{d}" for d in range(27, 29)] + [
            f"check_results_p2031030{d}" for d in range(1, 5)
        ]
        assert day_names(engine)[0] == "check_results_p20310305"
        assert report.rows_deleted == 0
    else:
        assert report.rows_deleted == 12 and report.partitions_dropped == []

    # A second later nothing more goes; the next midnight the 5th does.
    assert not prune(engine, KEEP, NOW + timedelta(hours=11, minutes=59, seconds=59)).changed
    prune(engine, KEEP, TODAY + DAY)
    assert started(engine)[0] == keep_from + DAY


def test_a_pass_run_twice_is_harmless(engine: Engine) -> None:
    apply(engine, config("a"))
    fill_days(engine, TODAY - 16 * DAY, 17)
    first = prune(engine, KEEP, NOW)
    kept = started(engine)
    again = prune(engine, KEEP, NOW)
    assert first.changed and not again.changed
    assert again.as_dict()["partitions_created"] == again.as_dict()["partitions_dropped"] == []
    assert started(engine) == kept


def test_two_passes_at_once_are_harmless(pg: Engine) -> None:
    apply(pg, config("a"))
    prune(pg, Retention(days=60, ahead_days=0), NOW - 20 * DAY)  # one old partition
    fill_days(pg, TODAY - 20 * DAY, 21)  # the other 20 days wait in DEFAULT
    barrier = threading.Barrier(2)
    reports: list[retention.RetentionReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            reports.append(prune(pg, KEEP, NOW))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    created = sorted(reports[0].partitions_created + reports[1].partitions_created)
    assert created == [f"check_results_p203103{d:02d}" for d in range(5, 23)]  # each once
    dropped = reports[0].partitions_dropped + reports[1].partitions_dropped
    assert dropped == ["check_results_p20310227"]
    assert sum(r.rows_moved for r in reports) == 2 * 15  # the 5th to the 19th
    assert sum(r.rows_deleted for r in reports) == 2 * 5  # expired days found in DEFAULT
    assert started(pg)[0] == TODAY - 14 * DAY and len(started(pg)) == 30
    assert set(where(pg).values()).isdisjoint({DEFAULT})


def test_a_pass_killed_after_its_first_drop_leaves_a_state_the_next_one_finishes(
    pg: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(pg, config("a"))
    prune(pg, Retention(days=60, ahead_days=24), NOW - 20 * DAY)
    times = fill_days(pg, TODAY - 20 * DAY, 21)
    real_drop, drops = partitions.drop, []

    def drop_then_die(connection: Any, partition: partitions.Partition) -> None:
        if drops:
            raise RuntimeError("worker killed")
        real_drop(connection, partition)
        drops.append(partition.name)

    monkeypatch.setattr(partitions, "drop", drop_then_die)
    with pytest.raises(RuntimeError):
        prune(pg, KEEP, NOW)
    assert drops == ["check_results_p20310227"]
    # Consistent: that day is gone, every other day still whole and attached.
    assert started(pg) == [at for at in times if at >= TODAY - 19 * DAY]
    assert "check_results_p20310228" in day_names(pg)

    monkeypatch.setattr(partitions, "drop", real_drop)
    report = prune(pg, KEEP, NOW)
    assert report.partitions_dropped[0] == "check_results_p20310228"
    assert started(pg) == [at for at in times if at >= TODAY - 14 * DAY]


def test_sqlite_deletes_in_bounded_batches(sqlite_engine: Engine) -> None:
    apply(sqlite_engine, config("a"))
    old = [result(TODAY - 20 * DAY + timedelta(seconds=s)) for s in range(45)]
    record_results(sqlite_engine, [*old, result(NOW)])
    small = Retention(days=14, batch_rows=10, max_batches=3)

    planned = prune(sqlite_engine, small, NOW, dry_run=True)
    assert (planned.rows_deleted, planned.backlog) == (45, True)
    assert count_results(sqlite_engine) == 46

    first = prune(sqlite_engine, small, NOW)
    assert (first.rows_deleted, first.backlog) == (30, True)
    second = prune(sqlite_engine, small, NOW)
    assert (second.rows_deleted, second.backlog) == (15, False)
    assert started(sqlite_engine) == [NOW]


def test_a_dry_run_changes_nothing(engine: Engine) -> None:
    apply(engine, config("a"))
    fill_days(engine, TODAY - 16 * DAY, 17)
    before = started(engine)
    report = prune(engine, KEEP, NOW, dry_run=True)
    assert report.dry_run and started(engine) == before
    if engine.dialect.name == "postgresql":
        # Everything waits in DEFAULT: 15 days to move, 2 expired to delete.
        assert (report.rows_moved, report.rows_deleted) == (30, 4)
        assert report.partitions_created[0] == "check_results_p20310305"
        assert day_names(engine) == []
    else:
        assert report.rows_deleted == 4


def test_housekeeping_runs_retention_and_reports_it(engine: Engine) -> None:
    apply(engine, config("a"))
    fill_days(engine, TODAY - 16 * DAY, 17)
    counted = metrics.retention_deleted.labels("delete")._value.get()
    report = housekeep(engine, Policy(), NOW, sync=False, retention=KEEP)
    assert report.retention is not None
    assert report.as_dict()["retention"]["keep_from"] == "2031-03-05T00:00:00+00:00"
    assert started(engine)[0] == TODAY - 14 * DAY
    deleted = metrics.retention_deleted.labels("delete")._value.get() - counted
    assert deleted == report.retention.rows_deleted == 4  # SQLite's rows; PG's from DEFAULT
    # Without a retention, housekeeping leaves results alone.
    assert housekeep(engine, Policy(), NOW + 30 * DAY, sync=False).retention is None
    assert started(engine)[0] == TODAY - 14 * DAY


def test_the_oldest_result_metric(engine: Engine) -> None:
    apply(engine, config("a"))
    assert oldest_result(engine) is None
    record_results(engine, [result(NOW - timedelta(hours=3)), result(NOW)])
    collector = RetentionCollector(engine, clock=lambda: NOW)
    (family,) = list(collector.collect())
    assert family.name == "intmon_results_oldest_seconds"
    assert [sample.value for sample in family.samples] == [3 * 3600]


def test_bad_retention_settings_name_the_field() -> None:
    from pydantic import ValidationError

    from core.settings import Settings

    with pytest.raises(ValidationError, match="results_retention_days"):
        Settings(results_retention_days=0)
    with pytest.raises(ValueError, match="batch_rows"):
        Retention(batch_rows=0)
