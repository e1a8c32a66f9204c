"""Time-driven ticket rules, run periodically by the leader's housekeeping job:
first-response SLA breaches (escalated through the outbox) and the 2-day
auto-close of tickets waiting on the client (seed 001).

Both are conditional UPDATEs, so two sweeps running at once (a fail-over
moment) record each breach and each close once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from alerts import announce, tickets
from alerts.models import Ticket
from alerts.outbox_targets import ESCALATION
from alerts.policy import Policy
from alerts.tickets import SYSTEM, Status, ticket_number
from core import outbox
from core.db import table_of
from integrations.maintenance import windows_by_integration
from integrations.windows import shift_past_windows

T = table_of(Ticket)


@dataclass
class SweepReport:
    breached: list[str] = field(default_factory=list)
    auto_closed: list[str] = field(default_factory=list)


def sweep(engine: Engine, policy: Policy, now: datetime) -> SweepReport:
    report = SweepReport()
    with engine.begin() as connection:
        report.breached = _breaches(connection, policy, now)
    with engine.begin() as connection:
        report.auto_closed = _auto_close(connection, policy, now)
    return report


def effective_due(ticket: Any, policy: Policy, windows: dict[str, list[Any]]) -> datetime:
    """The first-response due time with maintenance time not counted: no SLA
    clock runs while the integration is in a declared window."""
    due: datetime = ticket.first_response_due_at
    own = windows.get(ticket.integration_id or "", [])
    if not own:
        return due
    sla = policy.sla(ticket.tier)
    return shift_past_windows(own, due - sla, sla.total_seconds())


def _breaches(connection: Connection, policy: Policy, now: datetime) -> list[str]:
    overdue = connection.execute(
        select(T).where(
            T.c.status.in_([s.value for s in tickets.ACTIVE]),
            T.c.first_responded_at.is_(None),
            T.c.sla_breached_at.is_(None),
            T.c.first_response_due_at <= now,
        )
    ).all()
    if not overdue:
        return []
    windows = windows_by_integration(
        connection, {t.integration_id for t in overdue if t.integration_id}
    )
    breached: list[str] = []
    for ticket in overdue:
        due = effective_due(ticket, policy, windows)
        if now < due:
            continue
        claimed = connection.execute(
            update(T)
            .where(T.c.id == ticket.id, T.c.sla_breached_at.is_(None))
            .values(sla_breached_at=now)
        ).rowcount
        if not claimed:
            continue
        number = ticket_number(ticket.id)
        tickets.record(connection, ticket.id, now, SYSTEM, "sla_breached", None, due.isoformat())
        outbox.enqueue(
            connection,
            target=ESCALATION,
            kind="ticket.sla_breached",
            aggregate=f"ticket:{ticket.id}",
            payload={
                "ticket_id": ticket.id,
                "number": number,
                "client": ticket.client,
                "integration_id": ticket.integration_id,
                "tier": ticket.tier,
                "due_at": due.isoformat(),
                "breached_at": now.isoformat(),
            },
            now=now,
        )
        announce.ticket_event(
            connection,
            ticket,
            "ticket.sla_breached",
            now,
            due_at=due.isoformat(),
            tier=ticket.tier,
        )
        # Support itself is late: the next level of the chain hears of it too.
        announce.ticket_event(connection, ticket, "escalation", now, level=2)
        breached.append(number)
    return breached


def _auto_close(connection: Connection, policy: Policy, now: datetime) -> list[str]:
    limit = now - timedelta(seconds=policy.auto_close_after_s)
    stale = connection.execute(
        select(T.c.id).where(T.c.status == Status.WAITING_FOR_REPLY, T.c.waiting_since <= limit)
    ).all()
    closed: list[str] = []
    for (ticket_id,) in stale:
        ticket = tickets.load(connection, ticket_id, lock=True)
        # Re-read under the lock: a client reply since the query moved it on.
        if ticket.status != Status.WAITING_FOR_REPLY or ticket.waiting_since > limit:
            continue
        tickets.comment(
            connection,
            ticket_id,
            body=(
                f"Closed automatically: no reply from you for more than "
                f"{_span(policy.auto_close_after_s)}. Write a comment here to reopen it."
            ),
            actor=SYSTEM,
            now=now,
            message={"key": "auto_closed", "after_s": float(policy.auto_close_after_s)},
        )
        tickets.set_status(
            connection, ticket_id, Status.CLOSED, actor=SYSTEM, now=now, reason="no_reply"
        )
        closed.append(ticket_number(ticket_id))
    return closed


def _span(seconds: float) -> str:
    if seconds >= 86400 and seconds % 86400 == 0:
        days = int(seconds // 86400)
        return f"{days} day" + ("s" if days != 1 else "")
    return f"{seconds / 3600:g} hours"
