"""A page's independent reads, run side by side on PostgreSQL.

The board reads a page's bars, uptime and monitors (and the tickets) in separate
queries that need nothing from each other. One after another, the page waits for
the sum of their times in PostgreSQL (on a loaded 2-core box: 35 + 21 + 21 ms for
the three largest); side by side, for the longest, while this process turns
another's rows into objects. On SQLite the reads run where they are asked for:
they would only take turns at the interpreter, and an in-memory database is one
connection per thread.

Each read runs in a copy of the caller's context (`contextvars`), so what it logs
and counts is the request's. The pool is per process and small: it bounds how
many of a page's reads run at once, whatever the number of requests.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from sqlalchemy import Engine

T = TypeVar("T")

_POOL = ThreadPoolExecutor(max_workers=6, thread_name_prefix="page-read")


class Pending(Generic[T]):
    """A read started now (PostgreSQL) or when its result is asked for (SQLite)."""

    def __init__(self, engine: Engine, read: Callable[[], T]) -> None:
        self._read = read
        self._future: Future[T] | None = None
        if engine.dialect.name == "postgresql":
            self._future = _POOL.submit(contextvars.copy_context().run, read)

    def result(self) -> T:
        if self._future is None:
            self._future = Future()
            try:
                self._future.set_result(self._read())
            except Exception as error:  # kept, so asking again raises it again
                self._future.set_exception(error)
        return self._future.result()


def start(engine: Engine, read: Callable[[], T]) -> Pending[T]:
    """`read` started beside whatever the caller does next; `.result()` waits for it."""
    return Pending(engine, read)
