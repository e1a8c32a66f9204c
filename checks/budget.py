"""A partner's request budget: how many requests intmon may send it, shared by all senders.

Partners cap the requests they accept (seen as 429s); checks, load tests and,
later, lead delivery all spend from the same allowance. `RateBudget` is the
hook every sender asks before a request; the load runner (`checks.load`) is
its first user. `TokenBucket` is the in-memory implementation for one process;
`SharedBudget` plugs in a budget shared by every process and keyed per
partner (the lead-delivery stage's `take(key, want, rate, share, now)`, in
Redis in production), spending a given share of the partner's rate.

    budget = TokenBucket(rate_per_s=50, burst=10)
    if budget.try_acquire(time.monotonic()):
        send()
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from integrations.partner_budget import PartnerBudget

__all__ = ["RateBudget", "SharedBudget", "TokenBucket", "Unlimited"]


class RateBudget(Protocol):
    def try_acquire(self, now: float, cost: float = 1.0) -> bool:
        """Spend `cost` requests at monotonic time `now`; False when the budget is out."""
        ...

    def describe(self) -> str:
        """One line for reports, e.g. "50/s, burst 10"."""
        ...


class Unlimited:
    """No budget: every request may go."""

    def try_acquire(self, now: float, cost: float = 1.0) -> bool:
        return True

    def describe(self) -> str:
        return "unlimited"


class TokenBucket:
    """`rate_per_s` requests per second on average, at most `burst` at once.

    Thread-safe; time is passed in, so tests move it by hand.
    """

    def __init__(self, rate_per_s: float, burst: float | None = None) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        self.rate_per_s = rate_per_s
        self.burst = max(1.0, burst if burst is not None else rate_per_s)
        self._tokens = self.burst
        self._at: float | None = None
        self._lock = threading.Lock()

    def try_acquire(self, now: float, cost: float = 1.0) -> bool:
        with self._lock:
            if self._at is None:
                self._at = now
            elif now > self._at:
                self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate_per_s)
                self._at = now
            if self._tokens + 1e-9 < cost:
                return False
            self._tokens -= cost
            return True

    def describe(self) -> str:
        return f"{self.rate_per_s:g}/s, burst {self.burst:g}"


class SharedBudget:
    """A `PartnerBudget` for one partner, seen as a `RateBudget`.

    The shared budget counts in wall-clock windows, so it reads its own clock
    rather than the caller's monotonic `now`.
    """

    def __init__(
        self,
        budget: PartnerBudget,
        key: str,
        rate_per_s: float,
        share: float = 1.0,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.budget = budget
        self.key = key
        self.rate_per_s = rate_per_s
        self.share = share
        self.wall_clock = wall_clock

    def try_acquire(self, now: float, cost: float = 1.0) -> bool:
        want = max(1, round(cost))
        return (
            self.budget.take(self.key, want, self.rate_per_s, self.share, self.wall_clock()) >= want
        )

    def describe(self) -> str:
        return f"{self.key}: {self.share:.0%} of {self.rate_per_s:g}/s (shared)"
