"""Migration 0025: a ping's update of its heartbeat is HOT on PostgreSQL (no index
covers a column it changes, and each page keeps room for the new row version)."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from sqlalchemy import Engine, create_engine, inspect, text

from integrations.apply import apply
from integrations.heartbeats.models import Heartbeat
from integrations.heartbeats.pings import SAVED, Ping, PingKind, record_pings
from integrations.heartbeats.store import list_heartbeats
from integrations.loader import load_text
from intmon.migrations import alembic_config, upgrade
from tests.alerts.helpers import T0
from tests.heartbeats.test_heartbeats import CONFIG


def indexed_columns(engine: Engine) -> set[str]:
    return {
        column
        for index in inspect(engine).get_indexes("heartbeats")
        for column in index["column_names"]
        if column is not None
    }


def fillfactor(engine: Engine) -> str | None:
    with engine.connect() as connection:
        options = connection.execute(
            text("SELECT reloptions FROM pg_class WHERE relname = 'heartbeats'")
        ).scalar()
    return next((o for o in options or () if o.startswith("fillfactor=")), None)


def test_no_column_a_ping_writes_is_indexed(db_engine: Engine) -> None:
    assert indexed_columns(db_engine) & set(SAVED) == set()


def test_downgrade_restores_the_index_and_upgrade_drops_it(db_engine: Engine) -> None:
    postgres = db_engine.dialect.name == "postgresql"
    if postgres:
        assert fillfactor(db_engine) == "fillfactor=70"
    command.downgrade(alembic_config(db_engine), "0024")
    assert "alert_at" in indexed_columns(db_engine)
    if postgres:
        assert fillfactor(db_engine) is None
    upgrade(db_engine)
    assert "alert_at" not in indexed_columns(db_engine)
    if postgres:
        assert fillfactor(db_engine) == "fillfactor=70"


def update_counters(engine: Engine) -> tuple[int, int]:
    """The heartbeats table's (updates, HOT updates) so far, this backend's included."""
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_stat_force_next_flush()"))
        connection.commit()  # the backend flushes its counters as the transaction ends
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        updated, hot = connection.execute(
            text("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = :t"),
            {"t": Heartbeat.__tablename__},
        ).one()
    return int(updated), int(hot)


def test_pings_update_their_heartbeat_heap_only(pg_engine: Engine, pg_url: str) -> None:
    """Both write paths: the fold (first pings, starts) and the fast path (a success on
    a heartbeat that is up)."""
    apply(pg_engine, load_text(CONFIG), T0)
    keys = [view.ping_key for view in list_heartbeats(pg_engine) if view.period_s]
    # One backend for the pings and the counters: its statistics are flushed on demand.
    engine = create_engine(pg_url, pool_size=1, max_overflow=0)
    try:
        updated_before, hot_before = update_counters(engine)
        record_pings(engine, [Ping(key, PingKind.SUCCESS, T0) for key in keys])
        for n in range(1, 6):
            at = T0 + timedelta(minutes=n)
            record_pings(engine, [Ping(key, PingKind.SUCCESS, at) for key in keys])
        record_pings(engine, [Ping(key, PingKind.START, T0 + timedelta(hours=1)) for key in keys])
        updated, hot = update_counters(engine)
    finally:
        engine.dispose()
    assert updated - updated_before == 7 * len(keys)
    assert hot - hot_before == updated - updated_before
