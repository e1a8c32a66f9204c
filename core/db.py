"""Database engine and sessions; the schema itself lives with the package that owns it.

SQLite (embedded) and PostgreSQL (production) are both first-class: every
migration and every query runs on both.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Executable,
    Integer,
    MetaData,
    Row,
    Table,
    TypeDecorator,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Session

# Stable constraint names so Alembic migrations are the same on both backends.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        # The embedded mode shares one file between the scheduler thread and
        # worker threads; WAL lets readers proceed while a batch is written.
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    # Sessions in UTC whatever the server's default: day and hour buckets (partitions,
    # rollups) are UTC days and hours, and psycopg hands back datetimes in
    # `datetime.timezone.utc`, which cost nothing to normalise (a zone such as Etc/UTC
    # made `astimezone` a third of the board's bars).
    kwargs["connect_args"] = {"options": "-c TimeZone=UTC"}
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# One engine per database URL, shared by everything in the process. A process uses one
# URL, but tests and tools open many: an engine pushed out of the cache is disposed,
# so its pooled connections are closed rather than left to the garbage collector.
_ENGINES: OrderedDict[str, Engine] = OrderedDict()
_ENGINES_MAX = 8
_ENGINES_LOCK = threading.Lock()


def engine_for(url: str) -> Engine:
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is not None:
            _ENGINES.move_to_end(url)
            return engine
        engine = _ENGINES[url] = make_engine(url)
        while len(_ENGINES) > _ENGINES_MAX:
            _, oldest = _ENGINES.popitem(last=False)
            oldest.dispose()
        return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


# SQLite only auto-increments INTEGER PRIMARY KEY columns. Every stage's tables use
# it, so it sits beside the base model.
BigId = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both backends (SQLite would otherwise hand back naive times)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def table_of(model: type[Base]) -> Table:
    """A mapped class's Table, typed as one (`__table__` is typed as a FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def fetch_all(
    target: Engine | Connection, query: Executable, params: Mapping[str, Any] | None = None
) -> list[Row[Any]]:
    """The rows of `query` (with its bound `params`), on the caller's connection
    (inside its transaction) or, given an engine, on a connection of its own."""
    if isinstance(target, Connection):
        return list(target.execute(query, params).all())
    with target.connect() as connection:
        return list(connection.execute(query, params).all())
