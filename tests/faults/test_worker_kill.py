"""kill -9 of the worker in the middle of checks.

Sixty integrations on one target, every 8 s, each request held 0.3 s, so at any
moment a few checks are in flight. The worker (dramatiq's parent and its
processes) is killed while the target holds a request, and started again.
Proves: the runs the dead worker held are the only ones lost (at most one per
check and kill), the runs that fell due while no worker ran are run late by
the new one, every later interval has its result, and no slot ran twice, at
the target or in the database.
"""

from __future__ import annotations

import time
from functools import partial

import pytest
from sqlalchemy import Engine

from tests.faults.harness import FULL, WORKER, Fleet, Target, checking
from tests.faults.slots import (
    Fault,
    describe,
    downtime,
    first_result_after,
    result_since,
    verify_slots,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

INTEGRATIONS = 60
INTERVAL_S = 8.0
# Budget of a run: 1 s timeout × 1 attempt + 5 s to store, under the interval,
# so a dead worker's claim lapses before the check's next due time.
TIMEOUT_S = 1.0
KILLS = 4 if FULL else 1
# A run due this long ago has been stored, unless it was lost.
SETTLE_S = 3.0


def kill_mid_check(fleet: Fleet, target: Target) -> float:
    """kill -9 the worker while the target holds a request; when it was killed."""
    fleet.wait(lambda: target.in_progress > 0, 30, "a check in flight at the target")
    killed = time.time()
    fleet.kill("worker")
    return killed


def test_worker_killed_mid_checks_loses_only_the_runs_it_held(
    fleet: Fleet, fault_db: Engine
) -> None:
    faults: list[Fault] = []
    with checking(fleet, fault_db, INTEGRATIONS, INTERVAL_S, TIMEOUT_S, delay_s=0.3) as target:
        for number in range(1, KILLS + 1):
            time.sleep(INTERVAL_S / 2)
            killed = kill_mid_check(fleet, target)
            fleet.start("worker", *WORKER)
            fleet.wait(
                partial(result_since, fault_db, killed),
                30,
                f"the restarted worker's first result (kill {number})",
            )
            ready = first_result_after(fault_db, killed) or 0.0
            # The runs the dead worker held were due within one interval before the kill.
            faults.append(Fault(f"kill {number}", killed - INTERVAL_S - 0.5, killed))
            # Runs that fell due with no worker wait one interval in the queue; a
            # slow restart (a loaded machine) makes the older ones stale.
            if ready - INTERVAL_S + 1 > killed:
                faults.append(
                    downtime(f"no worker {number}", killed, ready - INTERVAL_S + 1, INTERVAL_S)
                )
            # The next run of each check it held must not be lost: let it fall due.
            time.sleep(max(0.0, killed + INTERVAL_S + SETTLE_S + 0.5 - time.time()))
        fleet.require_alive("scheduler", "worker")
        horizon = time.time() - SETTLE_S
        report = verify_slots(fault_db, target.hits(), INTERVAL_S, horizon, faults)
    assert not report.problems, describe(report, faults) + "\n" + fleet.tails()
    assert report.checks == INTEGRATIONS
    # The kill really hit checks in flight: their results were lost, and counted as such.
    assert report.lost, "no run was lost: the kill did not catch a check in flight"
