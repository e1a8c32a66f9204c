"""The request limiter: one table of hits and decisions, run on the in-process
limiter and on the Redis one (real Redis on 127.0.0.1, a namespace per test)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
import redis.asyncio
from pydantic import ValidationError

from core.limits import Limiter, Rate, parse_rate
from core.limits.memory import MemoryLimiter
from core.limits.redis import AsyncRedisLimiter, RedisLimiter
from core.settings import Settings
from tests.conftest import REDIS_URL

T0 = 1_795_000_000.0


@dataclass(frozen=True)
class Hit:
    at: float  # seconds after T0
    allowed: bool
    retry_after_s: float = 0.0
    key: str = "client:acme"


def burst(count: int, at: float = 0.0, key: str = "client:acme") -> list[Hit]:
    return [Hit(at, True, key=key) for _ in range(count)]


CASES = [
    pytest.param(
        "10/min",
        [*burst(10), Hit(0, False, 6.0), Hit(5.5, False, 0.5), Hit(6, True), Hit(6, False, 6.0)],
        id="a bucket of ten, then one per six seconds",
    ),
    pytest.param(
        "2/min",
        [*burst(2), Hit(0, False, 30.0), Hit(1, False, 29.0), Hit(30, True), Hit(30, False, 30.0)],
        id="a refused request costs nothing",
    ),
    pytest.param(
        "2/10s",
        [Hit(0, True), Hit(100, True), Hit(100, True), Hit(100, False, 5.0)],
        id="an idle bucket fills up, never beyond its size",
    ),
    pytest.param(
        "1/h",
        [Hit(0, True), Hit(0, False, 3600.0), *burst(1, key="client:orbit"), Hit(3600, True)],
        id="each key has its own bucket",
    ),
    pytest.param(
        "3/min",
        [*burst(3), Hit(60, True), Hit(60, True), Hit(60, True), Hit(60, False, 20.0)],
        id="a whole period later the bucket is full again",
    ),
]


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> Iterator[Limiter]:
    if request.param == "memory":
        yield MemoryLimiter()
        return
    client: redis.Redis = request.getfixturevalue("redis_client")
    yield RedisLimiter(client, request.getfixturevalue("namespace"))


@pytest.mark.parametrize(("rate", "hits"), CASES)
def test_the_limiter_allows_and_refuses_as_the_table_says(
    limiter: Limiter, rate: str, hits: list[Hit]
) -> None:
    parsed = parse_rate(rate)
    assert parsed is not None
    for step, hit in enumerate(hits):
        decision = limiter.hit(hit.key, parsed, T0 + hit.at)
        assert (decision.allowed, decision.retry_after_s) == (
            hit.allowed,
            pytest.approx(hit.retry_after_s, abs=1e-3),
        ), f"hit {step} at +{hit.at}s on {hit.key}"


@pytest.mark.parametrize(("rate", "hits"), CASES)
def test_a_batch_of_hits_decides_as_the_same_hits_one_by_one(
    limiter: Limiter, rate: str, hits: list[Hit]
) -> None:
    """`hit_many` with the hits of one moment as a batch (keys repeating within
    it) gives the table's decisions, in order."""
    parsed = parse_rate(rate)
    assert parsed is not None
    moments = sorted({hit.at for hit in hits})
    for at in moments:
        batch = [hit for hit in hits if hit.at == at]
        decisions = limiter.hit_many([hit.key for hit in batch], parsed, T0 + at)
        assert [(d.allowed, pytest.approx(d.retry_after_s, abs=1e-3)) for d in decisions] == [
            (hit.allowed, hit.retry_after_s) for hit in batch
        ], f"the batch at +{at}s"
    assert limiter.hit_many([], parsed, T0) == []


def test_a_redis_bucket_expires_when_it_is_full_again(
    redis_client: redis.Redis, namespace: str
) -> None:
    limiter = RedisLimiter(redis_client, namespace)
    rate = Rate(10, 60.0, "10/min")
    for _ in range(3):
        limiter.hit("checks_run:client:acme", rate, T0)
    ttl_ms = redis_client.pttl(f"{namespace}:limits:checks_run:client:acme")
    assert 17_000 <= ttl_ms <= 18_000  # three intervals of six seconds


@pytest.mark.parametrize(
    ("text", "count", "period_s"),
    [
        ("10/min", 10, 60),
        ("600/h", 600, 3600),
        ("20/10s", 20, 10),
        (" 5 / 2 minutes ", 5, 120),
        ("1/day", 1, 86400),
        ("3/1.5sec", 3, 1.5),
    ],
)
def test_rates_are_read_as_count_per_period(text: str, count: int, period_s: float) -> None:
    rate = parse_rate(text)
    assert rate is not None and (rate.count, rate.period_s) == (count, period_s)


def test_off_means_no_limit() -> None:
    assert parse_rate("off") is None
    assert Settings(limit_leads="OFF").limit("leads") is None


@pytest.mark.parametrize("text", ["10", "ten/min", "10/fortnight", "0/min", "10/0s", "10/.min"])
def test_a_bad_rate_setting_is_refused_naming_the_setting(text: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(limit_e2e_runs=text)
    assert "limit_e2e_runs" in str(refused.value)
    assert "COUNT/PERIOD" in str(refused.value) or "above zero" in str(refused.value)


@pytest.mark.parametrize(("rate", "hits"), CASES)
def test_the_async_redis_limiter_decides_as_the_table_says(
    namespace: str, rate: str, hits: list[Hit]
) -> None:
    """`AsyncRedisLimiter` (the API's postback writer on the event loop) runs the
    same script on the same buckets: a batch per moment gives the table's decisions."""
    parsed = parse_rate(rate)
    assert parsed is not None
    loop = asyncio.new_event_loop()
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    limiter = AsyncRedisLimiter(client, namespace)
    try:
        for at in sorted({hit.at for hit in hits}):
            batch = [hit for hit in hits if hit.at == at]
            keys = [hit.key for hit in batch]
            decisions = loop.run_until_complete(limiter.hit_many(keys, parsed, T0 + at))
            assert [(d.allowed, pytest.approx(d.retry_after_s, abs=1e-3)) for d in decisions] == [
                (hit.allowed, hit.retry_after_s) for hit in batch
            ], f"the batch at +{at}s"
        assert loop.run_until_complete(limiter.hit_many([], parsed, T0)) == []
    finally:
        loop.run_until_complete(client.aclose())
        loop.close()
