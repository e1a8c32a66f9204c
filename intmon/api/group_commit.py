"""Group commit for the unauthenticated ingest endpoints: many requests, one transaction.

Each `/ping/...` or `/postbacks/...` request appends its item to its endpoint's
`GroupCommit` and awaits a future. One flusher task hands whatever has gathered,
at most `max_batch` (500) items, to the endpoint's `write`: it charges the batch
to its keys' limits in one step (one Redis round trip for all of them: a blocking
round trip per request, made from the event loop, stalled every request of the
process behind it) and stores the items within their limits in one transaction.
A plain function runs in a worker thread; a coroutine function (the postback
writer on PostgreSQL, `intmon.api.loop_connections`) runs on the loop itself,
its I/O awaited, with no hand-over to a thread and back. `write` returns, per
item, its result or the exception to raise for it (a 429). The futures are
resolved after the commit, so a success answer means the item is stored.

Group commit without a timer: while `max_writes` (3) batches are being written
the next one gathers, so the batch grows with the load by itself, and an idle
buffer waits only `gather_s` (2 ms) for company. A fixed 20 ms window with one
write at a time was tried first and capped pings at ~600/s on a busy machine:
jobs (and wrk's connections) wait for their answer before the next request, so
every millisecond a batch waits is throughput lost (bench/pings.py,
docs/benchmarks.md). Concurrent batches that share a row take its lock in turn
(the writers lock rows in key order: no deadlock).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)
Item = TypeVar("Item")
Result = TypeVar("Result")
Write = Callable[[list[Item]], list[Result | Exception]]
AsyncWrite = Callable[[list[Item]], Awaitable[list[Result | Exception]]]


@dataclass
class _Pending(Generic[Item, Result]):
    items: list[Item] = field(default_factory=list)
    waiters: list[asyncio.Future[Result]] = field(default_factory=list)


class GroupCommit(Generic[Item, Result]):
    def __init__(
        self,
        name: str,
        write: Write[Item, Result] | AsyncWrite[Item, Result],
        *,
        gather_s: float = 0.002,
        max_batch: int = 500,
        max_writes: int = 3,
    ) -> None:
        self.name = name  # in logs and the flusher task's name: "pings", "postbacks"
        self.write = write
        self._on_loop = inspect.iscoroutinefunction(write)
        self.gather_s = gather_s
        self.max_batch = max_batch
        self.max_writes = max_writes
        self._writes: asyncio.Semaphore | None = None
        self._flushing: set[asyncio.Task[None]] = set()
        self._pending: _Pending[Item, Result] = _Pending()
        self._full: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """`item`'s result once its batch is committed. The exception `write` gave
        for it (a 429), or one that failed the whole batch, propagates."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.items.append(item)
        self._pending.waiters.append(future)
        self._ensure_flusher()
        assert self._full is not None
        if len(self._pending.items) >= self.max_batch:
            self._full.set()
        return await future

    def _ensure_flusher(self) -> None:
        """Start the flusher if it is not running. It runs while items wait and ends
        when none do, so no task outlives its event loop (a test client may run the
        app on a new loop per request)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._full = asyncio.Event()
            self._writes = asyncio.Semaphore(self.max_writes)
            self._task = None
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._flush_while_pending(), name=f"{self.name}-flusher")

    async def _flush_while_pending(self) -> None:
        assert self._full is not None and self._writes is not None
        loop = asyncio.get_running_loop()
        while self._pending.items:
            await self._writes.acquire()  # a free write slot; meanwhile the batch gathers
            if len(self._pending.items) < self.max_batch:
                # Gather for gather_s, unless the batch fills first.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.gather_s)
            pending, cut = self._pending, self.max_batch
            batch = _Pending(pending.items[:cut], pending.waiters[:cut])
            self._pending = _Pending(pending.items[cut:], pending.waiters[cut:])
            if len(self._pending.items) < self.max_batch:
                self._full.clear()
            if not batch.items:
                self._writes.release()
                continue
            task = loop.create_task(self._flush(batch))
            self._flushing.add(task)  # a running task needs a reference
            task.add_done_callback(self._flushing.discard)

    async def _flush(self, batch: _Pending[Item, Result]) -> None:
        assert self._writes is not None
        try:
            if self._on_loop:
                results = await cast(AsyncWrite[Item, Result], self.write)(batch.items)
            else:
                results = await run_in_threadpool(
                    cast(Write[Item, Result], self.write), batch.items
                )
        except Exception as error:
            log.exception("could not store %d %s", len(batch.items), self.name)
            for waiter in batch.waiters:
                if not waiter.done():
                    waiter.set_exception(error)
            return
        finally:
            self._writes.release()
        for result, waiter in zip(results, batch.waiters, strict=True):
            if waiter.done():  # the client may have gone away
                continue
            if isinstance(result, Exception):
                waiter.set_exception(result)
            else:
                waiter.set_result(result)
