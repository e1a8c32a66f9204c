"""Tickets: the lifecycle of seed 004 (statuses, section rules), comments and history.

Every function takes the caller's connection and `now`, so that an incident and
its ticket (and the outbox rows announcing it) commit in one transaction, and
tests move the clock instead of sleeping. Each change writes one history row
and queues one outbox message per configured sink.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from alerts import announce, outbox_targets
from alerts.errors import InvalidTicketInput, InvalidTransition, TicketNotFound
from alerts.models import Ticket, TicketComment, TicketHistory
from alerts.policy import Policy
from core.db import table_of

T = table_of(Ticket)
C = table_of(TicketComment)
H = table_of(TicketHistory)


class Status(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_FOR_REPLY = "waiting_for_reply"
    CLOSED = "closed"
    REJECTED = "rejected"


ACTIVE = (Status.OPEN, Status.IN_PROGRESS, Status.WAITING_FOR_REPLY)

# Closed reopens (a returning failure, or support); rejected is final.
TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    Status.OPEN: (Status.IN_PROGRESS, Status.WAITING_FOR_REPLY, Status.CLOSED, Status.REJECTED),
    Status.IN_PROGRESS: (Status.WAITING_FOR_REPLY, Status.CLOSED, Status.REJECTED),
    Status.WAITING_FOR_REPLY: (Status.IN_PROGRESS, Status.CLOSED, Status.REJECTED),
    Status.CLOSED: (Status.OPEN,),
    Status.REJECTED: (),
}


class Section(enum.StrEnum):
    SYSTEM_ERRORS = "system_errors"
    APP_HELP = "app_help"
    DOCUMENTS_FINANCE = "documents_finance"


# Seed 004: only documents/finance has subtypes.
SUBTYPES: dict[Section, tuple[str, ...]] = {
    Section.DOCUMENTS_FINANCE: ("metric_billing", "other"),
}

AUTHOR_KINDS = ("system", "support", "client")
TIERS = ("social", "standard", "premium")
VISIBILITIES = ("public", "internal")


def ticket_number(ticket_id: int) -> str:
    return f"INC-{ticket_id:06d}"


_NUMBER = re.compile(r"^(?:INC-)?0*(\d+)$", re.IGNORECASE)


def parse_number(reference: str | int) -> int:
    """`INC-000042`, `42` or 42 → 42; anything else is TicketNotFound."""
    if isinstance(reference, int):
        return reference
    match = _NUMBER.match(reference.strip())
    # Ids are 64-bit: a longer number cannot name a ticket (and no database takes it).
    if not match or len(match.group(1)) > 18:
        raise TicketNotFound(str(reference))
    return int(match.group(1))


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str  # system | support | client
    name: str

    def __post_init__(self) -> None:
        if self.kind not in AUTHOR_KINDS:
            raise InvalidTicketInput("author_kind", f"must be one of {', '.join(AUTHOR_KINDS)}")


SYSTEM = Actor("system", "intmon")


# --- reading ----------------------------------------------------------------------


def load(connection: Connection, reference: str | int, *, lock: bool = False) -> Row[Any]:
    ticket_id = parse_number(reference)
    query = select(T).where(T.c.id == ticket_id)
    if lock and connection.dialect.name == "postgresql":
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None:
        raise TicketNotFound(ticket_number(ticket_id) if ticket_id else str(reference))
    return row


# --- writing ----------------------------------------------------------------------


def create(
    connection: Connection,
    *,
    client: str,
    tier: str,
    section: str,
    topic: str,
    form: dict[str, Any],
    now: datetime,
    policy: Policy,
    actor: Actor,
    subtype: str | None = None,
    integration_id: str | None = None,
    family: str | None = None,
    origin: str = "manual",
    category: str | None = None,
    topic_id: str | None = None,
    fields: dict[str, Any] | None = None,
) -> int:
    """Open a ticket; returns its id. Raises InvalidTicketInput naming the field.
    `category`, `topic_id` and `fields`: seed 001's form, checked by the caller
    (alerts.manual_tickets)."""
    section, subtype = _valid_section(section, subtype)
    if tier not in TIERS:
        # A typo would silently get the standard SLA instead of premium's.
        raise InvalidTicketInput("tier", f"unknown tier {tier!r}; one of {', '.join(TIERS)}")
    if not topic.strip():
        raise InvalidTicketInput("topic", "must not be empty")
    # Seed 003: the social tariff is supported for system errors only.
    if tier == "social" and section != Section.SYSTEM_ERRORS:
        raise InvalidTicketInput(
            "section", "the social tier is supported for system_errors only (seed 003)"
        )
    ticket_id = connection.execute(
        insert(T)
        .values(
            origin=origin,
            client=client,
            integration_id=integration_id,
            family=family,
            tier=tier,
            section=section,
            subtype=subtype,
            topic=topic,
            status=Status.OPEN.value,
            form=form,
            category=category,
            topic_id=topic_id,
            fields=fields,
            created_at=now,
            updated_at=now,
            first_response_due_at=now + policy.sla(tier),
            reopened=0,
        )
        .returning(T.c.id)
    ).scalar_one()
    record(connection, ticket_id, now, actor, "created", None, Status.OPEN.value)
    outbox_targets.ticket_event(connection, ticket_id, "ticket.created", {}, now)
    announce.ticket_event(connection, load(connection, ticket_id), "ticket.opened", now)
    return int(ticket_id)


def comment(
    connection: Connection,
    reference: str | int,
    *,
    body: str,
    actor: Actor,
    now: datetime,
    visibility: str = "public",
    external_ref: str | None = None,
    source_sink: str | None = None,
    policy: Policy | None = None,
    awaiting_client: bool = True,
    message: dict[str, Any] | None = None,
    via: str | None = None,
) -> int:
    """Add a comment. A support comment is the first response (SLA); a client
    comment on a ticket waiting for them moves it back to in_progress. `via`
    ("email") is recorded in the history with the comment and the moves it causes.

    A public support answer on an open or in-progress ticket moves it on, so the
    client sees where it stands: to waiting_for_reply (seed 004 "нужна
    дополнительная информация от вас"; seed 001: unanswered for 2 days, it is
    closed), or to in_progress when support says it keeps working on it
    (`awaiting_client=False`). A comment mirrored from a sink leaves the status
    to the sink, whose own status the mirror applies.

    `message`: a system comment's news as {"key": ..., **values} (the body says it
    in English), so the console can say it in its reader's language."""
    if visibility not in VISIBILITIES:
        raise InvalidTicketInput("visibility", f"must be one of {', '.join(VISIBILITIES)}")
    if not body.strip():
        raise InvalidTicketInput("body", "must not be empty")
    if actor.kind == "client" and visibility != "public":
        raise InvalidTicketInput("visibility", "a client's comment is always public")
    ticket = load(connection, reference, lock=True)
    if ticket.status == Status.REJECTED:
        raise InvalidTicketInput("status", f"ticket {ticket_number(ticket.id)} is rejected")
    comment_id = connection.execute(
        insert(C)
        .values(
            ticket_id=ticket.id,
            author_kind=actor.kind,
            author=actor.name,
            visibility=visibility,
            body=body,
            created_at=now,
            external_ref=external_ref,
            message=message,
        )
        .returning(C.c.id)
    ).scalar_one()
    changes: dict[str, Any] = {"updated_at": now}
    if actor.kind == "support" and visibility == "public" and ticket.first_responded_at is None:
        changes["first_responded_at"] = now
    connection.execute(update(T).where(T.c.id == ticket.id).values(**changes))
    record(
        connection, ticket.id, now, actor, f"comment_{visibility}", None, str(comment_id), via=via
    )
    # A comment that came from a sink is not echoed back to it.
    outbox_targets.ticket_event(
        connection,
        ticket.id,
        "ticket.commented",
        {"comment_id": int(comment_id)},
        now,
        skip=source_sink,
    )
    answered = actor.kind == "support" and visibility == "public"
    moves_to = _after_answer(ticket, awaiting_client) if answered and not source_sink else None
    if answered:
        # Seed 001: the client hears of every support comment by e-mail; one mail,
        # which also says when an unanswered ticket closes.
        announce.ticket_event(
            connection,
            ticket,
            "ticket.commented",
            now,
            comment=body,
            author=actor.name,
            awaiting_reply=moves_to == Status.WAITING_FOR_REPLY
            or ticket.status == Status.WAITING_FOR_REPLY,
        )
    if moves_to is not None:
        set_status(
            connection, ticket.id, moves_to, actor=actor, now=now, announce_it=False, via=via
        )
    if actor.kind == "client" and ticket.status == Status.WAITING_FOR_REPLY:
        set_status(connection, ticket.id, Status.IN_PROGRESS, actor=actor, now=now, via=via)
    elif actor.kind == "client" and ticket.status == Status.CLOSED:
        # Seed 001: after an auto-close the client "can write to support to
        # refresh the request"; their reply reopens it.
        set_status(connection, ticket.id, Status.OPEN, actor=actor, now=now, policy=policy, via=via)
    return int(comment_id)


