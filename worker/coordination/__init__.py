"""Coordination between schedulers and workers: the leader lock and the in-flight registry.

Only the leader may claim checks, and a claim is how "one run in flight per
check" is enforced:

- the scheduler *claims* the checks that fall due, fenced by its leader token
  (a deposed leader's claim fails, so two schedulers never enqueue the same run);
- a claim lasts until `deadline` (a Unix time); the worker runs a check only
  while its claim is valid and *releases* it when done, compare-and-delete on
  the claim value so a late worker never frees somebody else's claim;
- releasing with a "not before" time (a partner's Retry-After) keeps the check
  parked until then.

`RedisCoordinator` is the production variant; `MemoryCoordinator` serves the
embedded mode, where scheduler and workers share one process.
"""

from __future__ import annotations

from typing import Protocol


class Coordinator(Protocol):
    @property
    def fence(self) -> int:
        """Monotonic token of the current leadership (0 when not leader)."""
        ...

    def ensure_leadership(self) -> bool:
        """Acquire or renew the leader lock; True while this process leads."""
        ...

    def resign(self) -> None: ...

    def claim(self, keys: list[str], now: float, deadline: float) -> list[str] | None:
        """Mark `keys` in flight until `deadline`; return the keys claimed (those not
        already in flight), or None when this process is no longer the leader."""
        ...

    def release(self, claims: dict[str, str], not_before: dict[str, float]) -> None:
        """Free each key whose claim still equals the given value, or park it
        until `not_before[key]`."""
        ...

    def in_flight(self, now: float) -> int: ...


def claim_value(deadline: float) -> str:
    return repr(round(deadline, 6))
