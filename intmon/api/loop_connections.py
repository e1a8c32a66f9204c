"""PostgreSQL connections for a writer that runs on the API's event loop.

The postback writer (`intmon.api.routes.postbacks`) stores a batch with one
statement. Run in a worker thread, every batch paid a hand-over to the thread and
back and, after each round trip, a wait for the GIL held by the event loop that
was busy parsing the next requests: paced postbacks came a few to a batch, so
they paid it every few requests (docs/benchmarks.md, issue 25). On an async
psycopg connection the loop writes the batch itself, and waits for nothing.

At most as many connections are open as writes run at once (the group commit's
`max_writes`): each opened when first needed, in autocommit (a batch is one
statement), and kept between batches; one that failed is closed, not reused.
Connections belong to the event loop that opened them: used from another loop (a
test client's), the keeper opens new ones there.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine

CONNECT_TIMEOUT_S = 5


def conninfo_of(engine: Engine) -> str:
    """libpq's URL for `engine`'s database (SQLAlchemy's names the driver too)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class LoopConnections:
    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        # An app dropped without its shutdown (a test's) closes them as it goes.
        weakref.finalize(self, _finish, self._idle)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # another loop's connections cannot be awaited here
            self.close()
            self._loop = loop
        connection = self._idle.pop() if self._idle else await self._connect()
        try:
            yield connection
        except BaseException:
            await connection.close()
            raise
        idle = connection.info.transaction_status == TransactionStatus.IDLE
        if connection.closed or not idle or self._loop is not loop:
            # Broken, mid-transaction, or opened on a loop this keeper has left.
            await connection.close()
        else:
            self._idle.append(connection)

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        # In UTC, as the engine's sessions (core.db.make_engine).
        return await psycopg.AsyncConnection.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            options="-c TimeZone=UTC",
        )

    def close(self) -> None:
        """Close the idle connections, from any thread or loop."""
        _finish(self._idle)

    @property
    def idle(self) -> int:
        return len(self._idle)


def _finish(idle: list[psycopg.AsyncConnection[Any]]) -> None:
    """libpq's own close (`finish`): it sends its goodbye without waiting for an
    answer, so it needs no event loop."""
    while idle:
        connection = idle.pop()  # held while closing: freed open, it would warn
        connection.pgconn.finish()
