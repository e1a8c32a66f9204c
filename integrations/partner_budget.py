"""One request budget per partner API, shared by checks and lead deliveries.

Fixed windows of one second (longer for rates under 1/s). Deliveries may fill
a window; checks may fill only `share` of it, so monitoring never eats the
quota that real leads need. `RedisBudget` is shared by every process (one Lua
call per take, atomic); `MemoryBudget` serves the embedded mode and tests.

Not the leads' alone: the configuration checks a delivery's share against it
(`integrations.config`), so it sits beside the config, not inside `leads/`.
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # redis costs ~0.1 s to import; `intmon validate` never needs it
    import redis


class PartnerBudget(Protocol):
    def take(self, key: str, want: int, rate: float, share: float, now: float) -> int:
        """Take up to `want` requests from `key`'s window at `now`; returns how many."""
        ...


def window_of(rate: float, now: float) -> tuple[int, int]:
    """(window number, capacity) for `rate` requests per second."""
    length = max(1.0, 1.0 / rate)
    return int(now // length), max(1, math.floor(rate * length))


def allowance(capacity: int, share: float) -> int:
    """Requests of a window that a taker with `share` may use: all of it at 1, none
    at 0, and never less than one for a positive share. Rounding down alone gave
    checks of a 2/s partner at the default 20% a share of 0, so every check was
    skipped for good and the board kept showing the last "ok" (issue 21)."""
    if share >= 1:
        return capacity
    if share <= 0:
        return 0
    return max(1, math.floor(capacity * share))


class MemoryBudget:
    def __init__(self) -> None:
        self._used: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, want: int, rate: float, share: float, now: float) -> int:
        window, capacity = window_of(rate, now)
        with self._lock:
            current, used = self._used.get(key, (window, 0))
            if current != window:
                used = 0
            granted = max(0, min(want, allowance(capacity, share) - used))
            self._used[key] = (window, used + granted)
        return granted


# KEYS[1] counter; ARGV: want, limit, ttl. Grants what fits under the limit.
_TAKE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local granted = math.min(tonumber(ARGV[1]), tonumber(ARGV[2]) - used)
if granted <= 0 then return 0 end
redis.call('INCRBY', KEYS[1], granted)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return granted
"""


class RedisBudget:
    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self._script = client.register_script(_TAKE)
        self._prefix = f"{namespace}:budget:"

    def take(self, key: str, want: int, rate: float, share: float, now: float) -> int:
        window, capacity = window_of(rate, now)
        limit = allowance(capacity, share)
        if limit <= 0 or want <= 0:
            return 0
        ttl = int(max(2.0, 2.0 / rate))
        granted = self._script(keys=[f"{self._prefix}{key}:{window}"], args=[want, limit, ttl])
        return int(granted)
