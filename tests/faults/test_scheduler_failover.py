"""kill -9 of the leading scheduler with a standby running.

Forty checks every 4 s, two `intmon scheduler` processes (lock TTL 1.5 s) and
a worker. The leader is killed; the killed one is started again as the next
standby (the full mode kills the leader three times). Extends
tests/test_production_pipeline.py, which proves a take-over happens on the
shared servers, with the receiver's view of it.

Proves: the standby holds the lock within the TTL (plus a tick); no slot is
scheduled or run twice (the database's `scheduled_at`, the target's requests);
a check loses at most one run per fail-over, so none waits more than one
interval beyond its rhythm; and the target never sees one check twice within
half an interval (a caught-up run is not followed at once by the regular one).
"""

from __future__ import annotations

import itertools
import time
from functools import partial

import pytest
import redis
from sqlalchemy import Engine

from tests.faults.harness import FULL, Fleet, checking
from tests.faults.services import PrivateRedis
from tests.faults.slots import Fault, describe, verify_slots

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

INTEGRATIONS = 40
INTERVAL_S = 4.0
TIMEOUT_S = 1.0
LEADER_TTL_S = 1.5
# One scheduler tick, and a loaded machine's scheduling delay.
TAKEOVER_SLACK_S = 1.0
FAILOVERS = 3 if FULL else 1
SETTLE_S = 3.0
SCHEDULERS = ("scheduler-a", "scheduler-b")


def leader_token(client: redis.Redis, lock_key: str) -> bytes | None:
    value = client.get(lock_key)
    return value if isinstance(value, bytes) else None


def taken_over(client: redis.Redis, lock_key: str, old: bytes) -> bool:
    return leader_token(client, lock_key) not in (None, old)


def standing_by(fleet: Fleet, name: str) -> bool:
    return "waiting for the leader lock" in fleet.log(name)


def leader(fleet: Fleet) -> str:
    """The running scheduler that took the lock last (its log says so)."""
    took = {
        name: fleet.log(name).rfind("took leadership")
        for name in SCHEDULERS
        if name in fleet.running and fleet.alive(name)
    }
    leading = [name for name, at in took.items() if at >= 0]
    assert len(leading) == 1, f"not one leader: {took}\n{fleet.tails()}"
    return leading[0]


def test_leader_killed_standby_takes_over_without_double_or_lost_runs(
    fleet: Fleet, fault_db: Engine, private_redis: PrivateRedis
) -> None:
    fleet.env["INTMON_LEADER_TTL_S"] = str(LEADER_TTL_S)
    lock_key = f"{fleet.env['INTMON_NAMESPACE']}:scheduler:leader"
    client = redis.Redis.from_url(private_redis.url)
    faults: list[Fault] = []
    with checking(
        fleet, fault_db, INTEGRATIONS, INTERVAL_S, TIMEOUT_S, schedulers=SCHEDULERS
    ) as target:
        # Every check has run once: the worker is up. Batches the schedulers sent before
        # it was run late, so their next run comes sooner than an interval; that is
        # catching up, not a double run, and gaps are measured from here on.
        ready = time.time()
        for number in range(1, FAILOVERS + 1):
            time.sleep(INTERVAL_S / 2)
            old = leader(fleet)
            token = leader_token(client, lock_key)
            assert token is not None, fleet.tails()
            killed = time.time()
            fleet.kill(old)
            fleet.wait(
                partial(taken_over, client, lock_key, token),
                LEADER_TTL_S + 10,
                f"the standby to take the lock (fail-over {number})",
            )
            takeover = time.time() - killed
            assert takeover <= LEADER_TTL_S + TAKEOVER_SLACK_S, (takeover, fleet.tails())
            faults.append(
                Fault(f"fail-over {number}", killed - 0.5, killed + takeover + INTERVAL_S)
            )
            print(f"fail-over {number}: {old} killed, lock taken over in {takeover:.2f} s")
            fleet.start(old, "scheduler")  # the next standby, once it is up
            fleet.wait(
                partial(standing_by, fleet, old), 30, f"{old} to stand by (fail-over {number})"
            )
        time.sleep(INTERVAL_S + SETTLE_S)
        fleet.require_alive(*SCHEDULERS, "worker")
        horizon = time.time() - SETTLE_S
        hits = target.hits()
        report = verify_slots(fault_db, hits, INTERVAL_S, horizon, faults)
    client.close()
    assert not report.problems, describe(report, faults) + "\n" + fleet.tails()
    assert report.checks == INTEGRATIONS
    for key, times in hits.items():
        since_ready = [at for at in times if at >= ready]
        gaps = [later - earlier for earlier, later in itertools.pairwise(since_ready)]
        # Half an interval between dispatches; a loaded worker may start one 0.5 s late.
        assert min(gaps) > INTERVAL_S / 2 - 0.5, (key, [round(g, 2) for g in gaps])
    print(report.summary())
