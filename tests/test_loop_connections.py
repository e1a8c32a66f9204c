"""The postback writer's PostgreSQL connections on the event loop (real PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, create_engine

from intmon.api.loop_connections import LoopConnections, conninfo_of


async def backend_of(connections: LoopConnections) -> int:
    async with connections.connection() as connection:
        cursor = await connection.execute("SELECT pg_backend_pid()")
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0])


def test_a_connection_is_kept_between_batches_in_autocommit(pg_engine: Engine) -> None:
    connections = LoopConnections(conninfo_of(pg_engine))

    async def run() -> None:
        first = await backend_of(connections)
        assert connections.idle == 1
        assert await backend_of(connections) == first  # the same connection again
        async with connections.connection() as connection:
            assert connection.autocommit
            cursor = await connection.execute("SHOW TimeZone")
            assert await cursor.fetchone() == ("UTC",)

    asyncio.run(run())
    connections.close()
    assert connections.idle == 0


def test_a_connection_that_failed_is_closed_not_reused(pg_engine: Engine) -> None:
    connections = LoopConnections(conninfo_of(pg_engine))
    kept: list[Any] = []

    async def run() -> None:
        first = await backend_of(connections)
        with pytest.raises(psycopg.errors.UndefinedTable):
            async with connections.connection() as connection:
                kept.append(connection)
                await connection.execute("SELECT * FROM no_such_table")
        assert kept[0].closed and connections.idle == 0
        assert await backend_of(connections) != first

    asyncio.run(run())
    connections.close()


def test_another_event_loop_gets_its_own_connection(pg_engine: Engine) -> None:
    """A connection is bound to the loop that opened it; one used from a new loop
    (a test client's, say) is closed and a new one opened there."""
    connections = LoopConnections(conninfo_of(pg_engine))
    kept: list[Any] = []

    async def run() -> int:
        async with connections.connection() as connection:
            kept.append(connection)
        return await backend_of(connections)

    first = asyncio.run(run())
    second = asyncio.run(run())
    assert first != second
    assert kept[0].closed and not kept[1].closed
    connections.close()
    assert kept[1].closed


def test_the_url_is_libpqs_with_its_password() -> None:
    engine = create_engine("postgresql+psycopg://intmon:s3cret@db.internal:6432/intmon")
    assert conninfo_of(engine) == "postgresql://intmon:s3cret@db.internal:6432/intmon"


def test_a_connection_in_use_when_another_loop_came_is_not_kept(pg_engine: Engine) -> None:
    """Two loops at once (a test client's and the app's): a connection checked out
    on the first and returned after the keeper moved to the second is closed, so
    the second never awaits a connection of the first."""
    connections = LoopConnections(conninfo_of(pg_engine))
    kept: list[Any] = []

    async def on_the_other_loop() -> None:
        await backend_of(connections)

    async def run() -> None:
        async with connections.connection() as connection:
            kept.append(connection)
            # Meanwhile another loop (a thread of its own) takes a connection.
            await asyncio.to_thread(asyncio.run, on_the_other_loop())
        assert kept[0].closed
        assert connections.idle == 1  # the other loop's, which is the keeper's loop now

    asyncio.run(run())
    connections.close()
