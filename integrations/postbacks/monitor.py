"""The postback monitor: of the leads a broker accepted in the window, how many got a postback.

`window_counts` reads the ledger and the postbacks for one integration at `now`
(`windows_counts` for many at once, in two queries):
the distinct leads delivered (outcome `delivered`: the broker accepted them) in
(`now - window_s`, `now`], and how many of them the broker has called back about
so far, matched by the broker's lead id. `judge` is the pure rule, with a table
test:

- fewer than `min_leads` leads: too few to judge, no result (an open incident
  stays open until enough leads show the postbacks are back);
- none of them with a postback: `missed_postbacks` ("0 postbacks while leads
  flowed"), whatever `min_ratio` says, even 0;
- a share under `min_ratio`: `missed_postbacks`;
- otherwise `ok`.

`detect` runs both for every integration with a `postbacks:` block and yields
the results of the synthetic check `postbacks:ratio` that the leader's pass
(`alerts.postback_watch`) hands to the incident pipeline.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, case, exists, func, select

from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.config import IntegrationSpec
from integrations.leads.delivery import LeadOutcome
from integrations.postbacks.store import ATTEMPTS, POSTBACKS
from integrations.specs.postbacks import POSTBACK_CHECK, PostbackSpec


class MonitorState(enum.StrEnum):
    OK = "ok"
    MISSED = "missed"
    TOO_FEW_LEADS = "too_few_leads"


@dataclass(frozen=True, slots=True)
class WindowCounts:
    leads: int  # distinct leads the broker accepted in the window
    with_postback: int  # of those, leads it has sent a postback about
    received: int  # postbacks received in the window (any lead, linked or not)
    last_received_at: datetime | None

    @property
    def ratio(self) -> float | None:
        return self.with_postback / self.leads if self.leads else None


@dataclass(frozen=True, slots=True)
class Verdict:
    state: MonitorState
    detail: str


def judge(counts: WindowCounts, spec: PostbackSpec) -> Verdict:
    """The rule (see the module docstring); pure."""
    window = _span(spec.window_s)
    if counts.leads < spec.min_leads:
        return Verdict(
            MonitorState.TOO_FEW_LEADS,
            f"{counts.leads} lead(s) accepted in the last {window}, fewer than "
            f"min_leads {spec.min_leads}: too few to judge",
        )
    share = f"{counts.with_postback} of {counts.leads} leads accepted in the last {window}"
    if counts.with_postback == 0:
        return Verdict(
            MonitorState.MISSED,
            f"no postback for any of the {counts.leads} leads accepted in the last {window}",
        )
    assert counts.ratio is not None
    if counts.ratio < spec.min_ratio:
        return Verdict(
            MonitorState.MISSED,
            f"postbacks for {share} ({counts.ratio:.0%}), under min_ratio {spec.min_ratio:.0%}",
        )
    return Verdict(MonitorState.OK, f"postbacks for {share} ({counts.ratio:.0%})")


def _span(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def window_counts(
    connection: Connection, integration_id: str, window_s: float, now: datetime
) -> WindowCounts:
    """What the monitor judges, read at `now` (see the module docstring)."""
    return windows_counts(connection, [integration_id], window_s, now)[integration_id]


def windows_counts(
    connection: Connection, integration_ids: Sequence[str], window_s: float, now: datetime
) -> dict[str, WindowCounts]:
    """`window_counts` of many integrations with the same window, in two queries
    whatever their number (the board shows a page of them at once)."""
    ids = list(integration_ids)
    since = now - timedelta(seconds=window_s)
    delivered = (
        select(ATTEMPTS.c.integration_id, ATTEMPTS.c.lead_id, ATTEMPTS.c.broker_lead_id)
        .where(
            ATTEMPTS.c.integration_id.in_(ids),
            ATTEMPTS.c.outcome == LeadOutcome.DELIVERED.value,
            ATTEMPTS.c.at > since,
            ATTEMPTS.c.at <= now,
        )
        .distinct()
        .subquery()
    )
    called_back = exists().where(
        POSTBACKS.c.integration_id == delivered.c.integration_id,
        POSTBACKS.c.broker_lead_id == delivered.c.broker_lead_id,
        POSTBACKS.c.received_at <= now,
    )
    leads = {
        row.integration_id: (int(row.leads), int(row.with_postback))
        for row in connection.execute(
            select(
                delivered.c.integration_id,
                func.count().label("leads"),
                func.count(case((called_back, 1))).label("with_postback"),
            ).group_by(delivered.c.integration_id)
        )
    }
    received = {
        row.integration_id: (int(row.received), row.last)
        for row in connection.execute(
            select(
                POSTBACKS.c.integration_id,
                func.count().label("received"),
                func.max(POSTBACKS.c.received_at).label("last"),
            )
            .where(
                POSTBACKS.c.integration_id.in_(ids),
                POSTBACKS.c.received_at > since,
                POSTBACKS.c.received_at <= now,
            )
            .group_by(POSTBACKS.c.integration_id)
        )
    }
    return {
        integration_id: WindowCounts(
            *leads.get(integration_id, (0, 0)), *received.get(integration_id, (0, None))
        )
        for integration_id in ids
    }


@dataclass(frozen=True, slots=True)
class MonitorView:
    """One postback monitor as the surfaces show it (CLI, API, web page, metrics)."""

    integration_id: str
    check_name: str
    window_s: float
    min_ratio: float
    min_leads: int
    leads: int
    with_postback: int
    ratio: float | None
    received: int
    last_received_at: datetime | None
    state: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def monitor_views(
    engine: Engine, specs: Iterable[IntegrationSpec], now: datetime
) -> list[MonitorView]:
    """The monitor of each of `specs` that has a `postbacks:` block and is enabled (a
    disabled integration is not watched at all), by integration id."""
    watched = sorted((s for s in specs if s.postbacks and s.enabled), key=lambda s: s.id)
    # Read set-wise, a window length at a time: a page of the board, the metrics and
    # the API cost two queries per distinct window, not two per integration.
    by_window: dict[float, list[str]] = {}
    for spec in watched:
        assert spec.postbacks is not None
        by_window.setdefault(spec.postbacks.window_s, []).append(spec.id)
    views = []
    with engine.connect() as connection:
        counted: dict[str, WindowCounts] = {}
        for window_s, ids in by_window.items():
            counted.update(windows_counts(connection, ids, window_s, now))
        for spec in watched:
            assert spec.postbacks is not None
            counts = counted[spec.id]
            verdict = judge(counts, spec.postbacks)
            views.append(
                MonitorView(
                    integration_id=spec.id,
                    check_name=POSTBACK_CHECK,
                    window_s=spec.postbacks.window_s,
                    min_ratio=spec.postbacks.min_ratio,
                    min_leads=spec.postbacks.min_leads,
                    leads=counts.leads,
                    with_postback=counts.with_postback,
                    ratio=counts.ratio,
                    received=counts.received,
                    last_received_at=counts.last_received_at,
                    state=verdict.state.value,
                    detail=verdict.detail,
                )
            )
    return views


def detect(
    engine: Engine, specs: Mapping[str, IntegrationSpec], now: datetime
) -> list[CheckResult]:
    """One `postbacks:ratio` result per monitor that has enough leads to judge."""
    results = []
    for view in monitor_views(engine, specs.values(), now):
        if view.state == MonitorState.TOO_FEW_LEADS:
            continue
        outcome = Outcome.OK if view.state == MonitorState.OK else Outcome.MISSED_POSTBACKS
        results.append(
            CheckResult(view.integration_id, POSTBACK_CHECK, outcome, now, 0.0, detail=view.detail)
        )
    return results
