"""Read views of incidents and tickets for the CLI (and later the web console).

Nothing here writes. Views are frozen dataclasses with an `as_dict()` that is
ready for JSON. `list_tickets` returns the support queue in the order seed 003
asks for: active tickets first, earliest first-response deadline first, then
first in, first out; finished tickets after them, newest first. It is read a
page at a time by keyset (`ticket_page`, `alerts.ticket_pages`).

A ticket's `sla` is derived, not stored: "met" (answered in time), "breached",
"due" (the clock still runs) or "n/a" (finished without an answer, in time).
The due time it is judged against is the stored deadline moved past the
integration's maintenance windows, as the SLA sweep judges it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, select

from alerts import attachments, tickets
from alerts.attachments import AttachmentView
from alerts.errors import InvalidTicketInput
from alerts.escalation import IncidentNotFound
from alerts.models import (
    Incident,
    PlatformOutage,
    Ticket,
    TicketComment,
    TicketHistory,
)
from alerts.policy import Policy
from alerts.sweep import effective_due
from alerts.ticket_pages import TicketFilter, decode_cursor, encode_cursor, page_rows
from alerts.tickets import ACTIVE, ticket_number
from core.db import table_of, utcnow
from core.outbox import OutboxMessage
from integrations.contracts import change_evidence
from integrations.maintenance import windows_by_integration
from integrations.windows import MaintenanceWindow

INC = table_of(Incident)
C = table_of(TicketComment)
H = table_of(TicketHistory)

INCIDENT_STATES = ("open", "resolved")
ACTIVE_STATUSES = tuple(s.value for s in tickets.ACTIVE)
SLA_STATES = ("met", "breached", "due", "n/a")


def _json(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}


def _flat(view: Any) -> dict[str, Any]:
    """A view of plain fields, ready for JSON. Not `asdict()`: it deep-copies every
    value, which was most of the time of serving a page of tickets."""
    return _json({field.name: getattr(view, field.name) for field in fields(view)})


@dataclass(frozen=True, slots=True)
class IncidentView:
    id: int
    integration_id: str
    family: str
    state: str
    opened_at: datetime
    resolved_at: datetime | None
    first_seen: datetime
    last_seen: datetime
    failures: int
    last_outcome: str
    flapping: bool
    reopened: int
    ticket: str | None  # the linked ticket's number
    # Auth and contract incidents: how the failing answer differs from the
    # check's learned contract, one line per change, and when it last passed.
    contract_changes: tuple[str, ...] = ()
    last_passing_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return _flat(self)


@dataclass(frozen=True, slots=True)
class TicketView:
    id: int
    number: str
    origin: str
    client: str
    integration_id: str | None
    family: str | None
    section: str
    subtype: str | None
    topic: str
    status: str
    tier: str
    created_at: datetime
    updated_at: datetime
    first_response_due_at: datetime
    # The deadline with the integration's maintenance time not counted.
    sla_due_at: datetime
    first_responded_at: datetime | None
    sla_breached_at: datetime | None
    closed_at: datetime | None
    close_reason: str | None
    sla: str  # met | breached | due | n/a

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def as_dict(self) -> dict[str, Any]:
        return _flat(self)


@dataclass(frozen=True, slots=True)
class CommentView:
    id: int
    author_kind: str
    author: str
    visibility: str
    body: str
    created_at: datetime
    # A system comment's news as a key and values (tickets.comment); None otherwise.
    message: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return _flat(self)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    actor_kind: str
    actor: str
    action: str
    old: str | None
    new: str | None
    via: str | None = None  # "email": the change came in by e-mail

    def as_dict(self) -> dict[str, Any]:
        return _flat(self)


@dataclass(frozen=True, slots=True)
class TicketDetail:
    ticket: TicketView
    form: dict[str, Any]
    comments: list[CommentView]
    history: list[HistoryEntry]
    incidents: list[IncidentView]
    # Seed 001's form (alerts.ticket_forms): the category and topic chosen and the
    # topic's fields as filled; None and {} for a ticket filed without one.
    category: str | None = None
    topic_id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    attachments: list[AttachmentView] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.ticket.as_dict(),
            "form": self.form,
            "category": self.category,
            "topic_id": self.topic_id,
            "fields": self.fields,
            "attachments": [a.as_dict() for a in self.attachments],
            "comments": [c.as_dict() for c in self.comments],
            "history": [h.as_dict() for h in self.history],
            "incidents": [i.as_dict() for i in self.incidents],
        }


# --- incidents ----------------------------------------------------------------------


def list_incidents(
    engine: Engine,
    *,
    state: str | None = None,
    integration_id: str | None = None,
    limit: int = 100,
) -> list[IncidentView]:
    """Incidents, newest first."""
    if state is not None and state not in INCIDENT_STATES:
        raise InvalidTicketInput(
            "state", f"unknown incident state {state!r}; one of {', '.join(INCIDENT_STATES)}"
        )
    query = select(INC).order_by(INC.c.opened_at.desc(), INC.c.id.desc()).limit(_limit(limit))
    if state is not None:
        query = query.where(INC.c.state == state)
    if integration_id is not None:
        query = query.where(INC.c.integration_id == integration_id)
    with engine.connect() as connection:
        return [_incident(row) for row in connection.execute(query)]


def incident_detail(engine: Engine, incident_id: int) -> IncidentView:
    """One incident; IncidentNotFound if there is none with that id."""
    with engine.connect() as connection:
        row = connection.execute(select(INC).where(INC.c.id == incident_id)).first()
    if row is None:
        raise IncidentNotFound(incident_id)
    return _incident(row)


def _incident(row: Row[Any]) -> IncidentView:
    evidence = change_evidence(row)
    return IncidentView(
        id=int(row.id),
        integration_id=str(row.integration_id),
        family=str(row.family),
        state=str(row.state),
        opened_at=row.opened_at,
        resolved_at=row.resolved_at,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        failures=int(row.failures),
        last_outcome=str(row.last_outcome),
        flapping=bool(row.flapping),
        reopened=int(row.reopened),
        ticket=ticket_number(row.ticket_id) if row.ticket_id is not None else None,
        contract_changes=tuple(c.text for c in evidence.changes) if evidence else (),
        last_passing_at=evidence.last_passing_at if evidence else None,
    )


# --- tickets ------------------------------------------------------------------------


def list_tickets(
    engine: Engine,
    *,
    status: str | None = None,
    client: str | None = None,
    integration_id: str | None = None,
    section: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: int = 200,
    cursor: str | None = None,
    policy: Policy | None = None,
    now: datetime | None = None,
    order: str = "due",
) -> list[TicketView]:
    """Tickets in queue order (`order`: "due" or "arrival" for the active ones);
    `created_from <= created_at < created_to` when given.

    One page of `ticket_page`: with `cursor`, the page after the one that returned it."""
    filters = TicketFilter(status, section, client, integration_id, created_from, created_to, order)
    return ticket_page(engine, filters, limit=limit, cursor=cursor, policy=policy, now=now).items


@dataclass(frozen=True, slots=True)
class TicketPage:
    items: list[TicketView]
    next_cursor: str | None  # None on the last page


def ticket_page(
    engine: Engine,
    filters: TicketFilter,
    *,
    limit: int = 200,
    cursor: str | None = None,
    policy: Policy | None = None,
    now: datetime | None = None,
) -> TicketPage:
    """One page of the queue by keyset (`alerts.ticket_pages`); a bad cursor raises
    InvalidTicketInput naming `cursor`."""
    after = decode_cursor(cursor) if cursor is not None else None
    with engine.connect() as connection:
        rows, position = page_rows(connection, filters, limit=limit, after=after)
        views = _ticket_views(connection, rows, policy or Policy(), now or utcnow())
    return TicketPage(views, encode_cursor(position) if position is not None else None)


def ticket_detail(
    engine: Engine,
    reference: str | int,
    *,
    include_internal: bool = True,
    policy: Policy | None = None,
    now: datetime | None = None,
) -> TicketDetail:
    """One ticket with its form, comments, history and incidents; TicketNotFound if none.

    Without `include_internal` it is what the client sees: internal comments
    and the history entries that record them are left out.
    """
    with engine.connect() as connection:
        row = tickets.load(connection, reference)
        (view,) = _ticket_views(connection, [row], policy or Policy(), now or utcnow())
        comment_query = select(C).where(C.c.ticket_id == row.id).order_by(C.c.id)
        history_query = select(H).where(H.c.ticket_id == row.id).order_by(H.c.id)
        if not include_internal:
            comment_query = comment_query.where(C.c.visibility == "public")
            history_query = history_query.where(H.c.action != "comment_internal")
        comments = [
            CommentView(
                id=int(c.id),
                author_kind=str(c.author_kind),
                author=str(c.author),
                visibility=str(c.visibility),
                body=str(c.body),
                created_at=c.created_at,
                message=c.message,
            )
            for c in connection.execute(comment_query)
        ]
        history = [
            HistoryEntry(
                at=h.at,
                actor_kind=str(h.actor_kind),
                actor=str(h.actor),
                action=str(h.action),
                old=h.old,
                new=h.new,
                via=h.via,
            )
            for h in connection.execute(history_query)
        ]
        incidents = [
            _incident(i)
            for i in connection.execute(
                select(INC).where(INC.c.ticket_id == row.id).order_by(INC.c.opened_at, INC.c.id)
            )
        ]
        files = attachments.listed(connection, int(row.id), include_internal=include_internal)
    return TicketDetail(
        view,
        dict(row.form or {}),
        comments,
        history,
        incidents,
        category=row.category,
        topic_id=row.topic_id,
        fields=dict(row.fields or {}),
        attachments=files,
    )


def _ticket_views(
    connection: Connection, rows: Sequence[Row[Any]], policy: Policy, now: datetime
) -> list[TicketView]:
    windows = windows_by_integration(
        connection, sorted({r.integration_id for r in rows if r.integration_id})
    )
    return [_ticket(row, policy, windows, now) for row in rows]


def _ticket(
    row: Row[Any], policy: Policy, windows: dict[str, list[MaintenanceWindow]], now: datetime
) -> TicketView:
    due = effective_due(row, policy, windows)
    return TicketView(
        id=int(row.id),
        number=ticket_number(row.id),
        origin=str(row.origin),
        client=str(row.client),
        integration_id=row.integration_id,
        family=row.family,
        section=str(row.section),
        subtype=row.subtype,
        topic=str(row.topic),
        status=str(row.status),
        tier=str(row.tier),
        created_at=row.created_at,
        updated_at=row.updated_at,
        first_response_due_at=row.first_response_due_at,
        sla_due_at=due,
        first_responded_at=row.first_responded_at,
        sla_breached_at=row.sla_breached_at,
        closed_at=row.closed_at,
        close_reason=row.close_reason,
        sla=sla_state(row, due, now),
    )


def sla_state(row: Any, due: datetime, now: datetime) -> str:
    """The first-response SLA of one ticket as of `now`, judged against `due`."""
    if row.sla_breached_at is not None:
        return "breached"
    if row.first_responded_at is not None:
        return "met" if row.first_responded_at <= due else "breached"
    if row.status in ACTIVE_STATUSES:
        # Between two sweeps a deadline can pass before it is recorded.
        return "breached" if now >= due else "due"
    return "n/a"


def _limit(limit: int) -> int:
    if limit < 1:
        raise InvalidTicketInput("limit", "must be at least 1")
    return limit


@dataclass(frozen=True)
class AlertCounts:
    """What the metrics endpoint exports about the alerts stage (read at scrape time)."""

    open_incidents: dict[tuple[str, str], int]  # (family, flapping "true"/"false") → count
    tickets: dict[str, int]  # status → count
    sla_breached_active: int
    outbox_pending: dict[str, int]  # target → count
    outbox_dead: dict[str, int]
    platform_outage: int = 0  # 1 while intmon's own network is failing (an open outage)


def alert_counts(engine: Engine) -> AlertCounts:
    incident = table_of(Incident)
    ticket = table_of(Ticket)
    box = table_of(OutboxMessage)
    with engine.connect() as connection:
        incidents = connection.execute(
            select(incident.c.family, incident.c.flapping, func.count())
            .where(incident.c.state == "open")
            .group_by(incident.c.family, incident.c.flapping)
        ).all()
        statuses = connection.execute(
            select(ticket.c.status, func.count()).group_by(ticket.c.status)
        ).all()
        breached = connection.execute(
            select(func.count()).where(
                ticket.c.sla_breached_at.is_not(None),
                ticket.c.status.in_([s.value for s in ACTIVE]),
            )
        ).scalar_one()
        outbox_rows = connection.execute(
            select(box.c.target, box.c.dead_at.is_not(None), func.count())
            .where(box.c.sent_at.is_(None))
            .group_by(box.c.target, box.c.dead_at.is_not(None))
        ).all()
        outages = connection.execute(
            select(func.count()).where(table_of(PlatformOutage).c.state == "open")
        ).scalar_one()
    return AlertCounts(
        open_incidents={
            (str(family), "true" if flapping else "false"): int(count)
            for family, flapping, count in incidents
        },
        tickets={str(status): int(count) for status, count in statuses},
        sla_breached_active=int(breached),
        outbox_pending={str(t): int(n) for t, dead, n in outbox_rows if not dead},
        outbox_dead={str(t): int(n) for t, dead, n in outbox_rows if dead},
        platform_outage=min(int(outages), 1),
    )
