"""Request limits: how much work one caller may trigger, as token buckets.

A limit such as `10/min` is a bucket of 10 requests, refilled at 10 per minute:
a caller may run ten at once, then one every six seconds. The bucket is kept as
one number per key, its *theoretical arrival time* (the generic cell rate
algorithm, GCRA): `hit` either moves it forward by one interval or refuses and
says how long until the next request fits. `allow` below is the whole rule, a
pure function of the stored time, `now` and the rate; each limiter stores the
number and applies the rule atomically:

    MemoryLimiter   the embedded mode: a dict under a lock, one process
    RedisLimiter    production: one Lua script per hit, shared by every API process

`hit_many` counts a batch of requests in one step (one Redis round trip): the
ping endpoint charges a whole batch of pings at once instead of waiting on
Redis once per request.

Callers pass `now` (the API takes it from an injected clock), so tests move time
instead of sleeping. What is limited, and who pays, is the API's business
(`intmon.api.throttle`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

UNITS = {"s": 1, "sec": 1, "second": 1, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
UNITS["d"] = UNITS["day"] = 86400
OFF = "off"
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+?)s?\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    """`count` requests per `period_s` seconds, in a bucket of `count`."""

    count: int
    period_s: float
    text: str  # as configured, for messages: "10/min"

    @property
    def interval_s(self) -> float:
        """The time one request takes to refill."""
        return self.period_s / self.count


def parse_rate(text: str) -> Rate | None:
    """`"10/min"`, `"600/h"`, `"20/10min"` → a Rate; `"off"` → None (no limit).
    ValueError says what a valid value looks like."""
    if text.strip().lower() == OFF:
        return None
    match = _RATE.match(text.lower())
    if match is None or match.group(3) not in UNITS:
        raise ValueError(
            f"{text!r} is not a rate: write COUNT/PERIOD such as 10/min, 600/h, 20/10s or off"
        )
    count, multiple, unit = int(match.group(1)), match.group(2), match.group(3)
    period = float(multiple or 1) * UNITS[unit]
    if count < 1 or period <= 0:
        raise ValueError(f"{text!r}: the count and the period must both be above zero")
    return Rate(count, period, text.strip())


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_s: float  # 0 when allowed


class Limiter(Protocol):
    def hit(self, key: str, rate: Rate, now: float) -> Decision:
        """Count one request against `key`'s bucket, unless that would overflow it."""
        ...

    def hit_many(self, keys: list[str], rate: Rate, now: float) -> list[Decision]:
        """`hit` for each key in order (a key may repeat), as one atomic step."""
        ...


def allow(stored: float | None, rate: Rate, now: float) -> tuple[Decision, float | None]:
    """The GCRA step: (the decision, the time to store; None: leave it as it is).

    `stored` is when the bucket would be full again (at most one period ahead of
    `now` while requests are allowed); a request fits when, moved one interval
    further, that is still no more than one period ahead.
    """
    arrival = max(stored if stored is not None else now, now) + rate.interval_s
    fits_at = arrival - rate.period_s
    if fits_at > now:
        return Decision(False, fits_at - now), None
    return Decision(True, 0.0), arrival
