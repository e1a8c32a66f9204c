"""Tickets opened by hand (a client or support, through the CLI or the API), as
`incident_tickets` opens them for incidents: the integration, if named, must be
registered and the client's, and its tier gives the SLA unless one is set.

Seed 001: a ticket filed through a form names its category and topic; the
category gives the section (and the topic the subtype), and the topic's fields
are checked here, every problem at once (`InvalidFormFields`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from alerts import tickets
from alerts.errors import InvalidFormFields, InvalidTicketInput
from alerts.models import Ticket
from alerts.policy import Policy
from alerts.ticket_forms import TicketFormsConfig, check_values
from alerts.tickets import ACTIVE, Actor
from integrations.models import Integration

# Seed 003: "duplicate requests slow everything down". A ticket like an active one
# of the same client (same integration and section) opened this recently is
# probably the same request.
DUPLICATE_WINDOW = timedelta(hours=24)


def file(
    connection: Connection,
    *,
    client: str | None,
    integration_id: str | None,
    section: str,
    subtype: str | None,
    topic: str,
    body: str,
    actor: Actor,
    now: datetime,
    policy: Policy,
    tier: str | None = None,
    sees: Callable[[str], bool] = lambda client: True,
    form: FilledForm | None = None,
) -> int:
    """Open the ticket; returns its id. `sees` hides integrations the caller may
    not know of (they read as unregistered). InvalidTicketInput names the field.
    With a `form`, its category files the ticket (`section` may be left empty)."""
    fields: dict[str, str] | None = None
    if form is not None:
        section, subtype, fields = form.resolve(section, subtype)
    owner, own_tier = _integration(connection, integration_id, sees)
    client = client or owner
    if client is None:
        raise InvalidTicketInput("client", "required when no integration is given")
    if owner is not None and owner != client:
        raise InvalidTicketInput(
            "client", f"integration {integration_id!r} belongs to client {owner!r}"
        )
    filed = {"account": client, "description": body}
    if integration_id is not None:
        filed["integration_id"] = integration_id
    return tickets.create(
        connection,
        client=client,
        tier=tier or own_tier,
        section=section,
        subtype=subtype,
        topic=topic,
        form=filed,
        now=now,
        policy=policy,
        actor=actor,
        integration_id=integration_id,
        category=None if form is None else form.category,
        topic_id=None if form is None else form.topic_id,
        fields=fields,
    )


@dataclass(frozen=True, slots=True)
class FilledForm:
    """Seed 001's choice and values as sent, and the forms they are checked against."""

    forms: TicketFormsConfig
    category: str
    topic_id: str | None
    values: dict[str, Any]

    def resolve(self, section: str, subtype: str | None) -> tuple[str, str | None, dict[str, str]]:
        """(section, subtype, the values to store); InvalidTicketInput naming the field."""
        category = self.forms.category(self.category)
        if category is None:
            known = ", ".join(c.id for c in self.forms.categories)
            raise InvalidTicketInput(
                "category", f"unknown category {self.category!r}; one of {known}"
            )
        topics = ", ".join(t.id for t in category.topics)
        if not self.topic_id:
            raise InvalidTicketInput(
                "topic_id", f"a topic of {category.id} is required: one of {topics}"
            )
        topic = category.topic(self.topic_id)
        if topic is None:
            raise InvalidTicketInput(
                "topic_id", f"unknown topic {self.topic_id!r}; one of {topics}"
            )
        if section and section != category.section:
            raise InvalidTicketInput(
                "section", f"category {category.id} files tickets in section {category.section}"
            )
        if subtype and subtype != topic.subtype:
            raise InvalidTicketInput(
                "subtype", f"topic {topic.id} files tickets as {topic.subtype}"
            )
        clean, problems = check_values(topic, self.values)
        if problems:
            raise InvalidFormFields(problems)
        return category.section, topic.subtype, clean


def _integration(
    connection: Connection, integration_id: str | None, sees: Callable[[str], bool]
) -> tuple[str | None, str]:
    """(client, tier) of the ticket's integration; (None, standard) without one."""
    if integration_id is None:
        return None, "standard"
    row = connection.execute(
        select(Integration.client, Integration.tier).where(
            Integration.id == integration_id, Integration.removed_at.is_(None)
        )
    ).first()
    if row is None or not sees(row.client):
        raise InvalidTicketInput("integration", f"integration {integration_id!r} is not registered")
    return str(row.client), str(row.tier)


def similar_active(
    connection: Connection,
    *,
    client: str,
    integration_id: str | None,
    section: str,
    now: datetime,
    within: timedelta = DUPLICATE_WINDOW,
) -> int | None:
    """The newest active ticket of `client` for the same integration (or none) and
    section, opened within `within` before `now` (by hand or by monitoring): the
    ticket a new one would duplicate. None when there is none."""
    same_integration = (
        Ticket.integration_id.is_(None)
        if integration_id is None
        else Ticket.integration_id == integration_id
    )
    found = connection.execute(
        select(Ticket.id)
        .where(
            Ticket.client == client,
            same_integration,
            Ticket.section == section,
            Ticket.status.in_([status.value for status in ACTIVE]),
            Ticket.created_at >= now - within,
        )
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return None if found is None else int(found)
