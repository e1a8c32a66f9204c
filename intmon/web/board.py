"""What the status board and an integration's page show, read through the same
queries and visibility rules as the API (`alerts.queries`, `integrations.results`,
`intmon.api.access`).

An integration's state is derived, as of `now`: `maintenance` while one of its
windows is on, `down` when a check's last result failed, `stale` when a check
has produced no result for two intervals (`integrations.staleness`: an "up"
shown then would be a lie, issue 21), `unknown` before any check has run, else
`up`. Stale checks are named with their reason whatever the state.

The board lists integrations down first, the longest down at the top, each with
its open ticket, its 24 h uptime (`integrations.uptime`), a bar of its last
50 results (`integrations.history`, one query for all of them) and its
heartbeats and postback monitor in brief (`board_monitors`); one with a late
heartbeat or missing postbacks is sorted with the down ones. It shows
`PAGE_ROWS` integrations a page: the states of all are cheap to read (one row
per check), the uptime and the bars are read only for the page's rows, so the
board of 1,000 integrations costs what a page of them does, and whatever needs
someone is on the first page. The page of an
integration adds uptime over 24 h / 7 d / 30 d, the latency chart, certificate
days left and its results a keyset page at a time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from alerts.escalation import Acknowledgement, acknowledgements
from alerts.platform_outages import current_outage
from alerts.policy import policy_of
from alerts.queries import IncidentView, TicketView, list_incidents, list_tickets
from alerts.tickets import ACTIVE
from core.settings import Settings
from integrations.config import IntegrationSpec
from integrations.history import BAR_LENGTH, ResultMark, ResultPage, latest_results, results_page
from integrations.maintenance import StoredWindow, list_windows, windows_by_integration
from integrations.results import StateView, current_states
from integrations.staleness import CheckId, Freshness, check_freshness
from integrations.uptime import Availability, LatencyPoint, availability, latency_by_hour
from integrations.windows import MaintenanceWindow, active_window
from intmon.api.access import visible_integrations
from intmon.api.auth import Principal
from intmon.web import side_by_side
from intmon.web.board_monitors import (
    MonitorSummary,
    judged_postbacks,
    monitor_alarms,
    summaries,
)

STATES = ("up", "down", "stale", "maintenance", "unknown")
MAX_ROWS = 500
PAGE_ROWS = 100
# The board's order: what needs someone first.
BOARD_ORDER = {"down": 0, "stale": 1, "maintenance": 2, "unknown": 3, "up": 4}
UPTIME_WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
CHART_WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}
# How far back the bars look: two bar-lengths of the slowest interval shown, so a
# check that skipped a few runs still fills its bar, and the window function only
# ranks a recent stretch of results, not weeks of them.
BAR_LOOKBACK_MIN = timedelta(hours=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
    # When its failing check began to fail (the earliest, if several), when down.
    down_since: datetime | None = None
    # The ticket of its open incident (the oldest one's, if several), by number.
    ticket: str | None = None
    uptime_24h: float | None = None  # None: nothing counted in the last 24 h
    bar: tuple[ResultMark, ...] = ()  # its latest results, oldest first
    # A heartbeat late or a broker's postbacks missing: sorted with the down ones.
    monitor_alarm: bool = False
    # Its heartbeats and postback monitor in brief (board_monitors), page rows only.
    monitors: MonitorSummary | None = None


def integration_status(
    spec: IntegrationSpec,
    states: Sequence[StateView],
    windows: Sequence[MaintenanceWindow],
    now: datetime,
    fresh: Mapping[CheckId, Freshness] | None = None,
    monitor_alarm: bool = False,
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
        down_since=min((s.since for s in failing), default=None) if state == "down" else None,
        monitor_alarm=monitor_alarm,
    )


def board_order(status: IntegrationStatus) -> tuple[int, bool, datetime, str]:
    """Down first, the longest down at the top, with those whose heartbeat is late
    or whose postbacks are missing (silence is a failure too, issue 25); then
    stale, maintenance, unknown, up."""
    rank = BOARD_ORDER.get(status.state, 9)
    if status.monitor_alarm and status.state != "maintenance":
        rank = BOARD_ORDER["down"]
    # A late monitor with every check passing has no down_since: after the down ones.
    since = status.down_since
    return (rank, since is None, since or EPOCH, status.name.lower())


def bar_lookback(specs: Mapping[str, IntegrationSpec]) -> timedelta:
    slowest = max((spec.interval_s for spec in specs.values()), default=0.0)
    return max(BAR_LOOKBACK_MIN, timedelta(seconds=2 * BAR_LENGTH * slowest))


@dataclass(frozen=True, slots=True)
class Board:
    integrations: list[IntegrationStatus]  # this page's, in board order
    incidents: list[IncidentView]
    tickets: list[TicketView]  # active ones, in queue order
    # The open platform outage (intmon's own network failing), shown as a banner;
    # its detail only to those who see every client (it counts all of them).
    outage: dict[str, Any] | None = None
    # Integrations by state, over every page.
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    page: int = 1
    pages: int = 1
    total: int = 0
    # Integration id → (name, client): the incidents table says who, not an id.
    names: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Incident id → who acknowledged it and when (support's "Acknowledge" button).
    acks: dict[int, Acknowledgement] = field(default_factory=dict)
    # Integrations, over every page, with a late heartbeat or missing postbacks.
    monitor_alarms: int = 0

    @property
    def breached(self) -> int:
        return sum(1 for t in self.tickets if t.sla == "breached")


def board(
    engine: Engine,
    caller: Principal,
    settings: Settings,
    now: datetime,
    *,
    page: int = 1,
    rows: int | None = None,
) -> Board:
    """The board as `caller` may see it: support sees everything, a client their own.
    `page` counts from 1; past the last page, the last page is shown (the board
    shrinks while someone reads it)."""
    client = None if caller.sees_every_client else caller.client
    tickets_read = side_by_side.start(
        engine, lambda: _active_tickets(engine, client, settings, now)
    )
    outage_read = side_by_side.start(engine, lambda: current_outage(engine))
    specs = {i: r.spec for i, r in visible_integrations(engine, caller).items()}
    states: dict[str, list[StateView]] = {}
    current = current_states(engine)
    for state in current:
        states.setdefault(state.integration_id, []).append(state)
    windows = windows_by_integration(engine, list(specs))
    fresh = check_freshness(
        engine,
        now,
        specs=specs,
        last_results={(s.integration_id, s.check_name): s.started_at for s in current},
    )
    incidents = [
        view
        for view in list_incidents(engine, state="open", limit=MAX_ROWS)
        if view.integration_id in specs
    ]
    tickets_of: dict[str, str] = {}
    for incident in sorted(incidents, key=lambda view: view.opened_at):
        if incident.ticket:
            tickets_of.setdefault(incident.integration_id, incident.ticket)
    # One judgement for a row's place and its monitors cell (board_monitors).
    judged = judged_postbacks(engine, specs, states, now)
    alarmed = monitor_alarms(engine, specs, states, now, judged=judged)
    ordered = sorted(
        (
            integration_status(
                spec, states.get(i, []), windows.get(i, []), now, fresh, i in alarmed
            )
            for i, spec in specs.items()
        ),
        key=board_order,
    )
    rows = rows or PAGE_ROWS
    pages = max(1, math.ceil(len(ordered) / rows))
    page = min(max(page, 1), pages)
    shown = ordered[(page - 1) * rows : page * rows]
    ids = [status.id for status in shown]
    lookback = bar_lookback({i: specs[i] for i in ids})
    bars_read = side_by_side.start(
        engine, lambda: latest_results(engine, now - lookback, integration_ids=ids) if ids else {}
    )
    monitors_read = side_by_side.start(
        engine, lambda: summaries(engine, [specs[i] for i in ids], now, judged=judged)
    )
    uptime = {
        found.integration_id: found.ratio
        for found in availability(engine, now - UPTIME_WINDOWS["24h"], now, integration_ids=ids)
    }
    acks = acknowledgements(engine, [incident.id for incident in incidents])
    bars, monitors = bars_read.result(), monitors_read.result()
    statuses = [
        replace(
            status,
            ticket=tickets_of.get(status.id),
            uptime_24h=uptime.get(status.id),
            bar=tuple(bars.get(status.id, ())),
            monitors=monitors.get(status.id),
        )
        for status in shown
    ]
    counts = dict.fromkeys(STATES, 0)
    for status in ordered:
        counts[status.state] = counts.get(status.state, 0) + 1
    tickets = tickets_read.result()
    outage = outage_read.result()
    if outage is not None and not caller.sees_every_client:
        outage = {**outage, "detail": "", "evidence": {}}
    names = {i: (spec.name, spec.client) for i, spec in specs.items()}
    return Board(
        statuses,
        incidents,
        tickets,
        outage,
        counts,
        page,
        pages,
        len(ordered),
        names,
        acks,
        len(alarmed),
    )


def _active_tickets(
    engine: Engine, client: str | None, settings: Settings, now: datetime
) -> list[TicketView]:
    """The tickets still being worked on (the client's own, or all), soonest due first."""
    tickets = [
        view
        for status in ACTIVE
        for view in list_tickets(
            engine,
            status=status.value,
            client=client,
            limit=MAX_ROWS,
            policy=policy_of(settings),
            now=now,
        )
    ]
    tickets.sort(key=lambda t: (t.first_response_due_at, t.created_at, t.id))
    return tickets


@dataclass(frozen=True, slots=True)
class IntegrationPage:
    spec: IntegrationSpec
    status: IntegrationStatus
    states: dict[str, StateView]  # by check name
    results: ResultPage
    incidents: list[IncidentView]
    windows: list[dict[str, Any]]
    uptime: dict[str, Availability | None]  # by window (24h, 7d, 30d); None: no results
    chart_window: str
    chart_start: datetime
    chart_end: datetime
    latency: list[LatencyPoint]
    # Check name → days until its certificate expires (negative: expired), when read.
    certificate_days: dict[str, int]


def integration_page(
    engine: Engine,
    caller: Principal,
    integration_id: str,
    now: datetime,
    *,
    before: int | None = None,
    chart_window: str = "24h",
) -> IntegrationPage | None:
    """One integration's page, or None when it does not exist or the caller may not see
    it; `before` pages back through its results (`integrations.history.results_page`,
    which raises ResultNotFound for a result not its own)."""
    registered = visible_integrations(engine, caller).get(integration_id)
    if registered is None:
        return None
    spec = registered.spec
    states = current_states(engine, integration_id)
    stored = list_windows(engine, [integration_id])
    fresh = check_freshness(engine, now, integration_id)
    uptime: dict[str, Availability | None] = {}
    for name, period in UPTIME_WINDOWS.items():
        found = availability(engine, now - period, now, integration_ids=[integration_id])
        uptime[name] = found[0] if found else None
    # The chart ends with the current hour, so its last point is the hour in progress.
    chart_end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    chart_start = chart_end - CHART_WINDOWS[chart_window]
    return IntegrationPage(
        spec=spec,
        status=integration_status(spec, states, [s.window for s in stored], now, fresh),
        states={s.check_name: s for s in states},
        results=results_page(engine, integration_id, before),
        incidents=list_incidents(engine, integration_id=integration_id, limit=20),
        windows=[_window(s, now) for s in stored],
        uptime=uptime,
        chart_window=chart_window,
        chart_start=chart_start,
        chart_end=chart_end,
        latency=latency_by_hour(engine, integration_id, None, chart_start, chart_end),
        certificate_days={
            s.check_name: certificate_days(s.certificate_expires_at, now)
            for s in states
            if s.certificate_expires_at is not None
        },
    )


def certificate_days(expires_at: float, now: datetime) -> int:
    """Whole days until a certificate expires: 0 on its last day, negative once expired."""
    return math.floor((expires_at - now.timestamp()) / 86_400)


def _window(stored: StoredWindow, now: datetime) -> dict[str, Any]:
    current = stored.window.current(now)
    return {
        "name": stored.name,
        "source": stored.source,
        "window": stored.window,
        "kind": stored.window.kind,
        # Support changes a one-off window added at the console, CLI or API here; one
        # from the integrations file changes there, a recurring one with the CLI.
        "editable": stored.source != "config" and stored.window.kind == "once",
        "endable": stored.source != "config"
        and (current is not None or stored.window.next_start(now) is not None),
        "description": stored.window.describe(),
        "reason": stored.window.reason,
        "active_until": current[1] if current else None,
        "next_start": stored.window.next_start(now),
    }
