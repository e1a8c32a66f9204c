"""Group commit for the ping endpoint: many requests, one transaction.

Each `/ping/...` request appends its ping to this process's `PingBuffer` and
awaits a future. One flusher task writes whatever has gathered, in a worker
thread, at most `max_batch` (500) pings at a time: first the batch is charged to
its keys' limits (`charge`, one Redis round trip for all of them: a round trip
per ping, made from the event loop, stalled every request of the process
behind it), then the pings within their limits are written with
`integrations.heartbeats.pings.record_pings` (one SELECT and one set-based
UPDATE). The futures are resolved after the commit, so an answer of 200 means
the ping is stored; a ping over its key's limit gets its 429. Results the pings
produced (a heartbeat back after a miss, a `/fail`) go through the alerts intake
before the answers, so the incident has moved too.

Group commit without a timer: while `max_writes` (3) batches are being written
the next one gathers, so the batch grows with the load by itself, and an idle
buffer waits only `gather_s` (2 ms) for company. A fixed 20 ms window with one
write at a time was tried first and capped the endpoint at ~600 pings/s on a
busy machine: jobs (and wrk's 64 connections) wait for their answer before the
next ping, so every millisecond a batch waits is throughput lost
(bench/pings.py, docs/benchmarks.md). Concurrent batches that share a heartbeat
take its row lock in turn (rows are locked in id order: no deadlock).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from alerts.heartbeat_watch import ingest_heartbeat_results
from alerts.policy import Policy
from integrations.heartbeats.pings import Ping, record_pings

log = logging.getLogger(__name__)
# Given a batch's ping keys: for each, None (within its limit) or the refusal to raise.
Charge = Callable[[list[str]], list[Exception | None]]


def no_limit(keys: list[str]) -> list[Exception | None]:
    return [None] * len(keys)


@dataclass
class _Pending:
    pings: list[Ping] = field(default_factory=list)
    waiters: list[asyncio.Future[bool]] = field(default_factory=list)


class PingBuffer:
    def __init__(
        self,
        engine: Engine,
        policy: Policy,
        *,
        charge: Charge = no_limit,
        gather_s: float = 0.002,
        max_batch: int = 500,
        max_writes: int = 3,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.charge = charge
        self.gather_s = gather_s
        self.max_batch = max_batch
        self.max_writes = max_writes
        self._writes: asyncio.Semaphore | None = None
        self._flushing: set[asyncio.Task[None]] = set()
        self._pending = _Pending()
        self._full: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    async def submit(self, ping: Ping) -> bool:
        """Store `ping` with the next batch; True once committed, False for an
        unknown key. A refusal of `charge` (429) and a database error propagate."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.pings.append(ping)
        self._pending.waiters.append(future)
        self._ensure_flusher()
        assert self._full is not None
        if len(self._pending.pings) >= self.max_batch:
            self._full.set()
        return await future

    def _ensure_flusher(self) -> None:
        """Start the flusher if it is not running. It runs while pings wait and ends
        when none do, so no task outlives its event loop (a test client may run the
        app on a new loop per request)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._full = asyncio.Event()
            self._writes = asyncio.Semaphore(self.max_writes)
            self._task = None
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._flush_while_pending(), name="ping-flusher")

    async def _flush_while_pending(self) -> None:
        assert self._full is not None and self._writes is not None
        loop = asyncio.get_running_loop()
        while self._pending.pings:
            await self._writes.acquire()  # a free write slot; meanwhile the batch gathers
            if len(self._pending.pings) < self.max_batch:
                # Gather for gather_s, unless the batch fills first.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.gather_s)
            pending = self._pending
            batch = _Pending(pending.pings[: self.max_batch], pending.waiters[: self.max_batch])
            self._pending = _Pending(
                pending.pings[self.max_batch :], pending.waiters[self.max_batch :]
            )
            if len(self._pending.pings) < self.max_batch:
                self._full.clear()
            if not batch.pings:
                self._writes.release()
                continue
            task = loop.create_task(self._flush(batch))
            self._flushing.add(task)  # a running task needs a reference
            task.add_done_callback(self._flushing.discard)

    async def _flush(self, batch: _Pending) -> None:
        assert self._writes is not None
        try:
            refusals, found = await run_in_threadpool(self._write, batch.pings)
        except Exception as error:
            log.exception("could not store %d pings", len(batch.pings))
            for waiter in batch.waiters:
                if not waiter.done():
                    waiter.set_exception(error)
            return
        finally:
            self._writes.release()
        for ping, refusal, waiter in zip(batch.pings, refusals, batch.waiters, strict=True):
            if waiter.done():  # the client may have gone away
                continue
            if refusal is not None:
                waiter.set_exception(refusal)
            else:
                waiter.set_result(ping.key in found)

    def _write(self, pings: list[Ping]) -> tuple[list[Exception | None], set[str]]:
        """(each ping's refusal or None, the keys found) for a batch."""
        refusals = self.charge([ping.key for ping in pings])
        within = [ping for ping, refusal in zip(pings, refusals, strict=True) if refusal is None]
        if not within:
            return refusals, set()
        written = record_pings(self.engine, within)
        if written.results:
            try:
                ingest_heartbeat_results(self.engine, written.results, self.policy)
            except Exception:
                # The pings are stored; the heartbeat's next transition brings the
                # incident up to date.
                log.exception("could not hand %d heartbeat results to intake", len(written.results))
        return refusals, written.found
