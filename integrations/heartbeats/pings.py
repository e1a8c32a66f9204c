"""Recording pings a batch at a time: one SELECT and one set-based UPDATE per batch.

The ingest endpoint (`intmon.api.group_commit`) gathers the pings that arrive
while the previous batch is written and hands them here together; a row per
request would cap it at a few hundred pings/s on PostgreSQL (group commit, as
`integrations.results` does for check results).

What a ping does to its heartbeat is a pure fold (`fold_pings`), one row at a
time in arrival order:

    success   last ping now; up; the next due time counts from it. After a miss
              or a failure (or as the very first ping) it also yields an `ok`
              result, so the incident resolves (and the board shows the check).
    start     only noted (`last_start_at`); a success after it reports the run's
              duration.
    fail      the job ran and said it failed: a `missed_heartbeat` result whose
              detail says so and carries the body's excerpt; the next due time
              counts from it.

On PostgreSQL the common ping — a success for a heartbeat that is up and
expects a period — takes a fast path first (`_fast_successes`): one UPDATE
computes the next due time in SQL, in autocommit, a single round trip. It yields
no result by definition (up stays up), so it needs nothing of the old row. Every
other ping (start, fail, a heartbeat not up, a cron schedule, an unknown key)
goes through the fold above. Under load the round trips were the ping's latency,
and with clients waiting for their answer, latency is throughput (bench/pings.py).

The body's excerpt is stored with the ping key redacted (a job's log may well
contain the curl command line), capped at `EXCERPT_CHARS`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, bindparam, select, text, update
from sqlalchemy.exc import DBAPIError
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_random

from core.db import table_of
from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.heartbeats.models import Heartbeat, HeartbeatState
from integrations.redaction import redact
from integrations.results import storable
from integrations.specs.heartbeats import check_name_of, next_due

if TYPE_CHECKING:
    import psycopg

HB = table_of(Heartbeat)
# Deadlock and serialisation failures: the batch can run again (see alerts.intake).
RETRYABLE_SQLSTATES = {"40P01", "40001"}
EXCERPT_CHARS = 1000


class PingKind(enum.StrEnum):
    SUCCESS = "success"
    START = "start"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Ping:
    key: str
    kind: PingKind
    at: datetime
    body: str = ""


@dataclass(slots=True)
class HeartbeatRow:
    """What a ping reads and writes of its heartbeat."""

    id: int
    integration_id: str
    name: str
    ping_key: str
    state: str
    period_s: float | None
    schedule: str | None
    timezone: str | None
    grace_s: float
    last_ping_at: datetime | None
    last_start_at: datetime | None
    last_fail_at: datetime | None
    last_body: str
    next_due_at: datetime | None
    alert_at: datetime | None

    COLUMNS = (
        "id",
        "integration_id",
        "name",
        "ping_key",
        "state",
        "period_s",
        "schedule",
        "timezone",
        "grace_s",
        "last_ping_at",
        "last_start_at",
        "last_fail_at",
        "last_body",
        "next_due_at",
        "alert_at",
    )


@dataclass
class Written:
    """The keys that matched a live heartbeat, and the results the pings produced."""

    found: set[str] = field(default_factory=set)
    results: list[CheckResult] = field(default_factory=list)


def excerpt(body: str, key: str) -> str:
    return storable(redact(body[: EXCERPT_CHARS * 2], [key])[:EXCERPT_CHARS])


def fold_pings(row: HeartbeatRow, pings: Sequence[Ping]) -> tuple[HeartbeatRow, list[CheckResult]]:
    """The heartbeat after `pings` (in arrival order), and the results they yield."""
    results: list[CheckResult] = []
    for ping in pings:
        check = check_name_of(row.name)
        body = excerpt(ping.body, row.ping_key)
        row = replace(row, last_body=body)
        if ping.kind is PingKind.START:
            row = replace(row, last_start_at=ping.at)
            continue
        due = next_due(ping.at, period_s=row.period_s, schedule=row.schedule, timezone=row.timezone)
        alert_at = due + timedelta(seconds=row.grace_s)
        ran_s = _run_time(row, ping.at)
        if ping.kind is PingKind.FAIL:
            detail = "the job reported a failure (/fail)"
            results.append(
                CheckResult(
                    row.integration_id,
                    check,
                    Outcome.MISSED_HEARTBEAT,
                    ping.at,
                    ran_s,
                    detail=detail + (f": {body[:200]}" if body else ""),
                    response_excerpt=body,
                )
            )
            row = replace(
                row,
                state=HeartbeatState.FAILED,
                last_fail_at=ping.at,
                next_due_at=due,
                alert_at=alert_at,
            )
            continue
        if row.state != HeartbeatState.UP:
            was = {HeartbeatState.NEW: "first ping"}.get(row.state, f"ping after {row.state}")
            results.append(
                CheckResult(
                    row.integration_id,
                    check,
                    Outcome.OK,
                    ping.at,
                    ran_s,
                    detail=f"{was}; next due {due.isoformat()}",
                    response_excerpt=body,
                )
            )
        row = replace(
            row, state=HeartbeatState.UP, last_ping_at=ping.at, next_due_at=due, alert_at=alert_at
        )
    return row, results


def _run_time(row: HeartbeatRow, at: datetime) -> float:
    """Seconds since the run's /start, when the job sent one after its previous ping."""
    start = row.last_start_at
    previous = max((t for t in (row.last_ping_at, row.last_fail_at) if t is not None), default=None)
    if start is None or start > at or (previous is not None and start <= previous):
        return 0.0
    return (at - start).total_seconds()


