"""The ticket side of an incident: open or reopen one, comment, close on recovery.

One ticket per (integration, family) while it is active (a partial unique
index); a failure that returns within the reopen window after the ticket
closed reopens that ticket rather than opening a second one (seed 003:
duplicates slow everyone down).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from alerts import announce, tickets
from alerts.families import FIRST_STEPS, TOPICS, Family, is_internal
from alerts.models import Incident, Ticket
from alerts.policy import Policy
from alerts.tickets import SYSTEM, Section, Status
from core.db import table_of
from integrations.config import IntegrationSpec

T = table_of(Ticket)
INC = table_of(Incident)


def on_opened(
    connection: Connection,
    incident: dict[str, Any],
    spec: IntegrationSpec,
    now: datetime,
    policy: Policy,
) -> tuple[int | None, bool]:
    """Link a new incident to its ticket; returns (ticket id, whether it is new).

    A platform-side incident gets no ticket: a client ticket would tell the client
    (and through it the partner) about a problem that is intmon's own. Its
    operators hear of it through `announce`, routed to them alone."""
    family = incident["family"]
    if is_internal(family):
        announce.incident_event(connection, incident, spec, "incident.opened", now)
        return None, False
    earlier = _earlier_ticket(connection, spec.id, family, now, policy)
    created = False
    if earlier is not None and earlier.status in tickets.ACTIVE:
        ticket_id = int(earlier.id)
        _say(
            connection,
            ticket_id,
            now,
            f"The failure is back: {_what(incident)}.{_changes_sentence(incident)}",
            {"key": "failure_back", "outcome": incident["last_outcome"]},
        )
    elif earlier is not None:
        ticket_id = int(earlier.id)
        _reopen(connection, ticket_id, incident, now, policy)
    else:
        ticket_id, created = _create(connection, incident, spec, now, policy)
    connection.execute(update(INC).where(INC.c.id == incident["id"]).values(ticket_id=ticket_id))
    announce.incident_event(
        connection, {**incident, "ticket_id": ticket_id}, spec, "incident.opened", now
    )
    return ticket_id, created


def on_reopened(
    connection: Connection,
    incident: dict[str, Any],
    spec: IntegrationSpec,
    now: datetime,
    policy: Policy,
    *,
    newly_flapping: bool,
) -> None:
    ticket_id = incident["ticket_id"]
    news = not incident["flapping"] or newly_flapping
    if ticket_id is None:
        if news and is_internal(incident["family"]):
            announce.incident_event(connection, incident, spec, "incident.opened", now)
        return
    ticket = tickets.load(connection, ticket_id)
    if news:
        # Once flapping, its returns are not news: the ticket says so once.
        announce.incident_event(connection, incident, spec, "incident.opened", now)
    if ticket.status == Status.REJECTED:
        return  # support decided it is not a problem; the incident still shows it
    if ticket.status == Status.CLOSED:
        _reopen(connection, ticket_id, incident, now, policy)
    if newly_flapping:
        _say(
            connection,
            ticket_id,
            now,
            f"The integration is flapping: the failure came back {incident['reopened']} times "
            f"within {policy.flap_window_s / 60:g} minutes of recovering. It stays one incident "
            "and resolves after a quiet period of the same length.",
            {
                "key": "flapping",
                "times": int(incident["reopened"]),
                "window_s": float(policy.flap_window_s),
            },
        )


def on_resolved(
    connection: Connection,
    incident: dict[str, Any],
    spec: IntegrationSpec,
    now: datetime,
    policy: Policy,
) -> None:
    announce.incident_event(
        connection, incident, spec, "incident.resolved", now, resolved_at=now.isoformat()
    )
    ticket_id = incident["ticket_id"]
    if ticket_id is None:
        return
    ticket = tickets.load(connection, ticket_id)
    if ticket.status not in tickets.ACTIVE:
        return
    lasted = now - incident["opened_at"]
    _say(
        connection,
        ticket_id,
        now,
        f"Recovered at {now:%Y-%m-%d %H:%M:%S} UTC: checks pass again after "
        f"{incident['failures']} failed results (incident open for {_duration(lasted)}).",
        {
            "key": "recovered",
            "at": now.isoformat(),
            "failures": int(incident["failures"]),
            "lasted_s": lasted.total_seconds(),
        },
    )
    untouched = ticket.status == Status.OPEN and ticket.first_responded_at is None
    if policy.auto_close_recovered and untouched:
        tickets.set_status(
            connection, ticket_id, Status.CLOSED, actor=SYSTEM, now=now, reason="recovered"
        )


# --- helpers ------------------------------------------------------------------------


def _active_ticket(connection: Connection, integration_id: str, family: str) -> Row[Any] | None:
    return connection.execute(
        select(T.c.id).where(
            T.c.origin == "incident",
            T.c.integration_id == integration_id,
            T.c.family == family,
            T.c.status.in_([s.value for s in tickets.ACTIVE]),
        )
    ).first()


def _earlier_ticket(
    connection: Connection, integration_id: str, family: str, now: datetime, policy: Policy
) -> Any:
    """The active automatic ticket for this problem, else the one closed within the
    reopen window (one query: an incident wave opens hundreds at once)."""
    active = [s.value for s in tickets.ACTIVE]
    return connection.execute(
        select(T.c.id, T.c.status)
        .where(
            T.c.origin == "incident",
            T.c.integration_id == integration_id,
            T.c.family == family,
            or_(
                T.c.status.in_(active),
                and_(
                    T.c.status == Status.CLOSED,
                    T.c.closed_at >= now - timedelta(seconds=policy.reopen_window_s),
                ),
            ),
        )
        .order_by(T.c.status.in_(active).desc(), T.c.closed_at.desc())
        .limit(1)
    ).first()


def _reopen(
    connection: Connection, ticket_id: int, incident: dict[str, Any], now: datetime, policy: Policy
) -> None:
    tickets.set_status(
        connection,
        ticket_id,
        Status.OPEN,
        actor=SYSTEM,
        now=now,
        reason="failure returned",
        policy=policy,
    )
    _say(
        connection,
        ticket_id,
        now,
        f"Reopened: the failure returned ({_what(incident)}).{_changes_sentence(incident)}",
        {"key": "reopened", "outcome": incident["last_outcome"]},
    )


def _create(
    connection: Connection,
    incident: dict[str, Any],
    spec: IntegrationSpec,
    now: datetime,
    policy: Policy,
) -> tuple[int, bool]:
    family = Family(incident["family"])
    try:
        with connection.begin_nested():
            ticket_id = tickets.create(
                connection,
                client=spec.client,
                tier=spec.tier.value,
                section=Section.SYSTEM_ERRORS,
                topic=TOPICS[family],
                form=form_of(incident, spec, policy),
                now=now,
                policy=policy,
                actor=SYSTEM,
                integration_id=spec.id,
                family=family.value,
                origin="incident",
            )
    except IntegrityError:
        # The unique index on active automatic tickets: someone else's incident
        # for the same problem already has one (it can only be a race).
        active = _active_ticket(connection, spec.id, family.value)
        if active is None:
            raise
        return int(active.id), False
    return ticket_id, True


def form_of(incident: dict[str, Any], spec: IntegrationSpec, policy: Policy) -> dict[str, Any]:
    """The ticket form of seed 001, filled in: everything support needs to reproduce it."""
    family = Family(incident["family"])
    evidence = incident["evidence"]
    response = evidence.get("response", {})
    history = {"cli": f"intmon status -i {spec.id} --history 50"}
    if policy.public_url:
        history["url"] = f"{policy.public_url.rstrip('/')}/integrations/{spec.id}"
    steps = [f"Run: {evidence['curl']}"] if evidence.get("curl") else []
    steps += [
        f"Expected: the check '{evidence.get('check')}' passes.",
        f"Observed: {incident['last_outcome']}"
        + (f" (HTTP {response.get('status')})" if response.get("status") else "")
        + (f": {incident['last_detail']}" if incident["last_detail"] else ""),
    ]
    form = {
        "account": spec.client,
        "integration_id": spec.id,
        "integration_name": spec.name,
        "failure_class": incident["last_outcome"],
        "family": family.value,
        "first_seen": incident["first_seen"].isoformat(),
        "last_seen": incident["last_seen"].isoformat(),
        "summary": f"{TOPICS[family]}: {incident['last_detail'] or incident['last_outcome']}",
        "request": evidence.get("request", {}),
        "response": response,
        "steps_to_reproduce": steps,
        "first_steps": FIRST_STEPS[family],
        "history": history,
        "incident_id": incident["id"],
    }
    changes = contract_changes(incident)
    if changes is not None:
        form["contract_changes"], form["last_passed_at"] = changes
    return form


def contract_changes(incident: dict[str, Any]) -> tuple[list[str], str | None] | None:
    """What changed in the failing answer since the check last passed (auth and
    contract incidents with a learned contract), and when it last passed; None
    when there was nothing to compare."""
    diff = incident.get("contract_diff")
    if not diff:
        return None
    lines = [str(change["text"]) for change in diff["changes"]]
    return lines or [NO_CHANGE], diff.get("last_passing_at")


NO_CHANGE = "nothing: the answer has the shape the check's passing answers had"


def _changes_sentence(incident: dict[str, Any]) -> str:
    """The changes as a sentence for a system comment, or nothing."""
    diff = incident.get("contract_diff")
    if not diff or not diff["changes"]:
        return ""
    return f" Changed since the check last passed: {diff['summary']}."


def _what(incident: dict[str, Any]) -> str:
    detail = f": {incident['last_detail']}" if incident["last_detail"] else ""
    return f"{incident['last_outcome']}{detail}"


def _say(
    connection: Connection,
    ticket_id: int,
    now: datetime,
    body: str,
    message: dict[str, Any],
) -> None:
    """A system comment: `body` in English, `message` for the console's languages."""
    tickets.comment(connection, ticket_id, body=body, actor=SYSTEM, now=now, message=message)


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {seconds:02d}s"
