"""Checks that outlive their batch's wait: stored when they end, not by the batch's thread.

A batch message holds one dramatiq thread. If that thread waited for the
slowest check of its batch, one partner that never answers would hold it for
its whole timeout, and with 1% of partners dead most threads sit out timeouts
while due checks wait in Redis (docs/benchmarks.md, "Dead partners"). So a
batch waits `batch_wait_s`, stores what is in, and hands the rest here:

    batch thread:  start_batch ─ wait batch_wait_s ─ store the done ─ next message
                                        └─ LateResults.adopt(stragglers)
    late thread:   a straggler ends ─ gather a few ─ store them, metrics, release claims

A straggler keeps its in-flight claim until its own result is stored, so the
scheduler never sends its next run early, and each check's results still reach
incident evaluation in order. One that has not ended when its claim runs out
is cancelled and stored as nothing: its claim was the promise that no other
run of it starts meanwhile. A worker killed with stragglers pending loses them
the way it loses any running batch: their claims lapse on their own.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from core.vocabulary.outcomes import CheckResult
from integrations.config import IntegrationSpec
from worker.batch import BatchItem

log = logging.getLogger(__name__)


@dataclass(slots=True)
class UpGroup:
    """An integration's checks of one batch that ended late: its up gauge is set
    once all of them have, from them and from those that ended in time."""

    up: bool  # the checks that ended in time were all up
    remaining: int


@dataclass(frozen=True, slots=True, eq=False)  # compared and hashed by identity
class LateCheck:
    item: BatchItem
    spec: IntegrationSpec
    future: concurrent.futures.Future[CheckResult]
    claim: str  # the claim value its run was started with
    cancel_at: float  # Unix time its claim runs out
    group: UpGroup


@dataclass
class LateBatch:
    """What the store function gets: finished stragglers, and the integrations
    whose up gauge can now be set (every late check of theirs has ended)."""

    checks: list[LateCheck]
    results: list[CheckResult]
    up: dict[str, bool] = field(default_factory=dict)


class LateResults:
    """One per worker process: a daemon thread storing stragglers as they end.

    `store` is called from that thread with a few at a time (at most
    `max_batch`, gathered for up to `gather_s`), so a wave of slow partners is
    still written in batches.
    """

    def __init__(
        self,
        store: Callable[[LateBatch], None],
        *,
        gather_s: float = 0.05,
        max_batch: int = 500,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._gather_s = gather_s
        self._max_batch = max_batch
        self._clock = clock
        self._ended: queue.SimpleQueue[LateCheck | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pending: set[LateCheck] = set()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="intmon-late-results", daemon=True)
        self._thread.start()

    def adopt(self, checks: list[LateCheck]) -> None:
        with self._lock:
            if self._closed:
                for check in checks:
                    check.future.cancel()
            self._pending.update(checks)
        for check in checks:
            check.future.add_done_callback(partial(self._on_end, check))

    def _on_end(self, check: LateCheck, _future: object) -> None:
        self._ended.put(check)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def close(self, timeout: float = 10.0) -> None:
        """Wait up to `timeout` for the stragglers to end and be stored; cancel the
        rest, which are then stored as nothing and their claims released. Idempotent."""
        with self._lock:
            self._closed = True
            waiting = [check.future for check in self._pending]
        concurrent.futures.wait(waiting, timeout=timeout)
        for future in waiting:
            future.cancel()
        self._ended.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                first = self._ended.get(timeout=self._next_cancel_in())
            except queue.Empty:
                self._cancel_overdue()
                continue
            ended: list[LateCheck] = []
            stopping = first is None
            if first is not None:
                ended.append(first)
                stopping = self._gather(ended)
            if ended:
                self._flush(ended)

    def _gather(self, ended: list[LateCheck]) -> bool:
        """Take what else ends within `gather_s`; True when close() asked to stop."""
        until = time.monotonic() + self._gather_s
        while len(ended) < self._max_batch:
            left = until - time.monotonic()
            if left <= 0:
                break
            try:
                more = self._ended.get(timeout=left)
            except queue.Empty:
                break
            if more is None:
                return True
            ended.append(more)
        return False

    def _flush(self, ended: list[LateCheck]) -> None:
        with self._lock:
            self._pending.difference_update(ended)
        results: list[CheckResult] = []
        up: dict[str, bool] = {}
        for check in ended:
            result = None if check.future.cancelled() else _result(check)
            if result is not None:
                results.append(result)
            group = check.group
            group.up = group.up and result is not None and result.outcome.is_up
            group.remaining -= 1
            if group.remaining == 0:
                up[check.spec.id] = group.up
        try:
            self._store(LateBatch(ended, results, up))
        except Exception:
            # The store releases their claims whatever happens; the next run is the retry.
            log.exception("could not store %d late check results", len(ended))

    def _next_cancel_in(self) -> float:
        with self._lock:
            if not self._pending:
                return 1.0
            soonest = min(check.cancel_at for check in self._pending)
        return min(1.0, max(0.0, soonest - self._clock()))

    def _cancel_overdue(self) -> None:
        now = self._clock()
        with self._lock:
            overdue = [c for c in self._pending if c.cancel_at <= now and not c.future.done()]
        for check in overdue:
            log.warning("check %s still running when its claim ran out; cancelled", check.item.key)
            check.future.cancel()


def _result(check: LateCheck) -> CheckResult | None:
    error = check.future.exception()
    if error is None:
        return check.future.result()
    log.error("check %s failed in the engine", check.item.key, exc_info=error)
    return None
