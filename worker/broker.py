"""The dramatiq broker, built once from settings before any actor is declared.

Redis in production; dramatiq's in-process `StubBroker` in the embedded mode,
where `intmon run` starts dramatiq's own `Worker` threads next to the scheduler.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.broker import Consumer
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from core.settings import Settings, get_settings
from worker.batch import CHECKS_QUEUE, E2E_QUEUE, HOUSEKEEPING_QUEUE, LEADS_QUEUE
from worker.middleware import CheckMetrics, OtherQueues, ReleaseClaims, TuneGC

_lock = threading.Lock()
_broker: dramatiq.Broker | None = None


class PolledRedisBroker(RedisBroker):
    """dramatiq's Redis broker with an idle poll per queue instead of one for all.

    dramatiq has no blocking fetch: an idle consumer polls Redis, backing off up
    to the worker's timeout. Only the checks queue needs a short one (it is
    schedule lag); the other queues poll at `idle_poll_ms`, and their consumers
    stop costing the checks CPU.
    """

    def __init__(self, *, fast_queues: set[str], poll_ms: int, idle_poll_ms: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.fast_queues = fast_queues
        self.poll_ms = poll_ms
        self.idle_poll_ms = idle_poll_ms

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        poll = self.poll_ms if queue_name in self.fast_queues else self.idle_poll_ms
        return super().consume(queue_name, prefetch, poll)


def build_broker(settings: Settings) -> dramatiq.Broker:
    broker: dramatiq.Broker
    if settings.redis_url:
        broker = PolledRedisBroker(
            url=settings.redis_url,
            namespace=f"{settings.namespace}-dramatiq",
            fast_queues={CHECKS_QUEUE},
            poll_ms=settings.worker_poll_ms,
            idle_poll_ms=settings.worker_idle_poll_ms,
        )
    else:
        broker = StubBroker()
    broker.add_middleware(ReleaseClaims())
    broker.add_middleware(CheckMetrics())
    if settings.redis_url:
        # A worker process's own; the embedded mode's caller tunes its process itself
        # (`intmon run`), so a test process that embeds intmon keeps Python's defaults.
        broker.add_middleware(TuneGC())
        if settings.other_queue_threads > 0:
            broker.add_middleware(OtherQueues(other_queues(), settings.other_queue_threads))
    return broker


def other_queues() -> set[str]:
    """Every queue a worker serves but the checks queue."""

    return {HOUSEKEEPING_QUEUE, LEADS_QUEUE, E2E_QUEUE}


def get_broker() -> dramatiq.Broker:
    """The process's broker, created from settings on first use and made current."""
    global _broker
    with _lock:
        if _broker is None:
            _broker = build_broker(get_settings())
            dramatiq.set_broker(_broker)
        return _broker


def install_broker(broker: dramatiq.Broker) -> None:
    """Make `broker` this process's broker (the embedded mode builds its own)."""
    global _broker
    with _lock:
        _broker = broker
        dramatiq.set_broker(broker)


def declare_actor(
    broker: dramatiq.Broker, fn: Callable[..., None], name: str, queue: str, *, minutes: int
) -> dramatiq.Actor[Any, Any]:
    """Declare `fn` as actor `name` on `queue`, never retried by dramatiq (STYLE §5):
    checks are retried by the next tick, housekeeping by its next run, outbox rows
    and leads by their own attempt counts, scenarios by their next scheduled run."""
    return dramatiq.actor(
        broker=broker,
        actor_name=name,
        queue_name=queue,
        max_retries=0,
        time_limit=minutes * 60 * 1000,
    )(fn)


def queue_depths(broker: dramatiq.Broker, queues: list[str]) -> dict[str, int]:
    """Messages waiting per queue (delayed messages not included)."""
    if isinstance(broker, RedisBroker):
        # The list holds the ids waiting to be fetched (dramatiq's dispatch.lua);
        # its own do_qsize also counts in-progress and delayed messages.
        return {q: int(broker.client.llen(f"{broker.namespace}:{q}")) for q in queues}
    if isinstance(broker, StubBroker):
        return {q: broker.queues[q].qsize() for q in queues if q in broker.queues}
    return {}
