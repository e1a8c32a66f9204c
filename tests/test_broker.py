"""The Redis broker polls the checks queue often and every other queue rarely."""

from __future__ import annotations

import dramatiq
import redis

from core.settings import Settings
from tests.conftest import REDIS_URL
from worker.batch import CHECKS_QUEUE, HOUSEKEEPING_QUEUE, LEADS_QUEUE
from worker.broker import PolledRedisBroker, build_broker


def test_each_queue_polls_at_its_own_pace(redis_client: redis.Redis, namespace: str) -> None:
    broker = build_broker(
        Settings(
            redis_url=REDIS_URL, namespace=namespace, worker_poll_ms=40, worker_idle_poll_ms=700
        )
    )
    assert isinstance(broker, PolledRedisBroker)

    # What dramatiq's consumer threads ask for: the worker timeout, for every queue.
    checks = broker.consume(CHECKS_QUEUE, prefetch=4, timeout=1000)
    alerts = broker.consume(HOUSEKEEPING_QUEUE, prefetch=4, timeout=1000)
    delayed = broker.consume(f"{CHECKS_QUEUE}.DQ", prefetch=4, timeout=1000)

    assert checks.timeout == 40  # type: ignore[attr-defined]
    assert alerts.timeout == 700  # type: ignore[attr-defined]
    assert delayed.timeout == 700  # type: ignore[attr-defined]


def test_messages_still_arrive_on_every_queue(redis_client: redis.Redis, namespace: str) -> None:
    broker = build_broker(
        Settings(redis_url=REDIS_URL, namespace=namespace, worker_idle_poll_ms=50)
    )
    for queue in (CHECKS_QUEUE, LEADS_QUEUE):
        broker.declare_queue(queue)
        broker.enqueue(
            dramatiq.Message(queue_name=queue, actor_name="noop", args=(), kwargs={}, options={})
        )
        consumer = broker.consume(queue, prefetch=1, timeout=1000)
        received = None
        for _ in range(50):  # bounded: a few polls at most
            received = next(consumer)
            if received is not None:
                break
        assert received is not None and received.queue_name == queue
        consumer.ack(received)
        consumer.close()
