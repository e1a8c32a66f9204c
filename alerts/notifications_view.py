"""Read view of queued notifications for the CLI (`intmon notifications list`):
the outbox rows whose target starts with `notify:`. Addresses are shown as
`alerts.contacts_view.shown_address` shows them (no secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import Engine, select

from alerts.contacts import CHANNEL_FIELDS
from alerts.contacts_view import shown_address
from alerts.errors import AlertsError
from alerts.notify import TARGET_PREFIX
from alerts.tickets import ticket_number
from core.db import table_of
from core.outbox import OutboxMessage
from integrations.windows import aware

OUT = table_of(OutboxMessage)

NotificationStatus = Literal["pending", "held", "sent", "dead"]
NOTIFICATION_STATUSES: tuple[NotificationStatus, ...] = get_args(NotificationStatus)


class InvalidFilter(AlertsError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


# --- notifications --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NotificationView:
    id: int
    channel: str
    event: str
    status: NotificationStatus
    recipient: str
    address: str | None  # as shown (see `shown_address`)
    ticket: str | None
    integration_id: str | None
    attempts: int
    created_at: datetime
    available_at: datetime
    sent_at: datetime | None
    dead_at: datetime | None
    last_error: str | None
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "channel": self.channel,
            "event": self.event,
            "status": self.status,
            "recipient": self.recipient,
            "address": self.address,
            "ticket": self.ticket,
            "integration_id": self.integration_id,
            "attempts": self.attempts,
            "created_at": self.created_at.isoformat(),
            "available_at": self.available_at.isoformat(),
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "dead_at": self.dead_at.isoformat() if self.dead_at else None,
            "last_error": self.last_error,
            "reason": self.reason,
        }


def notification_status(row: Any, now: datetime) -> NotificationStatus:
    if row.sent_at is not None:
        return "sent"
    if row.dead_at is not None:
        return "dead"
    return "held" if aware(row.available_at) > now else "pending"


def list_notifications(
    engine: Engine, now: datetime, *, status: str | None = None, limit: int = 50
) -> list[NotificationView]:
    """Notification rows, newest first; `status` one of pending, held, sent, dead
    (None: all). Held: not due before `available_at` (outside the contact's hours,
    or waiting to retry); pending: due and not yet sent."""
    if status is not None and status not in NOTIFICATION_STATUSES:
        raise InvalidFilter(
            "status", f"unknown status {status!r}; one of {', '.join(NOTIFICATION_STATUSES)}"
        )
    if limit < 1:
        raise InvalidFilter("limit", "must be at least 1")
    now = aware(now)
    query = select(OUT).where(OUT.c.target.startswith(TARGET_PREFIX, autoescape=True))
    unsent = (OUT.c.sent_at.is_(None), OUT.c.dead_at.is_(None))
    if status == "sent":
        query = query.where(OUT.c.sent_at.is_not(None))
    elif status == "dead":
        query = query.where(OUT.c.sent_at.is_(None), OUT.c.dead_at.is_not(None))
    elif status == "held":
        query = query.where(*unsent, OUT.c.available_at > now)
    elif status == "pending":
        query = query.where(*unsent, OUT.c.available_at <= now)
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(OUT.c.id.desc()).limit(limit)).all()
    return [_notification(row, now) for row in rows]


def _notification(row: Any, now: datetime) -> NotificationView:
    payload: Mapping[str, Any] = row.payload or {}
    recipient: Mapping[str, Any] = payload.get("recipient") or {}
    context: Mapping[str, Any] = payload.get("context") or {}
    channel = str(row.target).removeprefix(TARGET_PREFIX)
    address_field = CHANNEL_FIELDS.get(channel)
    ticket = context.get("ticket")
    return NotificationView(
        id=int(row.id),
        channel=channel,
        event=str(payload.get("event") or row.kind),
        status=notification_status(row, now),
        recipient=str(recipient.get("name", "?")),
        address=shown_address(channel, recipient.get(address_field)) if address_field else None,
        ticket=ticket_number(ticket) if isinstance(ticket, int) else ticket,
        integration_id=context.get("integration_id"),
        attempts=int(row.attempts),
        created_at=aware(row.created_at),
        available_at=aware(row.available_at),
        sent_at=aware(row.sent_at) if row.sent_at else None,
        dead_at=aware(row.dead_at) if row.dead_at else None,
        last_error=row.last_error,
        reason=payload.get("reason"),
    )
