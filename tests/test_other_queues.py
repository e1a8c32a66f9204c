"""The checks keep their threads while a long job holds the other queues' threads.

`intmon worker` gives dramatiq's threads to the checks queue alone and the
`OtherQueues` middleware serves alerts, leads and e2e on threads of their own
(worker/middleware/other_queues.py).
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import dramatiq
import pytest
import redis
from dramatiq.brokers.stub import StubBroker

from core.settings import Settings
from tests.conftest import REDIS_URL
from worker.batch import CHECKS_QUEUE, E2E_QUEUE, HOUSEKEEPING_QUEUE, LEADS_QUEUE
from worker.broker import build_broker, other_queues
from worker.middleware import OtherQueues, ReleaseClaims


def test_a_long_job_on_another_queue_does_not_hold_the_check_thread() -> None:
    broker = StubBroker()
    side = OtherQueues({HOUSEKEEPING_QUEUE}, threads=1)
    broker.add_middleware(side)
    release, long_started, check_ran = threading.Event(), threading.Event(), threading.Event()

    @dramatiq.actor(broker=broker, queue_name=HOUSEKEEPING_QUEUE, max_retries=0)
    def long_job() -> None:
        long_started.set()
        release.wait(10)

    @dramatiq.actor(broker=broker, queue_name=CHECKS_QUEUE, max_retries=0)
    def check() -> None:
        check_ran.set()

    worker = dramatiq.Worker(broker, queues={CHECKS_QUEUE}, worker_threads=1)
    worker.start()
    try:
        assert side.worker is not None and side.worker.consumer_whitelist == {HOUSEKEEPING_QUEUE}
        long_job.send()
        assert long_started.wait(5)  # served although the checks' worker ignores its queue
        check.send()
        assert check_ran.wait(5)  # while the long job still holds its own thread
        assert not release.is_set()
    finally:
        release.set()
        worker.stop()
    assert side.worker is None  # stopped with the checks' worker


def test_a_worker_of_every_queue_gets_no_second_pool() -> None:
    broker = StubBroker()
    side = OtherQueues({HOUSEKEEPING_QUEUE}, threads=1)
    broker.add_middleware(side)
    worker = dramatiq.Worker(broker, queues={CHECKS_QUEUE, HOUSEKEEPING_QUEUE}, worker_threads=1)
    worker.start()
    try:
        assert side.worker is None
    finally:
        worker.stop()


def test_production_broker_serves_the_other_queues_beside_the_checks(
    redis_client: redis.Redis, namespace: str
) -> None:
    assert other_queues() == {HOUSEKEEPING_QUEUE, LEADS_QUEUE, E2E_QUEUE}
    broker = build_broker(Settings(redis_url=REDIS_URL, namespace=namespace))
    shared = build_broker(Settings(redis_url=REDIS_URL, namespace=namespace, other_queue_threads=0))
    try:
        (side,) = [m for m in broker.middleware if isinstance(m, OtherQueues)]
        assert (side.queues, side.threads) == (other_queues(), 2)
        assert not [m for m in shared.middleware if isinstance(m, OtherQueues)]
    finally:
        broker.close()
        shared.close()


def test_the_late_writer_closes_with_the_checks_worker_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The other queues' worker stops first, while check threads may still hand
    stragglers to the late writer: its shutdown must not close it."""
    closed: list[float] = []
    runtime = SimpleNamespace(
        late=SimpleNamespace(close=lambda timeout: closed.append(timeout)),
        settings=SimpleNamespace(batch_wait_s=0.25),
    )
    monkeypatch.setattr("worker.runtime.current_runtime", lambda: runtime)
    broker = StubBroker()
    broker.add_middleware(ReleaseClaims())
    broker.add_middleware(OtherQueues({HOUSEKEEPING_QUEUE}, threads=1))
    worker = dramatiq.Worker(broker, queues={CHECKS_QUEUE}, worker_threads=1)
    worker.start()
    worker.stop()
    assert closed == [0.25 + 5.0]  # once, for the checks' worker
