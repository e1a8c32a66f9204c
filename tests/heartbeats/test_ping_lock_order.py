"""Concurrent ping batches on PostgreSQL lock their heartbeats in one order.

Each API process writes up to three batches at once, and every process writes
into the same table: two batches sharing heartbeats must take their rows' locks
in the same order, or each waits for the other until PostgreSQL breaks the
deadlock after a second and one batch fails (its pings answered 503). The fast
path's UPDATE … FROM unnest(…) locked rows in whatever order its plan visited
them; bench/pings.py found the deadlocks in PostgreSQL's log.
"""

from __future__ import annotations

import random
import threading
from datetime import timedelta

from sqlalchemy import Engine, create_engine, text

from integrations.apply import apply
from integrations.heartbeats.pings import Ping, PingKind, record_pings
from integrations.heartbeats.store import list_heartbeats
from integrations.loader import load_text
from tests.alerts.helpers import T0

WRITERS, BATCHES, KEYS_PER_BATCH = 6, 60, 40


def fleet(heartbeats: int) -> str:
    entries = "\n".join(
        f"      - {{name: beat-{n:03d}, period_s: 60, grace_s: 30}}" for n in range(heartbeats)
    )
    return (
        "version: 1\nintegrations:\n  - id: exporter\n    name: Exporter\n    kind: broker\n"
        "    client: acme\n    base_url: http://127.0.0.1:9\n"
        "    checks: [{name: health, path: /health}]\n"
        f"    heartbeats:\n{entries}\n"
    )


def test_concurrent_batches_sharing_heartbeats_never_deadlock(
    pg_engine: Engine, pg_url: str
) -> None:
    apply(pg_engine, load_text(fleet(400)), T0)
    keys = [view.ping_key for view in list_heartbeats(pg_engine)]
    record_pings(pg_engine, [Ping(key, PingKind.SUCCESS, T0) for key in keys])  # all up
    deadlocks_before = deadlocks(pg_engine)
    engine = create_engine(pg_url, pool_size=WRITERS, max_overflow=0)
    errors: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def writer(seed: int) -> None:
        chosen = random.Random(seed)
        start.wait()
        try:
            for n in range(BATCHES):
                at = T0 + timedelta(seconds=n + 1)
                batch = chosen.sample(keys, KEYS_PER_BATCH)
                record_pings(engine, [Ping(key, PingKind.SUCCESS, at) for key in batch])
        except BaseException as error:  # a deadlock fails the batch
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(WRITERS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        engine.dispose()
    assert [type(error).__name__ for error in errors] == []
    # record_pings reruns a batch that lost a deadlock: only the server's count tells.
    assert deadlocks(pg_engine) == deadlocks_before


def deadlocks(engine: Engine) -> int:
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        return int(
            connection.execute(
                text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
            ).scalar_one()
        )


def test_a_lost_deadlock_is_rerun_whether_sqlalchemy_or_psycopg_raised_it() -> None:
    """The ping writer on the event loop meets psycopg's own errors, the threads
    SQLAlchemy's wrapping of them: both are rerun, nothing else is."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    from integrations.heartbeats.pings import _retryable

    deadlock = psycopg.errors.DeadlockDetected("deadlock detected")
    assert _retryable(deadlock)
    assert _retryable(OperationalError("UPDATE …", {}, deadlock))
    assert not _retryable(psycopg.errors.UndefinedTable("no such table"))
    assert not _retryable(ValueError("not a database error"))
