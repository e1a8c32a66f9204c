"""The leader's pass over heartbeats: which are past their next due time plus grace.

One query (`alert_at <= now`) finds them. It scans the table: `alert_at` is not
indexed so that a ping's update stays HOT (migration 0025), and a pass over
10,000 heartbeats where none is late costs a few milliseconds either way. Each
late heartbeat yields one `missed_heartbeat` result per period it missed (up to
`MAX_PER_PASS`; a longer silence, such as intmon itself being down for a day,
is summed up in the last one's detail) and moves on to its next period, so the
next pass does not report the same period again.

Safe to run twice at once: on PostgreSQL the rows are claimed with
`FOR UPDATE SKIP LOCKED` (a ping being written holds its row, and wins); on both
databases the move is a conditional UPDATE on the `alert_at` that was read, and
only a row that moved yields results.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, text, update

from core.db import table_of
from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.heartbeats.models import Heartbeat, HeartbeatState
from integrations.specs.heartbeats import check_name_of, next_due

HB = table_of(Heartbeat)
MAX_PER_PASS = 5
# Heartbeats handled per pass; the rest are next pass's (a few seconds later). All
# 10,000 of bench/pings.py late at once take one pass of about 3 s, results and
# incidents included.
BATCH = 10_000
# (heartbeat id, alert_at as read, next due, next alert_at)
Move = tuple[int, datetime, datetime, datetime]


def detect_missed(engine: Engine, now: datetime, limit: int = BATCH) -> list[CheckResult]:
    """Move every heartbeat late at `now` to its next period; its missed results."""
    results: list[CheckResult] = []
    with engine.begin() as connection:
        query = (
            select(
                HB.c.id,
                HB.c.integration_id,
                HB.c.name,
                HB.c.period_s,
                HB.c.schedule,
                HB.c.timezone,
                HB.c.grace_s,
                HB.c.last_ping_at,
                HB.c.next_due_at,
                HB.c.alert_at,
            )
            .where(HB.c.alert_at <= now)
            .order_by(HB.c.alert_at)
            .limit(limit)
        )
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            query = query.with_for_update(skip_locked=True)
        moves: list[Move] = []
        found: dict[int, list[CheckResult]] = {}
        for row in connection.execute(query).all():
            found[row.id], due, alert_at = _missed_periods(row, now)
            moves.append((row.id, row.alert_at, due, alert_at))
        moved = _move_all(connection, moves) if postgres else _move_each(connection, moves)
        for heartbeat_id in sorted(moved):
            results += found[heartbeat_id]
    return results


# Each late heartbeat to its next period, in one statement, only where `alert_at` is
# still what was read; the ids moved come back.
_PG_MOVE = text(
    "UPDATE heartbeats AS h SET state = 'missed', next_due_at = v.due, alert_at = v.alert_at "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:olds AS timestamptz[]), "
    "CAST(:dues AS timestamptz[]), CAST(:alerts AS timestamptz[])) AS v(id, old, due, alert_at) "
    "WHERE h.id = v.id AND h.alert_at = v.old RETURNING h.id"
)


def _move_all(connection: Connection, moves: list[Move]) -> set[int]:
    if not moves:
        return set()
    ids, olds, dues, alerts = (list(column) for column in zip(*moves, strict=True))
    values = {"ids": ids, "olds": olds, "dues": dues, "alerts": alerts}
    return set(connection.execute(_PG_MOVE, values).scalars())


def _move_each(connection: Connection, moves: list[Move]) -> set[int]:
    moved: set[int] = set()
    for heartbeat_id, old, due, alert_at in moves:
        if connection.execute(
            update(HB)
            .where(HB.c.id == heartbeat_id, HB.c.alert_at == old)
            .values(state=HeartbeatState.MISSED, next_due_at=due, alert_at=alert_at)
        ).rowcount:
            moved.add(heartbeat_id)
    return moved


def _missed_periods(row: Any, now: datetime) -> tuple[list[CheckResult], datetime, datetime]:
    """The results for each period missed by `now`, and the next due and alert times."""
    period_s, schedule, zone = row.period_s, row.schedule, row.timezone
    grace = timedelta(seconds=row.grace_s)
    due: datetime = row.next_due_at
    alert_at: datetime = row.alert_at
    last = row.last_ping_at
    since = f"last ping {last.isoformat()}" if last is not None else "never pinged"
    results: list[CheckResult] = []
    skipped = 0
    while alert_at <= now:
        if len(results) < MAX_PER_PASS:
            results.append(
                CheckResult(
                    row.integration_id,
                    check_name_of(row.name),
                    Outcome.MISSED_HEARTBEAT,
                    alert_at,
                    0.0,
                    scheduled_at=due,
                    detail=f"no ping by {due.isoformat()} + {grace.total_seconds():g} s grace "
                    f"({since})",
                )
            )
        else:
            skipped += 1
        due = next_due(due, period_s=period_s, schedule=schedule, timezone=zone)
        alert_at = due + grace
    if skipped:
        last_result = results[-1]
        last_result.detail += f"; {skipped} more periods missed before {now.isoformat()}"
    return results, due, alert_at
