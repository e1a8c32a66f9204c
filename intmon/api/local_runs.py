"""Where a scenario run triggered over the API goes: the workers, or a bounded thread.

    QueuedRuns   Redis configured: a message on the `e2e` queue, on the broker of
                 the API's own settings; a worker runs it (`worker.e2e.run_e2e`)
    LocalRuns    no Redis (one machine, no workers): a thread of this process,
                 at most `INTMON_E2E_API_CONCURRENCY` at once, 429 beyond

Both hand out a *slot* as a context manager: the dispatch function inside it
sends the job; a slot that was not used (the request failed before sending,
404 for an unknown scenario) is given back when the request ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import dramatiq
from fastapi import HTTPException, status
from sqlalchemy import Engine

from core import metrics
from core.settings import Settings
from worker.e2e import Job, Standalone, message_of, run_job

Dispatch = Callable[[Job], None]
# No run's end can be predicted; the client is asked to come back after this long.
BUSY_RETRY_AFTER_S = 30


class ScenarioRuns(Protocol):
    def slot(self) -> Any:
        """A context manager giving a Dispatch, or HTTPException 429 when none is free."""
        ...


class QueuedRuns:
    def __init__(self, broker: dramatiq.Broker) -> None:
        self.broker = broker

    @contextmanager
    def slot(self) -> Iterator[Dispatch]:
        yield self.enqueue

    def enqueue(self, job: Job) -> None:
        self.broker.enqueue(message_of(job))


class LocalRuns:
    def __init__(self, size: int, run: Callable[[Job], object]) -> None:
        self.size = size
        self._run = run
        self._free = threading.BoundedSemaphore(size)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[Dispatch]:
        if not self._free.acquire(blocking=False):
            metrics.api_requests_limited.labels("e2e_concurrency").inc()
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"{self.size} scenario runs are already running in this API process "
                f"(INTMON_E2E_API_CONCURRENCY={self.size}; with INTMON_REDIS_URL they "
                "queue for the workers instead)",
                headers={"Retry-After": str(BUSY_RETRY_AFTER_S)},
            )
        sent = False

        def run_here(job: Job) -> None:
            nonlocal sent
            thread = threading.Thread(target=self._run_then_free, args=(job,), name="e2e-run")
            thread.daemon = True
            with self._lock:
                self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()
            sent = True

        try:
            yield run_here
        finally:
            if not sent:
                self._free.release()

    def _run_then_free(self, job: Job) -> None:
        try:
            self._run(job)
        finally:
            self._free.release()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the runs in progress (at shutdown, or a test's end)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)


def runs_for(engine: Engine, settings: Settings) -> ScenarioRuns:
    if settings.redis_url:
        from worker.broker import build_broker

        # The API's own settings choose the queue (not the process-wide broker):
        # an app built for one Redis namespace must not enqueue into another.
        return QueuedRuns(build_broker(settings))
    runtime = Standalone(db=engine, settings=settings)
    return LocalRuns(settings.e2e_api_concurrency, lambda job: run_job(runtime, job.to_payload()))