def set_status(
    connection: Connection,
    reference: str | int,
    status: str,
    *,
    actor: Actor,
    now: datetime,
    reason: str | None = None,
    policy: Policy | None = None,
    source_sink: str | None = None,
    via: str | None = None,
    announce_it: bool = True,
) -> None:
    """Move a ticket to `status` if the lifecycle allows it, else InvalidTransition.
    `announce_it=False` when the caller's own message already tells the client."""
    try:
        wanted = Status(status)
    except ValueError:
        raise InvalidTicketInput(
            "status", f"unknown status {status!r}; one of {', '.join(s.value for s in Status)}"
        ) from None
    ticket = load(connection, reference, lock=True)
    current = Status(ticket.status)
    if wanted == current:
        return
    if wanted not in TRANSITIONS[current]:
        raise InvalidTransition(
            ticket_number(ticket.id), current, wanted, [s.value for s in TRANSITIONS[current]]
        )
    changes: dict[str, Any] = {"status": wanted.value, "updated_at": now}
    if wanted == Status.WAITING_FOR_REPLY:
        changes["waiting_since"] = now
    if wanted in (Status.CLOSED, Status.REJECTED):
        changes["closed_at"] = now
        changes["close_reason"] = reason or f"{actor.kind}"
    if wanted == Status.OPEN:  # reopened: a new first-response clock
        changes.update(closed_at=None, close_reason=None, reopened=ticket.reopened + 1)
        if policy is not None:
            changes.update(
                first_response_due_at=now + policy.sla(ticket.tier),
                first_responded_at=None,
                sla_breached_at=None,
            )
    # Support taking the ticket in hand is a response too (seed 003: reaction time).
    if actor.kind == "support" and ticket.first_responded_at is None and wanted != Status.OPEN:
        changes["first_responded_at"] = now
    connection.execute(update(T).where(T.c.id == ticket.id).values(**changes))
    record(connection, ticket.id, now, actor, "status", current.value, wanted.value, via=via)
    if announce_it and wanted == Status.WAITING_FOR_REPLY:
        announce.ticket_event(connection, ticket, "ticket.waiting_for_reply", now)
    elif announce_it and wanted == Status.CLOSED:
        announce.ticket_event(
            connection, ticket, "ticket.closed", now, close_reason=changes["close_reason"]
        )
    outbox_targets.ticket_event(
        connection,
        ticket.id,
        "ticket.status_changed",
        {"status": wanted.value, "reason": reason},
        now,
        skip=source_sink,
    )


