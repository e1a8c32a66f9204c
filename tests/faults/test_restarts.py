"""Redis and PostgreSQL restarted under a running scheduler and worker.

Forty checks every 4 s on one target; the private server goes down for 2 s
and comes back. Redis comes back empty (no persistence: every queue, claim and
the leader lock are gone); PostgreSQL comes back through crash recovery (an
immediate shutdown), and every pooled connection of every process is dead.

Proves: the scheduler and the worker reconnect by themselves (the same
processes, no crash loop), every check runs again within two intervals of the
server's return, no slot runs twice, and each check loses at most one run to
the outage (an outage shorter than an interval: the run queued or in flight
at the moment, or the one due while the server was away).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine

from tests.faults.harness import FULL, Fleet, checking
from tests.faults.services import PrivatePostgres, PrivateRedis
from tests.faults.slots import Fault, describe, stored_runs, verify_slots

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

INTEGRATIONS = 40
INTERVAL_S = 4.0
TIMEOUT_S = 1.0
DOWN_S = 2.0
RESTARTS = 3 if FULL else 1
SETTLE_S = 3.0


def resumed(engine: Engine, since: float, checks: int) -> Callable[[], bool]:
    """Every check has stored a run that was due after `since`."""

    def done() -> bool:
        runs = stored_runs(engine)
        return len(runs) == checks and all(r[-1].scheduled_at > since for r in runs.values())

    return done


def survive_restarts(
    fleet: Fleet, engine: Engine, restart: Callable[[], None], server: str
) -> None:
    faults: list[Fault] = []
    with checking(fleet, engine, INTEGRATIONS, INTERVAL_S, TIMEOUT_S, delay_s=0.1) as target:
        pids = {name: process.pid for name, process in fleet.running.items()}
        for number in range(1, RESTARTS + 1):
            time.sleep(INTERVAL_S / 2)
            down = time.time()
            restart()
            up = time.time()
            took = fleet.wait(
                resumed(engine, up, INTEGRATIONS),
                2 * INTERVAL_S + 5,
                f"every check to run again after {server} restart {number}",
            )
            print(f"{server} restart {number}: down {up - down:.1f} s, all resumed in {took:.1f} s")
            # Each check may lose the run queued or running at the moment, or the
            # one that fell due while the server was away.
            faults.append(Fault(f"{server} restart {number}", down - INTERVAL_S, up + INTERVAL_S))
        # One more interval past the last fault window, so its end is checked too.
        time.sleep(max(0.0, up + 2 * INTERVAL_S + SETTLE_S - time.time()))
        fleet.require_alive(*pids)
        assert {name: p.pid for name, p in fleet.running.items()} == pids  # no restarts
        horizon = time.time() - SETTLE_S
        report = verify_slots(engine, target.hits(), INTERVAL_S, horizon, faults)
    assert not report.problems, describe(report, faults) + "\n" + fleet.tails()
    assert report.checks == INTEGRATIONS
    print(report.summary())


@pytest.fixture(params=["no persistence", "aof"] if FULL else ["no persistence"])
def restartable_redis(
    request: pytest.FixtureRequest, private_redis: PrivateRedis, tmp_path: Path
) -> Iterator[PrivateRedis]:
    """The session's Redis (comes back empty), or in the full mode also one with
    AOF (`appendonly yes`, `appendfsync everysec`: comes back with its queues)."""
    if request.param == "no persistence":
        yield private_redis
        return
    server = PrivateRedis(tmp_path, aof=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_redis_restart(fleet: Fleet, fault_db: Engine, restartable_redis: PrivateRedis) -> None:
    fleet.env["INTMON_REDIS_URL"] = restartable_redis.url
    survive_restarts(fleet, fault_db, lambda: restartable_redis.restart(DOWN_S), "Redis")
    # The scheduler holds the lock in the Redis that came back (taken again, or kept).
    client = redis.Redis.from_url(restartable_redis.url)
    try:
        assert client.exists(f"{fleet.env['INTMON_NAMESPACE']}:scheduler:leader")
    finally:
        client.close()


def test_postgres_restart(fleet: Fleet, fault_db: Engine, private_pg: PrivatePostgres) -> None:
    survive_restarts(fleet, fault_db, lambda: private_pg.restart(DOWN_S), "PostgreSQL")
