"""One event loop per process for the probe engine, usable from any thread.

dramatiq runs actors on worker threads; an HTTP connection pool belongs to one
event loop. `EngineThread` owns that loop in a daemon thread with one
`ProbeEngine` on it. `run_batch` hands a batch over and waits for all of it;
`start_batch` hands it over and returns one future per check, so a caller can
take the checks that are done and leave the slow ones running:

    results = engine_thread.run_batch(items, timeout=40)
    futures = engine_thread.start_batch(items)

One per process: `worker.runtime` creates it lazily, and again in a child after
a fork (the parent's thread and sockets do not survive a fork).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Coroutine, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import uvloop

from checks.engine import ProbeEngine, ProbeSettings
from checks.errors import EngineClosed
from core.vocabulary.outcomes import CheckResult
from integrations.config import CheckSpec, IntegrationSpec

__all__ = ["EngineThread"]

BatchItem = tuple[IntegrationSpec, CheckSpec, datetime | None]
T = TypeVar("T")


def new_event_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "uvloop":
        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class EngineThread:
    """A daemon thread running an event loop with one `ProbeEngine` on it."""

    def __init__(self, settings: ProbeSettings | None = None) -> None:
        self.settings = settings or ProbeSettings()
        self.pid = os.getpid()
        self._loop = new_event_loop(self.settings.event_loop)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="intmon-probe-loop", daemon=True)
        self._thread.start()
        self._engine: ProbeEngine = self._call(self._create_engine(), timeout=30)

    def run_batch(
        self,
        items: Sequence[BatchItem],
        timeout: float | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> list[CheckResult]:
        """Run a batch on the engine's loop and wait for it, from any thread.

        Each check is already bounded by its own timeouts; `timeout` is a last
        resort and raises `TimeoutError` (the batch is then cancelled).
        Raises `EngineClosed` after `close()`.
        """
        if self._closed:
            raise EngineClosed("the probe engine thread is closed")
        return self._call(self._engine.run_batch(items, environ=environ), timeout)

    def start_batch(
        self, items: Sequence[BatchItem], *, environ: Mapping[str, str] | None = None
    ) -> list[concurrent.futures.Future[CheckResult]]:
        """Start every check of a batch on the engine's loop and return at once
        with one future per check, in the order of `items`.

        Cancelling a future cancels its check. Raises `EngineClosed` after `close()`.
        """
        if self._closed:
            raise EngineClosed("the probe engine thread is closed")
        return self._call(self._spawn(items, environ), timeout=30)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self, timeout: float = 10.0) -> None:
        """Close the engine's clients, stop the loop and join the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._call(self._engine.aclose(), timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
            if not self._thread.is_alive():
                self._loop.close()

    async def _create_engine(self) -> ProbeEngine:
        return ProbeEngine(self.settings)

    async def _spawn(
        self, items: Sequence[BatchItem], environ: Mapping[str, str] | None
    ) -> list[concurrent.futures.Future[CheckResult]]:
        # One hop onto the loop for the whole batch, not one per check.
        futures = []
        for integration, check, scheduled_at in items:
            task = self._loop.create_task(
                self._engine.run_check(
                    integration, check, scheduled_at=scheduled_at, environ=environ
                )
            )
            futures.append(_mirror(task, self._loop))
        return futures

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout: float | None) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()
        # Let cancelled tasks finish their cleanup before the loop is closed.
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        if pending:
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())


def _mirror(task: asyncio.Task[T], loop: asyncio.AbstractEventLoop) -> concurrent.futures.Future[T]:
    """A thread-safe future that ends when `task` does; cancelling it cancels `task`."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def copy(done: asyncio.Task[T]) -> None:
        try:
            if done.cancelled():
                future.cancel()
            elif (error := done.exception()) is not None:
                future.set_exception(error)
            else:
                future.set_result(done.result())
        except concurrent.futures.InvalidStateError:
            pass  # the caller cancelled the future first

    def propagate(mirrored: concurrent.futures.Future[T]) -> None:
        if mirrored.cancelled() and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)

    task.add_done_callback(copy)
    future.add_done_callback(propagate)
    return future
