"""Incidents: repeated failures of one family become one incident, and its ticket.

Called by the worker inside the transaction that stores a batch of results, so
results, incident changes, tickets and outbox messages commit together or not
at all. The per-check streaks were already moved forward by the results upsert
(`check_state.family`, `family_streak`); this module reads them and decides.

Rules, per (integration, family):
- opens after `failure_threshold` results in a row of that family on one check;
- a failure coming back within the flap window after the incident resolved
  reopens the same incident; after `flap_threshold` returns it is flapping and
  resolves only once it has been quiet for a whole flap window;
- resolves when every check that failed in it has passed `success_threshold`
  times in a row;
- results inside a maintenance window count for nothing (they never reach here),
  nor do connectivity failures while intmon's own network was failing (a
  platform outage: `Recorded.inhibited`); an incident already open stays open.

At most one open incident per (integration, family) is a partial unique index;
two workers that both see a third failure race on the INSERT and the loser
joins the winner's incident (STYLE.md §6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Row, Select, String, any_, bindparam, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from alerts import incident_tickets
from alerts.evidence import evidence_of
from alerts.families import Family
from alerts.models import Incident
from alerts.policy import Policy
from core.db import table_of, utcnow
from integrations.config import IntegrationSpec
from integrations.contracts import incident_diff
from integrations.models import CheckState
from integrations.results import Recorded

INC = table_of(Incident)
S = table_of(CheckState)
# Families whose incident gets the answer's diff against the learned contract.
CHANGE_FAMILIES = frozenset({Family.AUTH.value, Family.CONTRACT.value})
OPEN = "open"
RESOLVED = "resolved"


@dataclass
class Transitions:
    opened: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    tickets_opened: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.opened or self.reopened or self.resolved)


def process(
    connection: Connection,
    recorded: Sequence[Recorded],
    specs: Mapping[str, IntegrationSpec],
    policy: Policy,
    now: datetime | None = None,
) -> Transitions:
    """Open, update and resolve incidents for a batch of stored results."""
    now = now or utcnow()
    done = Transitions()
    live = [r for r in recorded if not r.paused and r.result.integration_id in specs]
    if not live:
        return done
    integration_ids = sorted({r.result.integration_id for r in live})
    open_rows = _open_incidents(connection, integration_ids)
    failing = [r for r in live if r.family is not None]
    if not failing and not open_rows:
        return done  # the healthy common case costs one indexed query

    concerned = sorted(
        {r.result.integration_id for r in failing} | {row.integration_id for row in open_rows}
    )
    states = _check_states(connection, concerned)
    incidents: dict[tuple[str, str], dict[str, Any]] = {
        (row.integration_id, row.family): dict(row._mapping) for row in open_rows
    }

    latest: dict[tuple[str, str], Recorded] = {}
    for item in sorted(failing, key=lambda r: r.result.started_at):
        result, family = item.result, str(item.family)
        spec = specs[result.integration_id]
        key = (result.integration_id, family)
        incident = incidents.get(key)
        if incident is None:
            state = states.get((result.integration_id, result.check_name))
            needed = spec.thresholds_for(result.check_name).failure_threshold
            if state is None or state.streak < needed:
                continue
            # "First seen" is when this family's own streak began: not an earlier
            # failure of another kind, nor an outage inside a maintenance window.
            first_seen = (
                state.family_since
                if state.family == family and state.family_since is not None
                else result.started_at
            )
            incident = _open(connection, spec, item, state.streak, first_seen, now, policy, done)
            incidents[key] = incident
        _join(incident, item)
        latest[key] = item
    _save_failures(connection, incidents, latest)

    for key, incident in incidents.items():
        if key in latest or incident["state"] != OPEN:
            continue
        owner = specs.get(key[0])
        if owner is not None and _recovered(incident, owner, states, now, policy):
            _resolve(connection, incident, owner, now, policy)
            done.resolved.append(incident["id"])
    return done


def _open_incidents(connection: Connection, integration_ids: list[str]) -> list[Row[Any]]:
    return list(
        connection.execute(_open_of(connection.dialect.name), {"ids": integration_ids}).all()
    )


def _of_integrations(dialect: str, integration_id: Any) -> Any:
    """`integration_id` among the `ids` parameter. Every stored batch asks with all
    its integrations: on PostgreSQL they go as one array parameter (`= ANY(:ids)`),
    one statement text whatever their number, where an expanding `IN` renders and
    sends one parameter per id (docs/benchmarks.md, issue 27)."""
    if dialect == "postgresql":
        return integration_id == any_(bindparam("ids", type_=postgresql.ARRAY(String())))
    return integration_id.in_(bindparam("ids", expanding=True))


@lru_cache(maxsize=4)
def _open_of(dialect: str) -> Select[Any]:
    query = (
        select(INC)
        .where(INC.c.state == OPEN, _of_integrations(dialect, INC.c.integration_id))
        .order_by(INC.c.id)
    )
    if dialect == "postgresql":
        # Workers holding results of the same integration take turns here, in id
        # order (so two of them never wait on each other in opposite orders).
        query = query.with_for_update()
    return query


@dataclass(frozen=True, slots=True)
class Streak:
    family: str | None  # None: passing
    streak: int  # results in a row with this family
    up: bool
    since: datetime  # when the current up/down streak began
    family_since: datetime | None  # when the current family's streak began


def _check_states(
    connection: Connection, integration_ids: list[str]
) -> dict[tuple[str, str], Streak]:
    rows = connection.execute(_states_of(connection.dialect.name), {"ids": integration_ids})
    return {(row[0], row[1]): Streak(*row[2:]) for row in rows}


@lru_cache(maxsize=4)
def _states_of(dialect: str) -> Select[Any]:
    return select(
        S.c.integration_id,
        S.c.check_name,
        S.c.family,
        S.c.family_streak,
        S.c.up,
        S.c.since,
        S.c.family_since,
    ).where(_of_integrations(dialect, S.c.integration_id))


def _open(
    connection: Connection,
    spec: IntegrationSpec,
    item: Recorded,
    streak: int,
    first_seen: datetime,
    now: datetime,
    policy: Policy,
    done: Transitions,
) -> dict[str, Any]:
    """Open the incident for (integration, family), or join the one a concurrent
    worker opened a moment ago, or bring back one that resolved within the flap window."""
    result, family = item.result, str(item.family)
    evidence = evidence_of(spec, spec.check(result.check_name), result)
    contract_diff = incident_diff(connection, result) if family in CHANGE_FAMILIES else None
    recent = connection.execute(
        select(INC)
        .where(
            INC.c.integration_id == spec.id,
            INC.c.family == family,
            INC.c.state == RESOLVED,
            INC.c.resolved_at >= now - timedelta(seconds=policy.flap_window_s),
        )
        .order_by(INC.c.resolved_at.desc())
        .limit(1)
    ).first()
    if recent is not None:
        reopened = recent.reopened + 1
        flapping = recent.flapping or reopened >= policy.flap_threshold
        try:
            with connection.begin_nested():
                connection.execute(
                    update(INC)
                    .where(INC.c.id == recent.id, INC.c.state == RESOLVED)
                    .values(
                        state=OPEN,
                        resolved_at=None,
                        reopened=reopened,
                        flapping=flapping,
                        evidence=evidence,
                        contract_diff=contract_diff,
                        # Back again is a new emergency to acknowledge, unless it
                        # is flapping: then it stays as escalated as it was.
                        **(
                            {}
                            if flapping
                            else {
                                "acknowledged_at": None,
                                "acknowledged_by": None,
                                "escalation_level": 1,
                                "reminders": 0,
                                "last_reminder_at": None,
                            }
                        ),
                    )
                )
        except IntegrityError:
            return _current_open(connection, spec.id, family)
        incident = _fetch(connection, recent.id)
        done.reopened.append(recent.id)
        incident_tickets.on_reopened(
            connection, incident, spec, now, policy, newly_flapping=flapping and not recent.flapping
        )
        return incident

    module: Any = postgresql if connection.dialect.name == "postgresql" else sqlite
    inserted = connection.execute(
        module.insert(INC)
        .values(
            integration_id=spec.id,
            family=family,
            state=OPEN,
            opened_at=now,
            first_seen=first_seen,
            last_seen=result.started_at,
            # The streak's earlier failures; the caller counts this one.
            failures=streak - 1,
            checks=[],
            last_outcome=result.outcome.value,
            last_detail=result.detail,
            evidence=evidence,
            contract_diff=contract_diff,
            reopened=0,
            flapping=False,
            escalation_level=1,
            reminders=0,
        )
        .on_conflict_do_nothing(
            index_elements=[INC.c.integration_id, INC.c.family], index_where=text("state = 'open'")
        )
        .returning(*INC.c)
    ).first()
    if inserted is None:  # another worker opened it first: join theirs
        return _current_open(connection, spec.id, family)
    incident = dict(inserted._mapping)
    new_id = incident["id"]
    done.opened.append(new_id)
    ticket_id, created = incident_tickets.on_opened(connection, incident, spec, now, policy)
    incident["ticket_id"] = ticket_id
    if created and ticket_id is not None:
        done.tickets_opened.append(ticket_id)
    return incident


def _current_open(connection: Connection, integration_id: str, family: str) -> dict[str, Any]:
    query = select(INC).where(
        INC.c.integration_id == integration_id, INC.c.family == family, INC.c.state == OPEN
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None:
        # The incident another worker opened was resolved before we could join
        # it: run the whole batch again (nothing of it is committed yet).
        raise RaceLost(f"incident {integration_id}/{family} moved on under us")
    return dict(row._mapping)


class RaceLost(Exception):
    """A concurrent worker changed the incident between two statements; retryable."""


def _fetch(connection: Connection, incident_id: int) -> dict[str, Any]:
    return dict(connection.execute(select(INC).where(INC.c.id == incident_id)).one()._mapping)


def _join(incident: dict[str, Any], item: Recorded) -> None:
    result = item.result
    incident["failures"] += 1
    if result.check_name not in incident["checks"]:
        incident["checks"] = [*incident["checks"], result.check_name]
    if result.started_at >= incident["last_seen"]:
        incident["last_seen"] = result.started_at
        incident["last_outcome"] = result.outcome.value
        incident["last_detail"] = result.detail


def _save_failures(
    connection: Connection,
    incidents: dict[tuple[str, str], dict[str, Any]],
    latest: dict[tuple[str, str], Recorded],
) -> None:
    """One executemany for every incident this batch touched."""
    rows = [
        {
            "b_id": incidents[key]["id"],
            "b_failures": incidents[key]["failures"],
            "b_checks": incidents[key]["checks"],
            "b_last_seen": incidents[key]["last_seen"],
            "b_last_outcome": incidents[key]["last_outcome"],
            "b_last_detail": incidents[key]["last_detail"],
        }
        for key in latest
    ]
    if not rows:
        return
    connection.execute(
        update(INC)
        .where(INC.c.id == bindparam("b_id"))
        .values(
            failures=bindparam("b_failures"),
            checks=bindparam("b_checks"),
            last_seen=bindparam("b_last_seen"),
            last_outcome=bindparam("b_last_outcome"),
            last_detail=bindparam("b_last_detail"),
        ),
        rows,
    )


def _recovered(
    incident: dict[str, Any],
    spec: IntegrationSpec,
    states: Mapping[tuple[str, str], Streak],
    now: datetime,
    policy: Policy,
) -> bool:
    watched = [name for name in incident["checks"] if spec.watches(name)]
    for name in watched:
        state = states.get((spec.id, name))
        if state is None:
            return False
        needed = spec.thresholds_for(name).success_threshold
        if state.family is not None or state.streak < needed:
            return False
    if incident["flapping"]:
        quiet: timedelta = now - incident["last_seen"]
        return quiet >= timedelta(seconds=policy.flap_window_s)
    return True


def _resolve(
    connection: Connection,
    incident: dict[str, Any],
    spec: IntegrationSpec,
    now: datetime,
    policy: Policy,
) -> None:
    changed = connection.execute(
        update(INC)
        .where(INC.c.id == incident["id"], INC.c.state == OPEN)
        .values(state=RESOLVED, resolved_at=now)
    ).rowcount
    if changed:
        incident.update(state=RESOLVED, resolved_at=now)
        incident_tickets.on_resolved(connection, incident, spec, now, policy)
