"""Where a partner's postbacks wait for the scenario run that asked for them.

A scenario hands the partner `callback_url.<name>` = `{base}/callbacks/{run_id}/{name}`
and later waits for that callback. The run id is a random token nobody can
guess, so the endpoint needs no other credential:

    unknown run, or a name the run does not wait for   → 404 (`Delivery.UNKNOWN`)
    the run has ended                                  → 410 (`Delivery.ENDED`)
    first callback of that name                        → 200, stored (`ACCEPTED`)
    the partner sends it again                         → 200, ignored (`DUPLICATE`)

`CallbackInbox` is the runner's side of it, with two implementations: the
`MemoryInbox` here (filled by `checks.scenarios.listener`, the small HTTP
server `intmon e2e run` starts for itself), and the database inbox of
`worker.e2e_record` (over `integrations.e2e_store`), filled by the API's
`/callbacks` route when the API and the runner are different processes. The
postback itself and those four answers are `core.vocabulary.callbacks`.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.vocabulary.callbacks import Callback, Delivery

__all__ = ["CallbackInbox", "MemoryInbox"]


class CallbackInbox(ABC):
    """The runner's view of the postbacks of its runs."""

    # How often a waiting run calls `take`, at most.
    poll_interval_s: float = 0.1

    @abstractmethod
    def url(self, run_id: str, name: str) -> str:
        """The URL the partner is given for callback `name` of run `run_id`."""

    @abstractmethod
    async def open(self, run_id: str, names: Sequence[str]) -> None:
        """Start accepting callbacks `names` for `run_id`."""

    @abstractmethod
    async def take(self, run_id: str, name: str) -> Callback | None:
        """The callback if it has arrived, else None (the runner polls)."""

    @abstractmethod
    async def close(self, run_id: str) -> None:
        """The run ended: later callbacks are answered 410."""


@dataclass
class _Run:
    names: frozenset[str]
    received: dict[str, Callback] = field(default_factory=dict)
    ended: bool = False


class MemoryInbox(CallbackInbox):
    """Callbacks in this process's memory; `deliver` is what the listener calls."""

    def __init__(self, base_url: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()

    def url(self, run_id: str, name: str) -> str:
        return f"{self.base_url}/callbacks/{run_id}/{name}"

    async def open(self, run_id: str, names: Sequence[str]) -> None:
        with self._lock:
            self._runs[run_id] = _Run(frozenset(names))

    async def take(self, run_id: str, name: str) -> Callback | None:
        with self._lock:
            run = self._runs.get(run_id)
            return None if run is None else run.received.get(name)

    async def close(self, run_id: str) -> None:
        with self._lock:
            run = self._runs.get(run_id)
            if run is not None:
                run.ended = True

    def deliver(self, run_id: str, callback: Callback) -> Delivery:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or callback.name not in run.names:
                return Delivery.UNKNOWN
            if run.ended:
                return Delivery.ENDED
            if callback.name in run.received:
                return Delivery.DUPLICATE
            run.received[callback.name] = callback
            return Delivery.ACCEPTED
