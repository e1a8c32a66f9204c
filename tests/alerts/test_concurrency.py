"""Eight workers storing failures of one integration at once on PostgreSQL:
exactly one incident and one ticket (the database decides, not Python)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from alerts.intake import ingest
from alerts.models import Incident, Ticket
from alerts.policy import Policy
from core.vocabulary.outcomes import Outcome
from tests.alerts.helpers import T0, result, setup

WORKERS = 8


@pytest.mark.postgres
@pytest.mark.parametrize("round_", range(3))
def test_eight_workers_one_incident_one_ticket(pg_engine: Engine, round_: int) -> None:
    checks = "[" + ", ".join(f"{{name: c{i}, path: /c{i}}}" for i in range(WORKERS)) + "]"
    specs = setup(pg_engine, "a", checks=checks)
    policy = Policy()
    # Two failures on every check first, then all eight third failures at once.
    for minute in range(2):
        for i in range(WORKERS):
            ingest(pg_engine, [result(Outcome.SERVER_ERROR, minute, check=f"c{i}")], specs, policy)
    barrier = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            ingest(
                pg_engine,
                [result(Outcome.SERVER_ERROR, 2, check=f"c{i}")],
                specs,
                policy,
                now=T0 + timedelta(minutes=2),
            )
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    with pg_engine.connect() as c:
        assert c.execute(select(func.count()).select_from(Incident)).scalar_one() == 1
        assert c.execute(select(func.count()).select_from(Ticket)).scalar_one() == 1
        incident = c.execute(select(Incident)).one()
    # Every worker's failure joined the one incident.
    assert sorted(incident.checks) == [f"c{i}" for i in range(WORKERS)]
    assert incident.failures == 2 + WORKERS


def test_a_lost_race_runs_the_batch_again_and_stores_it_once(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alerts import incidents
    from integrations.results import count_results

    specs = setup(sqlite_engine, "a")
    real = incidents.process
    calls = []

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            raise incidents.RaceLost("another worker resolved it")
        return real(*args, **kwargs)

    monkeypatch.setattr(incidents, "process", flaky)
    ingest(sqlite_engine, [result(Outcome.SERVER_ERROR, 0)], specs, Policy())
    assert len(calls) == 2
    assert count_results(sqlite_engine) == 1  # the first attempt's rows were rolled back
