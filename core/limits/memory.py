"""The in-process limiter of the embedded mode: one process, a dict under a lock."""

from __future__ import annotations

import threading

from core.limits import Decision, Rate, allow

# Full buckets are forgotten when the dict grows past this many keys, so a flood
# of distinct callers costs memory only while their buckets are still filling.
PRUNE_ABOVE = 10_000


class MemoryLimiter:
    def __init__(self) -> None:
        self._arrivals: dict[str, float] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, rate: Rate, now: float) -> Decision:
        with self._lock:
            decision, arrival = allow(self._arrivals.get(key), rate, now)
            if arrival is not None:
                self._arrivals[key] = arrival
                if len(self._arrivals) > PRUNE_ABOVE:
                    self._prune(now)
        return decision

    def hit_many(self, keys: list[str], rate: Rate, now: float) -> list[Decision]:
        return [self.hit(key, rate, now) for key in keys]

    def _prune(self, now: float) -> None:
        # A bucket whose arrival time has passed is full: the same as no entry.
        for key in [k for k, arrival in self._arrivals.items() if arrival <= now]:
            del self._arrivals[key]
