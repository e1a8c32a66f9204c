"""dramatiq actors. `dramatiq worker.actors` (or `intmon worker`) imports this module.

The check actor never retries: the scheduler's next tick is the retry, and the
probe already retried a transient network error once (STYLE §5).
"""

from __future__ import annotations

from typing import Any

import dramatiq

from worker.batch import ACTOR_NAME, CHECKS_QUEUE
from worker.broker import get_broker
from worker.pipeline import publish_outcome, run_batch
from worker.runtime import runtime


def run_checks(payload: dict[str, Any]) -> None:
    publish_outcome(run_batch(runtime(), payload))


def declare(broker: dramatiq.Broker) -> dramatiq.Actor[Any, Any]:
    declare_on = dramatiq.actor(
        broker=broker,
        actor_name=ACTOR_NAME,
        queue_name=CHECKS_QUEUE,
        max_retries=0,
        time_limit=20 * 60 * 1000,
    )
    return declare_on(run_checks)


run_checks_actor = declare(get_broker())
