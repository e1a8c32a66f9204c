"""dramatiq actors. `dramatiq worker.actors` (or `intmon worker`) imports this module.

The check actor never retries: the scheduler's next tick is the retry, and the
probe already retried a transient network error once (STYLE §5).
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq import Message

from alerts.housekeeping import housekeep as run_housekeeping
from alerts.housekeeping import send_pending
from intmon.db import utcnow
from worker.batch import (
    ACTOR_NAME,
    CHECKS_QUEUE,
    HOUSEKEEPING_ACTOR,
    HOUSEKEEPING_QUEUE,
    SEND_ACTOR,
)
from worker.broker import get_broker
from worker.pipeline import publish_outcome, run_batch
from worker.runtime import runtime


def run_checks(payload: dict[str, Any]) -> None:
    outcome = run_batch(runtime(), payload)
    publish_outcome(outcome)
    if outcome.changed:
        # A ticket opened or an incident moved: send its messages now rather
        # than at the next housekeeping tick (its rows are already committed).
        get_broker().enqueue(
            Message(
                queue_name=HOUSEKEEPING_QUEUE,
                actor_name=SEND_ACTOR,
                args=(),
                kwargs={},
                options={},
            )
        )


def send_now() -> None:
    rt = runtime()
    send_pending(rt.db, rt.settings.policy(), utcnow())


def housekeep(sync: bool = False) -> None:
    rt = runtime()
    run_housekeeping(rt.db, rt.settings.policy(), utcnow(), sync=sync)


def declare(broker: dramatiq.Broker) -> dramatiq.Actor[Any, Any]:
    declare_on = dramatiq.actor(
        broker=broker,
        actor_name=ACTOR_NAME,
        queue_name=CHECKS_QUEUE,
        max_retries=0,
        time_limit=20 * 60 * 1000,
    )
    # Housekeeping is not retried by dramatiq either: the leader sends the
    # next one within seconds, and outbox rows carry their own retry state.
    dramatiq.actor(
        broker=broker,
        actor_name=HOUSEKEEPING_ACTOR,
        queue_name=HOUSEKEEPING_QUEUE,
        max_retries=0,
        time_limit=10 * 60 * 1000,
    )(housekeep)
    dramatiq.actor(
        broker=broker,
        actor_name=SEND_ACTOR,
        queue_name=HOUSEKEEPING_QUEUE,
        max_retries=0,
        time_limit=10 * 60 * 1000,
    )(send_now)
    return declare_on(run_checks)


run_checks_actor = declare(get_broker())
