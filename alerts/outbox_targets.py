"""Who alerts' outbox messages are for: every configured ticket sink (`ticket_event`),
or `ESCALATION`, the SLA events the notifications stage consumes. The outbox itself
(the table, leases, retries) is `core.outbox`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from alerts import documents
from core.outbox import enqueue

ESCALATION = "escalation"


def sink_names(connection: Connection) -> list[str]:
    """The configured ticket sinks' names."""
    return [str(sink["name"]) for sink in documents.read(connection, documents.SINKS) or []]


def ticket_event(
    connection: Connection,
    ticket_id: int,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    *,
    skip: str | None = None,
) -> None:
    """Queue `kind` for every configured ticket sink (except `skip`, the sink the
    change came from: its own comment must not be echoed back to it)."""
    for name in sink_names(connection):
        if name != skip:
            enqueue(
                connection,
                target=name,
                kind=kind,
                aggregate=f"ticket:{ticket_id}",
                payload={"ticket_id": ticket_id, **payload},
                now=now,
            )
