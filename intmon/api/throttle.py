"""Limits on the work a request triggers, as FastAPI dependencies (429 over the limit).

    POST …/checks/run            checks_run        INTMON_LIMIT_CHECKS_RUN        10/min
    POST …/scenarios/{name}/runs e2e_runs          INTMON_LIMIT_E2E_RUNS          10/min
    POST /api/leads              leads             INTMON_LIMIT_LEADS             600/min
    POST /api/lead-deliveries    lead_deliveries   INTMON_LIMIT_LEAD_DELIVERIES   600/min
    GET|POST /ping/{key}[/…]     pings             INTMON_LIMIT_PINGS             120/min

Who pays: a client token's requests are charged to its client, so a client
with five tokens has one budget, not five. A support or tester token without a
client pays for itself. Support tokens get `INTMON_LIMIT_SUPPORT_FACTOR` (10)
times the limit: a person at the console never meets it, a runaway script with
a leaked support token still does. Every request to a limited route counts,
including those refused afterwards (404, 422): probing costs budget too.
The ping endpoint needs no login: there the ping key pays (`charge_keys`, a
whole batch of pings at once), known or not, so a job stuck in a loop is slowed
down without touching its neighbours.

The buckets live in Redis when it is configured (every API process shares them)
and in this process otherwise, like the scheduler's coordination. Over the
limit the answer is 429 with `Retry-After` (whole seconds) and a message naming
the setting; with Redis unreachable, 503 (the limit cannot be enforced, and the
work it guards would not be queued either).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import redis
import redis.asyncio
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials

from core import metrics
from core.limits import Decision, Limiter, Rate
from core.limits.memory import MemoryLimiter
from core.limits.redis import AsyncRedisLimiter, RedisLimiter
from core.settings import Settings
from intmon.api.access import bearer, principal
from intmon.api.auth import Principal
from intmon.api.local_runs import runs_for

log = logging.getLogger(__name__)

# What each action is called in a refusal: "… for client acme: try running checks now again …".
ACTIONS = {
    "checks_run": "running checks now",
    "e2e_runs": "triggering scenario runs",
    "leads": "submitting leads",
    "lead_deliveries": "recording lead deliveries",
    "pings": "pinging this heartbeat",
    "postbacks": "sending postbacks for this integration",
}
# What an unauthenticated action's bucket belongs to, as the 429 names it.
KEYED_BY = {"pings": "ping key", "postbacks": "integration"}


@dataclass
class Throttle:
    """The limits of one API application and the buckets they are counted in."""

    limiter: Limiter
    settings: Settings
    clock: Callable[[], float] = time.time
    # The same Redis buckets for callers on the event loop (`charge_keys_async`).
    loop_limiter: LoopLimiter | None = None
    _key_rates: dict[str, Rate | None] = field(default_factory=dict)

    def charge(self, action: str, caller: Principal, token: str) -> None:
        """Count one request of `action`; HTTPException 429 when over the limit."""
        rate = self.settings.limit(action)
        if rate is None:
            return
        payer, key = payer_of(caller, token)
        named = f"INTMON_LIMIT_{action.upper()}={rate.text}"
        if caller.is_support:
            factor = self.settings.limit_support_factor
            rate = Rate(rate.count * factor, rate.period_s, rate.text)
            named += f" (x{factor} for support)"
        try:
            decision = self.limiter.hit(f"{action}:{key}", rate, self.clock())
        except redis.RedisError as error:
            raise self._unavailable(action, error) from None
        if not decision.allowed:
            metrics.api_requests_limited.labels(action).inc()
            wait = max(1, math.ceil(round(decision.retry_after_s, 3)))  # float noise
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"limit {named} reached for {payer}: try {ACTIONS[action]} again in {wait} s",
                headers={"Retry-After": str(wait)},
            )

    def charge_key(self, action: str, key: str) -> None:
        """Count one unauthenticated request of `action` against `key`'s bucket;
        HTTPException 429 over the limit."""
        refusal = self.charge_keys(action, [key])[0]
        if refusal is not None:
            raise refusal

    def charge_keys(self, action: str, keys: list[str]) -> list[HTTPException | None]:
        """Count one unauthenticated request of `action` per key, in one step (one
        Redis round trip for a batch of pings): for each, None or the 429 to answer.
        Buckets are keyed by a digest of the key (it is a secret). HTTPException 503
        without Redis."""
        rate, buckets = self._keyed(action, keys)
        if rate is None:
            return [None] * len(keys)
        try:
            decisions = self.limiter.hit_many(buckets, rate, self.clock())
        except redis.RedisError as error:
            raise self._unavailable(action, error) from None
        return [None if d.allowed else self._key_refusal(action, rate, d) for d in decisions]

    async def charge_keys_async(self, action: str, keys: list[str]) -> list[HTTPException | None]:
        """`charge_keys` from an event loop: with Redis configured the buckets are
        counted through redis.asyncio, without blocking the loop; without it, by the
        in-process limiter, which does no I/O."""
        if self.loop_limiter is None:
            return self.charge_keys(action, keys)
        hit_many = self.loop_limiter.hit_many
        rate, buckets = self._keyed(action, keys)
        if rate is None:
            return [None] * len(keys)
        try:
            decisions = await hit_many(buckets, rate, self.clock())
        except redis.RedisError as error:
            raise self._unavailable(action, error) from None
        return [None if d.allowed else self._key_refusal(action, rate, d) for d in decisions]

    def _keyed(self, action: str, keys: list[str]) -> tuple[Rate | None, list[str]]:
        """The action's rate (parsed once: this runs on every ping) and the keys' buckets."""
        if action not in self._key_rates:
            self._key_rates[action] = self.settings.limit(action)
        rate = self._key_rates[action]
        if rate is None:
            return None, []
        digest = hashlib.sha256
        buckets = [
            "{}:key:{}".format(action, digest(f"{action}:{key}".encode()).hexdigest()[:24])
            for key in keys
        ]
        return rate, buckets

    @staticmethod
    def _unavailable(action: str, error: Exception) -> HTTPException:
        log.error("rate limiter unavailable: %s", type(error).__name__)
        return HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"cannot check the limit on {ACTIONS[action]}: Redis did not answer",
        )

    def _key_refusal(self, action: str, rate: Rate, decision: Decision) -> HTTPException:
        metrics.api_requests_limited.labels(action).inc()
        wait = max(1, math.ceil(round(decision.retry_after_s, 3)))  # float noise
        return HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"limit INTMON_LIMIT_{action.upper()}={rate.text} reached for this "
            f"{KEYED_BY.get(action, 'key')}: try {ACTIONS[action]} again in {wait} s",
            headers={"Retry-After": str(wait)},
        )


def payer_of(caller: Principal, token: str) -> tuple[str, str]:
    """(who pays, as a message names them; their bucket's key). A client token's
    client; otherwise the token itself, keyed by a digest (the token is stored nowhere)."""
    if caller.client is not None and not caller.is_support:
        return f"client {caller.client}", f"client:{caller.client}"
    digest = hashlib.sha256(b"limits:" + token.encode()).hexdigest()[:24]
    return f"this {caller.role} token", f"token:{digest}"


# A Redis that stalls must not hold API requests: it is a 503 after two seconds.
REDIS_TIMEOUT_S = 2


def limiter_for(settings: Settings) -> Limiter:
    if settings.redis_url is None:
        return MemoryLimiter()
    client = redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
    )
    return RedisLimiter(client, settings.namespace)


class LoopLimiter:
    """The Redis buckets through redis.asyncio, for the running event loop: a client
    is bound to the loop it first ran on, so another loop (a test client's) gets its own."""

    def __init__(self, redis_url: str, namespace: str) -> None:
        self._url, self._namespace = redis_url, namespace
        self._loop: asyncio.AbstractEventLoop | None = None
        self._limiter: AsyncRedisLimiter | None = None

    def _current(self) -> AsyncRedisLimiter:
        loop = asyncio.get_running_loop()
        if self._limiter is None or self._loop is not loop:
            if self._limiter is not None and self._loop is not None and self._loop.is_running():
                # Its connections can only be closed on their own loop.
                asyncio.run_coroutine_threadsafe(self._limiter.client.aclose(), self._loop)
            client = redis.asyncio.Redis.from_url(
                self._url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
            )
            self._loop, self._limiter = loop, AsyncRedisLimiter(client, self._namespace)
        return self._limiter

    async def hit_many(self, keys: list[str], rate: Rate, now: float) -> list[Decision]:
        return await self._current().hit_many(keys, rate, now)

    async def aclose(self) -> None:
        if self._limiter is not None and self._loop is asyncio.get_running_loop():
            await self._limiter.client.aclose()
        self._limiter = None


def install(app: FastAPI, settings: Settings) -> None:
    """Give `app` its limiter and its way of running triggered scenarios."""
    loop_limiter = (
        None if settings.redis_url is None else LoopLimiter(settings.redis_url, settings.namespace)
    )
    app.state.throttle = Throttle(limiter_for(settings), settings, loop_limiter=loop_limiter)
    app.state.e2e_runs = runs_for(app.state.engine, settings)


def limited(action: str) -> Any:
    """A route dependency: charge one request of `action` to the caller's budget."""
    if action not in ACTIONS:
        raise ValueError(f"unknown limited action {action!r}; one of {', '.join(ACTIONS)}")

    def charge(
        request: Request,
        caller: Annotated[Principal, Depends(principal)],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        assert credentials is not None  # `principal` answered 401 without one
        throttle: Throttle = request.app.state.throttle
        throttle.charge(action, caller, credentials.credentials)

    return Depends(charge)
