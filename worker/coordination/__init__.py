"""Coordination between schedulers and workers: the leader lock and the in-flight registry.

Only the leader may claim checks, and a claim is how "one run in flight per
check" is enforced:

- the scheduler *claims* the checks that fall due, fenced by its leader token
  (a deposed leader's claim fails, so two schedulers never enqueue the same run);
- a claim first lasts until `deadline` (a Unix time, one interval away): the
  time its batch may wait in the queue. The worker *starts* the run by
  extending the claim, compare-and-set on the claim value, to the longest the
  run may take; a check whose claim lapsed or was taken again is not run. So a
  run in progress is never claimed again, and the checks of a worker killed
  before or during a run are free again for their next due time (or once the
  run's budget has passed, when that is later);
- the worker *releases* the claim when done, compare-and-delete on the claim
  value so a late worker never frees somebody else's claim;
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

    def start(self, claims: dict[str, str], until: float) -> list[str]:
        """Extend each key whose claim still equals the given value to `until`;
        return the keys extended (the others must not run)."""
        ...

    def release(self, claims: dict[str, str], not_before: dict[str, float]) -> None:
        """Free each key whose claim still equals the given value, or park it
        until `not_before[key]`."""
        ...

    def held(self, keys: list[str]) -> dict[str, str]:
        """The current claim value of each of `keys` that is claimed. The scheduler
        compares it with the value it claimed with: unchanged means no worker ever
        started that run (`integrations.staleness`: no_worker, not in_flight)."""
        ...

    def in_flight(self, now: float) -> int: ...


def claim_value(deadline: float) -> str:
    return repr(round(deadline, 6))
