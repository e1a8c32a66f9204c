"""Mirroring tickets to external systems through the outbox, and syncing changes back.

`dispatch` sends leased outbox messages with the configured sinks; the first
successful `create` stores the external id, later comments and transitions use
it. `sync_back` polls each sink for the status and foreign comments of mirrored
tickets and applies them as support actions; `apply_external` does the same for
a sink that calls back (the webhook). The database stays the source of truth.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Connection, Engine, insert, select, update

from alerts import documents, tickets
from alerts.errors import AlertsError
from alerts.models import ExternalRef, Ticket, TicketComment
from alerts.policy import Policy
from alerts.sinks import (
    CommentSnapshot,
    ExternalState,
    SinkConfig,
    SinkError,
    TicketSink,
    TicketSnapshot,
    build_sink,
)
from alerts.tickets import Actor, ticket_number
from core import outbox
from core.db import table_of
from integrations.results import storable

# What an external system sends back is stored as a comment: held to the columns
# (and the API's own limit on a comment), NUL replaced, so one odd comment from
# Jira or Zendesk cannot fail the whole sync-back on PostgreSQL.
BODY_MAX = 64 * 1024
AUTHOR_MAX = 200
REF_MAX = 200

log = logging.getLogger(__name__)

T = table_of(Ticket)
C = table_of(TicketComment)
REF = table_of(ExternalRef)

# A Jira transition is three requests, each retried once: well over a minute
# in the worst case with a 10 s timeout. The lease must outlast one send.
LEASE_S = 300.0
_sink_configs: TypeAdapter[list[SinkConfig]] = TypeAdapter(list[SinkConfig])


# --- configuration -----------------------------------------------------------------


def sink_document(sinks: Sequence[SinkConfig]) -> list[dict[str, Any]]:
    return [sink.model_dump(mode="json") for sink in sinks]


def load_sinks(engine: Engine) -> list[SinkConfig]:
    return _sink_configs.validate_python(documents.load(engine, documents.SINKS) or [])


def open_sinks(engine: Engine) -> dict[str, TicketSink]:
    return {config.name: build_sink(config) for config in load_sinks(engine)}


# --- snapshots ------------------------------------------------------------------------


def snapshot(connection: Connection, ticket_id: int, policy: Policy) -> TicketSnapshot:
    row = tickets.load(connection, ticket_id)
    url = (
        f"{policy.public_url.rstrip('/')}/tickets/{ticket_number(row.id)}"
        if policy.public_url
        else None
    )
    return TicketSnapshot(
        number=ticket_number(row.id),
        client=row.client,
        integration_id=row.integration_id,
        section=row.section,
        subtype=row.subtype,
        topic=row.topic,
        status=row.status,
        family=row.family,
        form=row.form,
        created_at=row.created_at,
        url=url,
    )


def _comment(connection: Connection, comment_id: int) -> CommentSnapshot:
    row = connection.execute(select(C).where(C.c.id == comment_id)).one()
    return CommentSnapshot(
        id=row.id,
        author_kind=row.author_kind,
        body=row.body,
        visibility=row.visibility,
        created_at=row.created_at,
    )


def is_mirrored(engine: Engine, sink: str, ticket: int | str) -> bool:
    """Whether `ticket` was created in `sink`: a sink's callback may change only
    the tickets that were mirrored to it."""
    ticket_id = tickets.parse_number(ticket)
    with engine.connect() as connection:
        return _external_id(connection, ticket_id, sink) is not None


def _external_id(connection: Connection, ticket_id: int, sink: str) -> str | None:
    value = connection.execute(
        select(REF.c.external_id).where(REF.c.ticket_id == ticket_id, REF.c.sink == sink)
    ).scalar_one_or_none()
    return None if value is None else str(value)


# --- dispatch -------------------------------------------------------------------------


def dispatch(
    engine: Engine,
    sinks: Mapping[str, TicketSink],
    policy: Policy,
    now: datetime,
    *,
    limit: int = 50,
    rounds: int = 20,
) -> outbox.DispatchReport:
    """Send what is due for `sinks`; returns what happened.

    Claims in rounds: a ticket's next message becomes sendable only once the
    one before it went out, so one round sends at most one per ticket.
    """
    report = outbox.DispatchReport()
    for _ in range(rounds):
        claimed = outbox.claim(engine, list(sinks), now, limit=limit, lease_s=LEASE_S)
        if not claimed:
            break
        for message in claimed:
            _attempt(engine, sinks[message.target], message, policy, now, report)
    return report


def _attempt(
    engine: Engine,
    sink: TicketSink,
    message: outbox.Claimed,
    policy: Policy,
    now: datetime,
    report: outbox.DispatchReport,
) -> None:
    try:
        _send(engine, sink, message, policy, now)
    except SinkError as error:
        dead = outbox.mark_failed(
            engine,
            message,
            now,
            str(error),
            permanent=error.permanent,
            wait=timedelta(seconds=error.retry_after_s or 0),
        )
        report.dead += dead
        report.retried += not dead
        report.errors.append(f"{message.target} {message.kind}: {error}")
        log.warning("ticket sink %s: %s (%s)", message.target, error, message.kind)
        return
    outbox.mark_sent(engine, message, now)
    report.sent += 1


def _send(
    engine: Engine, sink: TicketSink, message: outbox.Claimed, policy: Policy, now: datetime
) -> None:
    ticket_id = int(message.payload["ticket_id"])
    with engine.connect() as connection:
        ticket = snapshot(connection, ticket_id, policy)
        external_id = _external_id(connection, ticket_id, message.target)
        comment = (
            _comment(connection, int(message.payload["comment_id"]))
            if message.kind == "ticket.commented"
            else None
        )
    key = message.idempotency_key
    if message.kind == "ticket.created":
        if external_id is None:
            created = sink.create(ticket, key)
            with engine.begin() as connection:
                connection.execute(
                    insert(REF).values(
                        ticket_id=ticket_id, sink=message.target, external_id=created, synced_at=now
                    )
                )
        return
    if external_id is None:
        # Messages of one ticket go out in order, so the create failed for good.
        raise SinkError(f"{ticket.number} was never created in {message.target}", permanent=True)
    if comment is not None:
        sink.comment(external_id, ticket, comment, key)
    elif message.kind == "ticket.status_changed":
        sink.transition(external_id, ticket, str(message.payload["status"]), key)
    else:
        raise SinkError(f"unknown outbox message kind {message.kind!r}", permanent=True)


# --- sync-back ------------------------------------------------------------------------


@dataclass
class SyncReport:
    status_changes: list[str] = field(default_factory=list)
    comments: int = 0
    errors: list[str] = field(default_factory=list)


def sync_back(
    engine: Engine, sinks: Mapping[str, TicketSink], policy: Policy, now: datetime
) -> SyncReport:
    """Poll every sink for its mirrored, still active tickets."""
    report = SyncReport()
    with engine.connect() as connection:
        refs = connection.execute(
            select(REF.c.ticket_id, REF.c.sink, REF.c.external_id)
            .join(T, T.c.id == REF.c.ticket_id)
            .where(
                REF.c.sink.in_(list(sinks)),
                T.c.status.in_([s.value for s in tickets.ACTIVE]),
            )
        ).all()
    for ticket_id, sink_name, external_id in refs:
        try:
            state = sinks[sink_name].fetch(external_id)
        except SinkError as error:
            report.errors.append(f"{sink_name} {external_id}: {error}")
            continue
        if state is not None:
            status_map = getattr(getattr(sinks[sink_name], "config", None), "status_map", None)
            _merge(
                apply_external(engine, sink_name, ticket_id, state, policy, now, status_map),
                report,
            )
    return report


def apply_external(
    engine: Engine,
    sink_name: str,
    ticket: int | str,
    state: ExternalState,
    policy: Policy,
    now: datetime,
    status_map: Mapping[str, str] | None = None,
) -> SyncReport:
    """Bring one external ticket's comments and status into intmon, once each.

    With the sink's `status_map`, an external status that several of ours map
    to (Zendesk "open" is our open and in_progress) changes nothing."""
    report = SyncReport()
    actor = Actor("support", sink_name)
    with engine.begin() as connection:
        row = tickets.load(connection, ticket, lock=True)
        known = set(
            connection.execute(
                select(C.c.external_ref).where(
                    C.c.ticket_id == row.id, C.c.external_ref.is_not(None)
                )
            ).scalars()
        )
        for comment in sorted(state.comments, key=lambda c: c.created_at):
            ref = _partner_text(f"{sink_name}:{comment.external_id}", REF_MAX)
            if ref in known:
                continue
            tickets.comment(
                connection,
                row.id,
                body=_partner_text(comment.body, BODY_MAX) or "(empty comment)",
                actor=Actor("support", _partner_text(comment.author, AUTHOR_MAX) or sink_name),
                now=now,
                visibility="public" if comment.public else "internal",
                external_ref=ref,
                source_sink=sink_name,
                policy=policy,
            )
            report.comments += 1
        current = tickets.load(connection, row.id).status
        same = status_map is not None and status_map.get(current) == status_map.get(
            state.status or ""
        )
        if state.status is not None and state.status != current and not same:
            try:
                tickets.set_status(
                    connection,
                    row.id,
                    state.status,
                    actor=actor,
                    now=now,
                    reason=f"changed in {sink_name}",
                    policy=policy,
                    source_sink=sink_name,
                )
                report.status_changes.append(f"{ticket_number(row.id)}: {current} → {state.status}")
            except AlertsError as error:
                # An external workflow may allow moves ours does not; ours wins.
                report.errors.append(f"{sink_name}: {error}")
        connection.execute(
            update(REF)
            .where(REF.c.ticket_id == row.id, REF.c.sink == sink_name)
            .values(synced_at=now)
        )
    return report


def _merge(part: SyncReport, into: SyncReport) -> None:
    into.status_changes += part.status_changes
    into.comments += part.comments
    into.errors += part.errors


def _partner_text(text: str | None, limit: int) -> str:
    if not text:
        return ""
    cleaned = storable(text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