def _retryable(error: BaseException) -> bool:
    """A deadlock or serialization failure, from SQLAlchemy or from psycopg itself."""
    cause = error.orig if isinstance(error, DBAPIError) else error
    return getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES


# Rows are locked in key order on both paths, so two writers do not wait on each
# other in a circle (tests/heartbeats/test_ping_lock_order.py); should one still
# lose a deadlock (40P01), it costs only a rerun: nothing of the losing batch was
# committed but fast-path successes, which write the same values again.
rerun_on_deadlock = retry(
    retry=retry_if_exception(_retryable),
    stop=stop_after_attempt(4),
    wait=wait_random(0.005, 0.05),
    reraise=True,
)


@rerun_on_deadlock
def record_pings(engine: Engine, pings: Sequence[Ping], *, fast_done: bool = False) -> Written:
    """Apply a batch of pings in one transaction; pings of unknown (or removed) keys
    change nothing and are left out of `found`. `fast_done`: the caller already ran
    the fast path (`record_fast_successes_async`) and these pings are what it left."""
    written = Written()
    if not pings:
        return written
    by_key = by_key_of(pings)
    if engine.dialect.name == "postgresql" and not fast_done:
        fast = _fast_successes(engine, by_key)
        written.found |= fast
        by_key = {key: group for key, group in by_key.items() if key not in fast}
        if not by_key:
            return written
    with engine.begin() as connection:
        query = (
            select(*(HB.c[name] for name in HeartbeatRow.COLUMNS))
            .where(HB.c.ping_key.in_(list(by_key)), HB.c.removed_at.is_(None))
            .order_by(HB.c.ping_key)  # every writer locks shared rows in key order
        )
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()
        rows = [HeartbeatRow(*row) for row in connection.execute(query)]
        updated: list[HeartbeatRow] = []
        for row in rows:
            after, results = fold_pings(row, by_key[row.ping_key])
            updated.append(after)
            written.results += results
            written.found.add(row.ping_key)
        _save(connection, updated)
    return written


def by_key_of(pings: Sequence[Ping]) -> dict[str, list[Ping]]:
    by_key: dict[str, list[Ping]] = {}
    for ping in pings:
        by_key.setdefault(ping.key, []).append(ping)
    return by_key


