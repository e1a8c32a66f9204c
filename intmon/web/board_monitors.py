"""The board's view of the push monitors: each integration's heartbeats and postback
monitor summed up in one cell, and which integrations have one that is late.

Silence is a failure too (issue 25): a job that stopped pinging or a broker that
stopped sending postbacks must stand out on the board as a failing check does.
Their results already reach the check states (`heartbeat:<name>`,
`postbacks:ratio`), so once the leader's detector has judged them the
integration is `down` and sorted first; `late_heartbeats` also catches a
heartbeat past its due time plus grace that the detector has not reached yet,
so the board never shows "up" over a silent job.

Postbacks the same way, with one judgement for the row's place and its cell
(`_judged`): missing when the detector last recorded them missing
(`postbacks:ratio` failing: it stands until the detector judges again, so an
incident left open while too few leads come stays red) or when the window
says so now and the detector has not run since. Before, the order read the
recorded verdict and the cell the window, so for up to a detector interval
(60 s) a broker that had just stopped showed "postbacks missing" on a row
sorted with the healthy ones, and one that had recovered showed "enough
postbacks" on a row sorted as down. `judged_postbacks` makes that judgement once
for every integration: `monitor_alarms` reads it for the order, `summaries` for
the page's cells.

Costs, whatever the number of rows: `late_heartbeats` is one query over all the
caller's integrations (only late rows come back); `judged_postbacks` two per
distinct postback window (`integrations.postbacks.monitor.windows_counts`), the
detector's verdicts coming from the check states the board has read;
`summaries` reads the page's heartbeats in one query (given the judgement; the
integration page's postback table reads its own through `judged_views`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, select

from core.db import table_of
from integrations.config import IntegrationSpec
from integrations.heartbeats.models import Heartbeat, HeartbeatState
from integrations.heartbeats.store import HeartbeatView, list_heartbeats
from integrations.models import CheckState
from integrations.postbacks.monitor import MonitorState, MonitorView, monitor_views
from integrations.results import StateView
from integrations.specs.postbacks import POSTBACK_CHECK

HB = table_of(Heartbeat)
STATE = table_of(CheckState)
# States a heartbeat is late in whatever the clock says: the detector found it
# silent past its grace, or the job pinged /fail.
LATE_STATES = (HeartbeatState.MISSED, HeartbeatState.FAILED)


def is_late(beat: HeartbeatView, now: datetime) -> bool:
    """Missed, failed, or past its due time plus grace (not yet judged)."""
    if beat.state in LATE_STATES:
        return True
    if beat.state == HeartbeatState.NEW or beat.next_due_at is None:
        return False  # nothing is expected before the first ping
    return now > beat.next_due_at + timedelta(seconds=beat.grace_s)


@dataclass(frozen=True, slots=True)
class MonitorSummary:
    """One integration's monitors as the board's cell says them."""

    heartbeats: int
    late: tuple[str, ...]  # names of its late heartbeats
    waiting: int  # heartbeats that never pinged yet
    last_ping_at: datetime | None  # the latest ping of any of them
    next_due_at: datetime | None  # the soonest next ping expected, of those on time
    postbacks: MonitorView | None

    @property
    def postbacks_missing(self) -> bool:
        return self.postbacks is not None and self.postbacks.state == MonitorState.MISSED

    @property
    def alarm(self) -> bool:
        """Something here needs someone, as a failing check does."""
        return bool(self.late) or self.postbacks_missing


def late_heartbeats(engine: Engine, integration_ids: Iterable[str], now: datetime) -> set[str]:
    """The integrations (of `integration_ids`) with at least one late heartbeat: one
    query on the detector's column (`alert_at`) and the state, returning late rows only."""
    ids = list(integration_ids)
    if not ids:
        return set()
    query = (
        select(HB.c.integration_id)
        .where(
            HB.c.removed_at.is_(None),
            or_(HB.c.state.in_(LATE_STATES), HB.c.alert_at < now),
        )
        .distinct()
    )
    with engine.connect() as connection:
        found = {row.integration_id for row in connection.execute(query)}
    return found & set(ids)


@dataclass(frozen=True, slots=True)
class Recorded:
    """The detector's last verdict on an integration's postbacks (`postbacks:ratio`)."""

    up: bool
    detail: str


