"""What each ticket and incident event tells people: builds the message facts and
hands them to `alerts.notify.queue`, inside the event's own transaction.

A ticket made by hand has no incident facts; its messages show its topic instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from alerts import notify


def ticket_event(
    connection: Connection,
    ticket: Any,
    event: str,
    now: datetime,
    *,
    level: int = 1,
    **extra: Any,
) -> None:
    """`ticket` is the ticket row; `level` as for incident events."""
    if event == "escalation":
        extra["level"] = level
    form = ticket.form or {}
    automatic = ticket.family is not None
    context = {
        "ticket": int(ticket.id),
        "topic": ticket.topic,
        "integration_id": ticket.integration_id,
        "integration_name": form.get("integration_name", ticket.integration_id),
        "family": ticket.family,
        "first_seen": form.get("first_seen") if automatic else None,
        "outcome": form.get("failure_class"),
        **extra,
    }
    notify.queue(
        connection,
        event,
        client=ticket.client,
        integration_id=ticket.integration_id,
        tier=ticket.tier,
        family=ticket.family,
        context=context,
        now=now,
        level=level,
    )


def incident_event(
    connection: Connection,
    incident: dict[str, Any],
    spec: Any,
    event: str,
    now: datetime,
    *,
    level: int = 1,
    **extra: Any,
) -> None:
    """`level` picks the contacts of that escalation level (an `escalation` event)."""
    if event == "escalation":
        extra["level"] = level
    context = {
        "ticket": incident.get("ticket_id"),
        "incident": incident["id"],
        "integration_id": spec.id,
        "integration_name": spec.name,
        "family": incident["family"],
        "first_seen": incident["first_seen"].isoformat(),
        "outcome": incident["last_outcome"],
        "detail": incident["last_detail"] or None,
        **extra,
    }
    notify.queue(
        connection,
        event,
        client=spec.client,
        integration_id=spec.id,
        tier=spec.tier.value,
        family=incident["family"],
        context=context,
        now=now,
        level=level,
    )