# Success pings of heartbeats that are up with a period: one statement, no fold. In
# psycopg's own form (`%(name)s`): run through SQLAlchemy's connection and on an
# async psycopg one (the API's ping writer on the event loop).
PG_FAST_SUCCESS = (
    "WITH v AS MATERIALIZED (SELECT * FROM unnest(CAST(%(keys)s AS text[]), "
    "CAST(%(ats)s AS timestamptz[]), CAST(%(bodies)s AS text[])) AS v(ping_key, at, body)), "
    # The rows locked first, in key order, as the fold locks them: the UPDATE's own
    # join visited them in the order of its plan (its scan of the table), and two
    # batches sharing heartbeats deadlocked (bench/pings.py, PostgreSQL's log).
    "locked AS MATERIALIZED (SELECT h.ping_key FROM heartbeats AS h "
    "JOIN v ON h.ping_key = v.ping_key "
    "WHERE h.state = 'up' AND h.period_s IS NOT NULL AND h.removed_at IS NULL "
    "ORDER BY h.ping_key FOR UPDATE OF h) "
    "UPDATE heartbeats AS h SET last_ping_at = v.at, last_body = v.body, "
    "next_due_at = v.at + make_interval(secs => h.period_s), "
    "alert_at = v.at + make_interval(secs => h.period_s + h.grace_s) "
    "FROM v JOIN locked ON locked.ping_key = v.ping_key "
    "WHERE h.ping_key = v.ping_key AND h.state = 'up' AND h.period_s IS NOT NULL "
    "AND h.removed_at IS NULL "
    "RETURNING h.ping_key"
)


def _fast_values(by_key: dict[str, list[Ping]]) -> dict[str, list[Any]] | None:
    """The fast path's parameters: the latest ping of each key whose pings are all
    successes, in key order (as the fold locks them); None when there is none."""
    latest = {
        key: max(group, key=lambda ping: ping.at)
        for key, group in sorted(by_key.items())
        if all(ping.kind is PingKind.SUCCESS for ping in group)
    }
    if not latest:
        return None
    return {
        "keys": list(latest),
        "ats": [ping.at for ping in latest.values()],
        "bodies": [excerpt(ping.body, ping.key) for ping in latest.values()],
    }


def _fast_successes(engine: Engine, by_key: dict[str, list[Ping]]) -> set[str]:
    """Record the keys whose pings are all successes on the fast path, if their
    heartbeat is up with a period; the keys it stored."""
    values = _fast_values(by_key)
    if values is None:
        return set()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return {row[0] for row in connection.exec_driver_sql(PG_FAST_SUCCESS, values)}


@rerun_on_deadlock
async def record_fast_successes_async(
    connection: psycopg.AsyncConnection[Any], by_key: dict[str, list[Ping]]
) -> set[str]:
    """The fast path on an autocommit async psycopg connection; the keys it stored.
    The pings of the other keys go to `record_pings(…, fast_done=True)`."""
    values = _fast_values(by_key)
    if values is None:
        return set()
    async with connection.cursor() as cursor:
        await cursor.execute(PG_FAST_SUCCESS, values)
        return {row[0] for row in await cursor.fetchall()}


SAVED = (
    "state",
    "last_ping_at",
    "last_start_at",
    "last_fail_at",
    "last_body",
    "next_due_at",
    "alert_at",
)
_PG_TYPES = {
    "state": "text",
    "last_ping_at": "timestamptz",
    "last_start_at": "timestamptz",
    "last_fail_at": "timestamptz",
    "last_body": "text",
    "next_due_at": "timestamptz",
    "alert_at": "timestamptz",
}
# One statement for the whole batch: the new values travel as one array per column.
_PG_UPDATE = text(
    "UPDATE heartbeats AS h SET "
    + ", ".join(f"{name} = v.{name}" for name in SAVED)
    + " FROM unnest(CAST(:id AS bigint[]), "
    + ", ".join(f"CAST(:{name} AS {_PG_TYPES[name]}[])" for name in SAVED)
    + f") AS v(id, {', '.join(SAVED)}) WHERE h.id = v.id"
)


def _save(connection: Connection, rows: list[HeartbeatRow]) -> None:
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        arrays: dict[str, list[Any]] = {"id": [row.id for row in rows]}
        for name in SAVED:
            arrays[name] = [getattr(row, name) for row in rows]
        connection.execute(_PG_UPDATE, arrays)
        return
    connection.execute(
        update(HB)
        .where(HB.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in SAVED}),
        [{"b_id": row.id, **{f"b_{name}": getattr(row, name) for name in SAVED}} for row in rows],
    )
