"""Queueing notifications: who hears about an event, on which channel, and when.

Called inside the transaction of the event itself (an incident opening, a ticket
comment, an SLA breach), so a notification exists exactly when its cause was
committed. Each delivery becomes an outbox row with target `notify:<channel>`,
held until the contact's support hours open when the event is not an emergency
(`available_at`); `alerts.deliver` sends them.

Contacts come from the applied configuration: the client's own (`clients:` in the
file) and the integration's (`contacts:` in its spec). Incident events reach
contacts only for integrations in production monitoring (`production: true`);
ticket mail goes to the client's contacts for every ticket.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Connection, select

from alerts import documents
from alerts.contacts import (
    TICKET_EVENTS,
    ContactSpec,
    NotificationsConfig,
    Role,
    RoutingRule,
)
from alerts.families import is_internal
from alerts.routing import Delivery, route
from core import outbox
from core.db import table_of
from integrations.models import Integration

INTEGRATIONS = table_of(Integration)
TARGET_PREFIX = "notify:"

# Ticket mail (seed 001: comment notifications go to the account's e-mail) goes
# to the client's contacts in these roles.
TICKET_ROLES: tuple[Role, ...] = ("technical_non_emergency", "operational_public", "alert")
TICKET_RULE = RoutingRule(event="*", roles=list(TICKET_ROLES))

# Platform-side incidents (alerts.families.INTERNAL_FAMILIES) go to this role only,
# whatever the routing table says: seed 002's operational contact "for the platform".
INTERNAL_ROLE: Role = "operational_internal"
INTERNAL_RULE = RoutingRule(event="*", roles=[INTERNAL_ROLE])

# Set while past results are backfilled: last week's outage must not page anyone now.
_muted: ContextVar[bool] = ContextVar("intmon_notifications_muted", default=False)


@contextmanager
def muted() -> Iterator[None]:
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


_contacts: TypeAdapter[list[ContactSpec]] = TypeAdapter(list[ContactSpec])


def notifications_config(connection: Connection) -> NotificationsConfig:
    document = documents.read(connection, documents.NOTIFICATIONS)
    return NotificationsConfig.model_validate(document or {})


def client_contacts(connection: Connection, client: str) -> list[ContactSpec]:
    clients = documents.read(connection, documents.CLIENTS) or {}
    return _contacts.validate_python((clients.get(client) or {}).get("contacts", []))


def integration_contacts(
    connection: Connection, integration_id: str
) -> tuple[bool, list[ContactSpec]]:
    """(in production monitoring, its contacts)."""
    spec = connection.execute(
        select(INTEGRATIONS.c.spec).where(INTEGRATIONS.c.id == integration_id)
    ).scalar_one_or_none()
    if spec is None:
        return False, []
    return bool(spec.get("production")), _contacts.validate_python(spec.get("contacts") or [])


def queue(
    connection: Connection,
    event: str,
    *,
    client: str,
    integration_id: str | None,
    tier: str,
    family: str | None,
    context: dict[str, Any],
    now: datetime,
    level: int = 1,
) -> list[Delivery]:
    """Route `event` and write one outbox row per delivery; returns the deliveries
    (none while `muted`)."""
    if _muted.get():
        return []
    config = notifications_config(connection)
    if event in TICKET_EVENTS:
        contacts = [
            c for c in client_contacts(connection, client) if set(c.roles) & set(TICKET_ROLES)
        ]
        deliveries = route(
            event, family=None, tier=tier, contacts=contacts, rules=[TICKET_RULE], now=now
        )
    else:
        production, own = (
            integration_contacts(connection, integration_id) if integration_id else (False, [])
        )
        if integration_id is not None and not production:
            return []
        contacts = own + client_contacts(connection, client)
        rules = config.routing
        if is_internal(family):
            # intmon's own problem: its operators hear of it, the partner and client don't.
            contacts = [c for c in contacts if INTERNAL_ROLE in c.roles]
            rules = [INTERNAL_RULE]
        deliveries = route(
            event,
            family=family,
            tier=tier,
            contacts=contacts,
            rules=rules,
            now=now,
            level=level,
        )
    for delivery in deliveries:
        outbox.enqueue(
            connection,
            target=TARGET_PREFIX + delivery.channel,
            kind=event,
            # Unique per row: a held non-emergency must not block an emergency
            # to the same person (the outbox sends one aggregate in order).
            aggregate=f"notice:{outbox.new_key()}",
            payload={
                "recipient": _recipient(delivery.contact),
                "event": event,
                "context": context,
                "reason": delivery.reason,
                # Skips the recipient's digest window (alerts.deliver).
                "immediate": delivery.immediate,
            },
            now=now,
            available_at=delivery.send_at,
        )
    return deliveries


def _recipient(contact: ContactSpec) -> dict[str, Any]:
    data = contact.model_dump(mode="json")
    return {
        "name": data["name"],
        "email": data.get("email"),
        "webhook_url": data.get("webhook_url"),
        "slack_webhook_url": data.get("slack_webhook_url"),  # a ${ENV} reference
        "telegram_chat": data.get("telegram_chat"),
        "locale": data.get("locale", "en"),
        "timezone": (data.get("hours") or {}).get("timezone"),
    }


# The outbox payload's recipient, for callers that route on their own (platform outages).
recipient = _recipient
