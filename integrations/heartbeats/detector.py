"""The leader's pass over heartbeats: which are past their next due time plus grace.

One indexed range query (`alert_at <= now`, `ix_heartbeats_alert_at`) finds them,
so a pass over 10,000 heartbeats where none is late costs one index probe. Each
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

from sqlalchemy import Engine, select, update

from checks.outcomes import CheckResult, Outcome
from integrations.heartbeats.models import Heartbeat, HeartbeatState
from integrations.heartbeats.spec import check_name_of, next_due
from intmon.db import table_of

HB = table_of(Heartbeat)
MAX_PER_PASS = 5
# Heartbeats handled per pass; the rest are next pass's (a few seconds later).
BATCH = 5000


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
        if connection.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        for row in connection.execute(query).all():
            missed, due, alert_at = _missed_periods(row, now)
            moved = connection.execute(
                update(HB)
                .where(HB.c.id == row.id, HB.c.alert_at == row.alert_at)
                .values(state=HeartbeatState.MISSED, next_due_at=due, alert_at=alert_at)
            ).rowcount
            if moved:
                results += missed
    return results


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
