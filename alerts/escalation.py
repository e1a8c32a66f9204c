"""Escalation of emergencies nobody acknowledged, and reminders (issue 4).

An emergency incident (the integration is down: connectivity or server) counts
as acknowledged once someone runs `intmon incidents ack` or support answers its
ticket. Until then, every `ack_timeout_minutes` it goes one level up the contact
chain (`escalation_level` of the contacts, up to 3) as an `escalation` event, and
the first line gets an `incident.reminder` every `reminder_every_minutes`, at
most `max_reminders` times. Each step is a conditional UPDATE, so two sweeps at
once send each step once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from alerts import announce, notify
from alerts.contacts import MAX_LEVEL
from alerts.errors import AlertsError
from alerts.models import Incident, Ticket
from alerts.routing import EMERGENCY_FAMILIES
from core.db import table_of
from integrations.registry import load_specs

INC = table_of(Incident)
T = table_of(Ticket)


@dataclass
class EscalationReport:
    escalated: list[int] = field(default_factory=list)
    reminded: list[int] = field(default_factory=list)


def escalate(engine: Engine, now: datetime) -> EscalationReport:
    report = EscalationReport()
    with engine.begin() as connection:
        config = notify.notifications_config(connection)
        rows = connection.execute(
            select(INC, T.c.first_responded_at)
            .outerjoin(T, T.c.id == INC.c.ticket_id)
            .where(
                INC.c.state == "open",
                INC.c.family.in_([f.value for f in EMERGENCY_FAMILIES]),
                INC.c.acknowledged_at.is_(None),
            )
        ).all()
        waiting = [row for row in rows if row.first_responded_at is None]
        if not waiting:
            return report
        specs = load_specs(engine, sorted({row.integration_id for row in waiting}))
        timeout = timedelta(minutes=config.ack_timeout_minutes)
        every = timedelta(minutes=config.reminder_every_minutes)
        for row in waiting:
            registered = specs.get(row.integration_id)
            if registered is None:
                continue
            spec = registered.spec
            incident = dict(row._mapping)
            level = row.escalation_level
            due = level < MAX_LEVEL and now >= row.opened_at + timeout * level
            if due and _step(connection, row.id, {"escalation_level": level + 1}, level=level):
                unanswered = int((now - row.opened_at).total_seconds() // 60)
                announce.incident_event(
                    connection,
                    incident,
                    spec,
                    "escalation",
                    now,
                    level=level + 1,
                    unacknowledged_minutes=unanswered,
                )
                report.escalated.append(row.id)
            last = row.last_reminder_at or row.opened_at
            if row.reminders < config.max_reminders and now >= last + every:
                values = {"reminders": row.reminders + 1, "last_reminder_at": now}
                if _step(connection, row.id, values, reminders=row.reminders):
                    announce.incident_event(
                        connection,
                        incident,
                        spec,
                        "incident.reminder",
                        now,
                        reminder_number=row.reminders + 1,
                        max_reminders=config.max_reminders,
                    )
                    report.reminded.append(row.id)
    return report


def _step(
    connection: Connection, incident_id: int, values: dict[str, Any], **expected: int
) -> bool:
    """Move one step if nobody else did it first (the expected column values)."""
    condition = [INC.c.id == incident_id, INC.c.acknowledged_at.is_(None)]
    if "level" in expected:
        condition.append(INC.c.escalation_level == expected["level"])
    if "reminders" in expected:
        condition.append(INC.c.reminders == expected["reminders"])
    return bool(connection.execute(update(INC).where(*condition).values(**values)).rowcount)


def acknowledge(engine: Engine, incident_id: int, who: str, now: datetime) -> bool:
    """Someone has it in hand: no further escalation or reminders. False when it was
    acknowledged already (the first one's name and time are kept)."""
    with engine.begin() as connection:
        row = connection.execute(select(INC.c.state).where(INC.c.id == incident_id)).first()
        if row is None:
            raise IncidentNotFound(incident_id)
        changed = connection.execute(
            update(INC)
            .where(INC.c.id == incident_id, INC.c.acknowledged_at.is_(None))
            .values(acknowledged_at=now, acknowledged_by=who)
        ).rowcount
    return bool(changed)


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    at: datetime
    by: str


def acknowledgements(engine: Engine, incident_ids: Iterable[int]) -> dict[int, Acknowledgement]:
    """Who took each of these incidents and when; an incident nobody took is absent."""
    wanted = sorted(set(incident_ids))
    if not wanted:
        return {}
    with engine.connect() as connection:
        rows = connection.execute(
            select(INC.c.id, INC.c.acknowledged_at, INC.c.acknowledged_by).where(
                INC.c.id.in_(wanted), INC.c.acknowledged_at.is_not(None)
            )
        ).all()
    return {row.id: Acknowledgement(row.acknowledged_at, row.acknowledged_by or "") for row in rows}


class IncidentNotFound(AlertsError):
    def __init__(self, incident_id: int) -> None:
        super().__init__(f"incident {incident_id} not found")