def set_section(
    connection: Connection,
    reference: str | int,
    section: str,
    *,
    actor: Actor,
    now: datetime,
    subtype: str | None = None,
    reason: str | None = None,
) -> None:
    """Seed 004: the section may change before work on the ticket starts. After
    that, support may still move it (by agreement with the specialist, issue 24),
    at any status but rejected, with a `reason`; the move is told in a comment."""
    section, subtype = _valid_section(section, subtype)
    ticket = load(connection, reference, lock=True)
    if ticket.status == Status.REJECTED:  # final: nothing about it changes
        raise InvalidTicketInput("status", f"ticket {ticket_number(ticket.id)} is rejected")
    started = ticket.status != Status.OPEN or ticket.first_responded_at is not None
    reason = (reason or "").strip() or None
    if started and actor.kind != "support":
        raise InvalidTicketInput(
            "section",
            f"ticket {ticket_number(ticket.id)} is already being worked on; "
            "the section can change only while it is open and unanswered",
        )
    if started and reason is None:
        raise InvalidTicketInput(
            "reason", "required to change the section once work on the ticket started"
        )
    # Seed 003 holds for a moved ticket too: create() alone would let a social
    # ticket be re-filed into a section its tier is not supported for.
    if ticket.tier == "social" and section != Section.SYSTEM_ERRORS:
        raise InvalidTicketInput(
            "section", "the social tier is supported for system_errors only (seed 003)"
        )
    old = f"{ticket.section}/{ticket.subtype}" if ticket.subtype else ticket.section
    new = f"{section}/{subtype}" if subtype else section
    if old == new:
        return
    connection.execute(
        update(T)
        .where(T.c.id == ticket.id)
        .values(section=section, subtype=subtype, updated_at=now)
    )
    record(connection, ticket.id, now, actor, "section", old, new)
    if reason is not None:
        # Said by the system, so it is not support's answer and moves no status.
        comment(
            connection,
            ticket.id,
            body=f"{actor.name} changed the question type from {old} to {new}: {reason}",
            actor=SYSTEM,
            now=now,
            message={"key": "section_changed", "old": old, "new": new, "reason": reason},
        )


def _after_answer(ticket: Row[Any], awaiting_client: bool) -> Status | None:
    """Where a support answer moves a ticket; None when it stays (already waiting,
    or finished: an answer on a closed ticket does not reopen it)."""
    if ticket.status not in (Status.OPEN, Status.IN_PROGRESS):
        return None
    wanted = Status.WAITING_FOR_REPLY if awaiting_client else Status.IN_PROGRESS
    return None if wanted == ticket.status else wanted


def _valid_section(section: str, subtype: str | None) -> tuple[str, str | None]:
    try:
        parsed = Section(section)
    except ValueError:
        raise InvalidTicketInput(
            "section", f"unknown section {section!r}; one of {', '.join(s.value for s in Section)}"
        ) from None
    allowed = SUBTYPES.get(parsed, ())
    if subtype is None and allowed:
        raise InvalidTicketInput("subtype", f"required for {parsed}: one of {', '.join(allowed)}")
    if subtype is not None and subtype not in allowed:
        hint = f"one of {', '.join(allowed)}" if allowed else f"{parsed} has no subtypes"
        raise InvalidTicketInput("subtype", f"unknown subtype {subtype!r}; {hint}")
    return parsed.value, subtype


def record(
    connection: Connection,
    ticket_id: int,
    now: datetime,
    actor: Actor,
    action: str,
    old: str | None,
    new: str | None,
    *,
    via: str | None = None,
) -> None:
    connection.execute(
        insert(H).values(
            ticket_id=ticket_id,
            at=now,
            actor_kind=actor.kind,
            actor=actor.name,
            action=action,
            old=old,
            new=new,
            via=via,
        )
    )
