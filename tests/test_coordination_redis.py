"""Leader lock, fencing and claims on the real Redis."""

from __future__ import annotations

import time

import pytest
import redis

from worker.coordination import claim_value
from worker.coordination.memory import MemoryCoordinator
from worker.coordination.redis import RedisCoordinator

pytestmark = pytest.mark.redis


def test_one_leader_and_takeover_after_expiry(redis_client: redis.Redis, namespace: str) -> None:
    first = RedisCoordinator(redis_client, namespace, ttl_s=0.5)
    second = RedisCoordinator(redis_client, namespace, ttl_s=0.5)
    assert first.ensure_leadership() and first.fence == 1
    assert not second.ensure_leadership() and second.fence == 0
    assert first.ensure_leadership()  # renewal keeps it

    # The leader dies (stops renewing): the standby takes over once the lock expires.
    deadline = time.monotonic() + 3
    while not second.ensure_leadership():
        assert time.monotonic() < deadline, "standby never took over"
        time.sleep(0.05)
    assert second.fence == 2  # fencing token grew

    # The old leader, waking up, cannot claim anything: its claim is fenced off.
    assert first.claim(["a/health"], time.time(), time.time() + 60) is None
    assert first.fence == 0
    assert not first.ensure_leadership()


def test_resign_hands_over_at_once(redis_client: redis.Redis, namespace: str) -> None:
    first = RedisCoordinator(redis_client, namespace, ttl_s=30)
    second = RedisCoordinator(redis_client, namespace, ttl_s=30)
    assert first.ensure_leadership()
    first.resign()
    assert second.ensure_leadership()


@pytest.fixture(params=["redis", "memory"])
def coordinator(request, redis_client: redis.Redis, namespace: str):  # type: ignore[no-untyped-def]
    if request.param == "memory":
        coordinator = MemoryCoordinator()
    else:
        coordinator = RedisCoordinator(redis_client, namespace, ttl_s=5)
    assert coordinator.ensure_leadership()
    return coordinator


def test_claims_are_exclusive_until_released_or_expired(coordinator) -> None:  # type: ignore[no-untyped-def]
    now = 1000.0
    assert coordinator.claim(["a", "b"], now, now + 60) == ["a", "b"]
    assert coordinator.claim(["a", "b", "c"], now + 1, now + 61) == ["c"]
    assert coordinator.in_flight(now + 1) == 3

    coordinator.release({"a": claim_value(now + 60)}, {})
    assert coordinator.claim(["a"], now + 2, now + 62) == ["a"]
    # Expired claims can be taken again.
    assert coordinator.claim(["b"], now + 60.5, now + 120) == ["b"]


def test_release_does_not_free_a_newer_claim(coordinator) -> None:  # type: ignore[no-untyped-def]
    now = 1000.0
    coordinator.claim(["a"], now, now + 10)
    coordinator.claim(["a"], now + 11, now + 30)  # the old claim expired, a new run claimed it
    coordinator.release({"a": claim_value(now + 10)}, {})  # the late worker of the first run
    assert coordinator.claim(["a"], now + 12, now + 40) == []


def test_release_can_park_until_retry_after(coordinator) -> None:  # type: ignore[no-untyped-def]
    now = 1000.0
    coordinator.claim(["a"], now, now + 10)
    coordinator.release({"a": claim_value(now + 10)}, {"a": now + 100})
    assert coordinator.claim(["a"], now + 50, now + 60) == []
    assert coordinator.claim(["a"], now + 101, now + 160) == ["a"]


def test_start_extends_only_the_claims_still_held(coordinator) -> None:  # type: ignore[no-untyped-def]
    now = 1000.0
    coordinator.claim(["a", "b"], now, now + 30)
    coordinator.claim(["b"], now + 31, now + 61)  # b's claim lapsed and was taken again
    assert coordinator.start(
        {"a": claim_value(now + 30), "b": claim_value(now + 30)}, now + 50
    ) == ["a"]
    assert coordinator.claim(["a"], now + 40, now + 70) == []  # running until now + 50
    coordinator.release({"a": claim_value(now + 50)}, {})  # released with the started value
    assert coordinator.claim(["a"], now + 41, now + 71) == ["a"]


def test_held_tells_a_claim_no_worker_started_from_a_started_run(coordinator) -> None:  # type: ignore[no-untyped-def]
    now = 1_000.0
    sent = claim_value(now + 30)
    assert coordinator.claim(["a/x", "b/x"], now, now + 30) == ["a/x", "b/x"]
    assert coordinator.start({"b/x": sent}, now + 300) == ["b/x"]
    held = coordinator.held(["a/x", "b/x", "free/x"])
    # a/x still holds the scheduler's value (queued, nobody took it); b/x was started.
    assert held == {"a/x": sent, "b/x": claim_value(now + 300)}
    assert coordinator.held([]) == {}