def recorded_postbacks(engine: Engine, integration_ids: Iterable[str]) -> dict[str, Recorded]:
    """The detector's last verdict of each of `integration_ids` it has judged: one query."""
    ids = list(integration_ids)
    if not ids:
        return {}
    query = select(STATE.c.integration_id, STATE.c.up, STATE.c.detail).where(
        STATE.c.check_name == POSTBACK_CHECK, STATE.c.integration_id.in_(ids)
    )
    with engine.connect() as connection:
        return {
            row.integration_id: Recorded(row.up, row.detail) for row in connection.execute(query)
        }


def judged_postbacks(
    engine: Engine,
    specs: Mapping[str, IntegrationSpec],
    states: Mapping[str, Sequence[StateView]],
    now: datetime,
) -> dict[str, MonitorView]:
    """Each watched postback monitor of `specs` (by id) as its cell shows it: its
    window's counts and the one judgement, the detector's verdict read from `states`
    (the check states the board has read)."""
    recorded = {
        integration_id: Recorded(state.up, state.detail)
        for integration_id, found in states.items()
        for state in found
        if state.check_name == POSTBACK_CHECK
    }
    return {
        view.integration_id: _judged(view, recorded.get(view.integration_id))
        for view in monitor_views(engine, specs.values(), now)
    }


def monitor_alarms(
    engine: Engine,
    specs: Mapping[str, IntegrationSpec],
    states: Mapping[str, Sequence[StateView]],
    now: datetime,
    *,
    judged: Mapping[str, MonitorView] | None = None,
) -> set[str]:
    """The integrations of `specs` (by id) with a late heartbeat or missing postbacks,
    as their cells say it. Only a postback monitor the cell shows counts (a watched
    one: declared and enabled). `judged`: `judged_postbacks`, when the caller has it."""
    if judged is None:
        judged = judged_postbacks(engine, specs, states, now)
    silent = {i for i, view in judged.items() if view.state == MonitorState.MISSED}
    return late_heartbeats(engine, specs, now) | silent


def _judged(window: MonitorView, recorded: Recorded | None) -> MonitorView:
    """The window as the cell shows it: its counts, and the judgement's state. Missing
    as recorded while the window already looks fine: the detector's words until it
    judges again."""
    if recorded is None or recorded.up or window.state == MonitorState.MISSED:
        return window
    return replace(window, state=MonitorState.MISSED.value, detail=recorded.detail)


def judged_views(
    engine: Engine, specs: Iterable[IntegrationSpec], now: datetime
) -> list[MonitorView]:
    """`monitor_views` as the board's cells show them: each window's counts, and the
    one judgement's state (the integration page can show the same)."""
    windows = monitor_views(engine, specs, now)
    recorded = recorded_postbacks(engine, [view.integration_id for view in windows])
    return [_judged(view, recorded.get(view.integration_id)) for view in windows]


def summaries(
    engine: Engine,
    specs: Sequence[IntegrationSpec],
    now: datetime,
    *,
    judged: Mapping[str, MonitorView] | None = None,
) -> dict[str, MonitorSummary]:
    """The monitors of `specs` (a board page's integrations), by integration id; an
    integration with no heartbeat and no postback monitor has no entry. `judged`:
    the board's `judged_postbacks`, so the page's windows are not read again."""
    beats: dict[str, list[HeartbeatView]] = {}
    if specs:
        for beat in list_heartbeats(engine, [spec.id for spec in specs]):
            beats.setdefault(beat.integration_id, []).append(beat)
    if judged is None:
        judged = {view.integration_id: view for view in judged_views(engine, specs, now)}
    found = {}
    for spec in specs:
        mine = beats.get(spec.id, [])
        if not mine and spec.id not in judged:
            continue
        late = tuple(beat.name for beat in mine if is_late(beat, now))
        pinged = [beat.last_ping_at for beat in mine if beat.last_ping_at is not None]
        due = [
            beat.next_due_at
            for beat in mine
            if beat.next_due_at is not None
            and beat.name not in late
            and beat.state != HeartbeatState.NEW
        ]
        found[spec.id] = MonitorSummary(
            heartbeats=len(mine),
            late=late,
            waiting=sum(1 for beat in mine if beat.state == HeartbeatState.NEW),
            last_ping_at=max(pinged, default=None),
            next_due_at=min(due, default=None),
            postbacks=judged.get(spec.id),
        )
    return found
