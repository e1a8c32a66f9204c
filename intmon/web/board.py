"""What the status board and an integration's page show, read through the same
queries and visibility rules as the API (`alerts.queries`, `integrations.results`,
`intmon.api.access`).

An integration's state is derived, as of `now`: `maintenance` while one of its
windows is on, `down` when a check's last result failed, `stale` when a check
has produced no result for two intervals (`integrations.staleness`: an "up"
shown then would be a lie, issue 21), `unknown` before any check has run, else
`up`. Stale checks are named with their reason whatever the state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from alerts.platform_outages import current_outage
from alerts.queries import IncidentView, TicketView, list_incidents, list_tickets
from alerts.tickets import ACTIVE
from integrations.config import IntegrationSpec
from integrations.maintenance import StoredWindow, list_windows, windows_by_integration
from integrations.results import StateView, current_states, history
from integrations.staleness import CheckId, Freshness, check_freshness
from integrations.windows import MaintenanceWindow, active_window
from intmon.api.access import visible_integrations
from intmon.api.auth import Principal
from intmon.settings import Settings

STATES = ("up", "down", "stale", "maintenance", "unknown")
MAX_ROWS = 500


@dataclass(frozen=True, slots=True)
class IntegrationStatus:
    id: str
    name: str
    client: str
    state: str  # up | down | maintenance | unknown
    outcome: str | None  # the outcome that decided the state
    at: datetime | None  # when that check ran
    detail: str
    # Check name → why it went quiet (budget | in_flight | no_worker), when stale.
    stale: dict[str, str] = field(default_factory=dict)


def integration_status(
    spec: IntegrationSpec,
    states: Sequence[StateView],
    windows: Sequence[MaintenanceWindow],
    now: datetime,
    fresh: Mapping[CheckId, Freshness] | None = None,
) -> IntegrationStatus:
    """One integration's state; the outcome shown is the latest failing one when it is
    down (the reason), else the latest one."""
    failing = [s for s in states if not s.up]
    shown = max(failing or states, key=lambda s: s.started_at, default=None)
    stale = {
        check.name: found.reason.value
        for check in spec.checks
        if (found := (fresh or {}).get((spec.id, check.name))) and found.reason
    }
    if active_window(windows, now) is not None:
        state = "maintenance"
    elif failing:
        state = "down"
    elif stale:
        state = "stale"
    else:
        state = "unknown" if shown is None else "up"
    return IntegrationStatus(
        id=spec.id,
        name=spec.name,
        client=spec.client,
        state=state,
        outcome=shown.outcome.value if shown else None,
        at=shown.started_at if shown else None,
        detail=shown.detail if shown and failing else "",
        stale=stale,
    )


@dataclass(frozen=True, slots=True)
class Board:
    integrations: list[IntegrationStatus]
    incidents: list[IncidentView]
    tickets: list[TicketView]  # active ones, in queue order
    # The open platform outage (intmon's own network failing), shown as a banner;
    # its detail only to those who see every client (it counts all of them).
    outage: dict[str, Any] | None = None

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(1 for i in self.integrations if i.state == s) for s in STATES}

    @property
    def breached(self) -> int:
        return sum(1 for t in self.tickets if t.sla == "breached")


def board(engine: Engine, caller: Principal, settings: Settings, now: datetime) -> Board:
    """The board as `caller` may see it: support sees everything, a client their own."""
    specs = {i: r.spec for i, r in visible_integrations(engine, caller).items()}
    states: dict[str, list[StateView]] = {}
    for state in current_states(engine):
        states.setdefault(state.integration_id, []).append(state)
    windows = windows_by_integration(engine, list(specs))
    fresh = check_freshness(engine, now)
    statuses = [
        integration_status(spec, states.get(i, []), windows.get(i, []), now, fresh)
        for i, spec in specs.items()
    ]
    incidents = [
        view
        for view in list_incidents(engine, state="open", limit=MAX_ROWS)
        if view.integration_id in specs
    ]
    client = None if caller.sees_every_client else caller.client
    tickets = [
        view
        for status in ACTIVE
        for view in list_tickets(
            engine,
            status=status.value,
            client=client,
            limit=MAX_ROWS,
            policy=settings.policy(),
            now=now,
        )
    ]
    tickets.sort(key=lambda t: (t.first_response_due_at, t.created_at, t.id))
    outage = current_outage(engine)
    if outage is not None and not caller.sees_every_client:
        outage = {**outage, "detail": "", "evidence": {}}
    return Board(statuses, incidents, tickets, outage)


@dataclass(frozen=True, slots=True)
class IntegrationPage:
    spec: IntegrationSpec
    status: IntegrationStatus
    states: dict[str, StateView]  # by check name
    results: list[dict[str, Any]]
    incidents: list[IncidentView]
    windows: list[dict[str, Any]]


def integration_page(
    engine: Engine, caller: Principal, integration_id: str, now: datetime
) -> IntegrationPage | None:
    """One integration's page, or None when it does not exist or the caller may not see it."""
    registered = visible_integrations(engine, caller).get(integration_id)
    if registered is None:
        return None
    spec = registered.spec
    states = current_states(engine, integration_id)
    stored = list_windows(engine, [integration_id])
    fresh = check_freshness(engine, now, integration_id)
    return IntegrationPage(
        spec=spec,
        status=integration_status(spec, states, [s.window for s in stored], now, fresh),
        states={s.check_name: s for s in states},
        results=history(engine, integration_id, limit=20),
        incidents=list_incidents(engine, integration_id=integration_id, limit=20),
        windows=[_window(s, now) for s in stored],
    )


def _window(stored: StoredWindow, now: datetime) -> dict[str, Any]:
    current = stored.window.current(now)
    return {
        "name": stored.name,
        "source": stored.source,
        "description": stored.window.describe(),
        "reason": stored.window.reason,
        "active_until": current[1] if current else None,
        "next_start": stored.window.next_start(now),
    }
