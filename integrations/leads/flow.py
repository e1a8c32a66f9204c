"""Lead-flow anomalies: a broker that answers, but not as it usually does.

A broker can start refusing half the leads while its API answers every health
check: nothing probes that. This module compares the last `window_s` of the
ledger with the broker's own normal, the same hour of the week over the last
`baseline_weeks` weeks (Monday 10:00 is not Sunday 03:00), and says in one
sentence what drifted:

    broker A accepted 48 % of 52 leads in the last 1 h, usually 93 % (of 410);
    top reason: duplicate phone

Two explainable rules, both configured per integration (`lead_flow:` in the
integrations file, `integrations.specs.leads.LeadFlowSpec`):

- acceptance (delivered / delivered + rejected) at least `acceptance_drop` below
  the baseline's;
- the median delivery time over `latency_factor` times the baseline's.

Neither is judged on fewer than `min_leads` answered leads, now or in the
baseline: too few leads say nothing. Leads that got no answer (timeouts,
refused connections) are the probes' business, not counted here.

`judge` is pure; `measure` reads the ledger (one grouped query per window);
`assess` does both for every integration that asks, once per `EVERY_S` slot
(`alerts.lead_flow_watch` turns the verdicts into results and incidents).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select

from core.db import table_of
from integrations.config import IntegrationSpec
from integrations.leads.delivery import LeadOutcome
from integrations.leads.models import LeadAttempt
from integrations.models import CheckState
from integrations.specs.leads import LEAD_FLOW_CHECK, LeadFlowSpec

ATTEMPTS = table_of(LeadAttempt)
STATES = table_of(CheckState)
WEEK = timedelta(days=7)
# Judgements are made once per slot of this length; the result is stamped with the
# slot's start, so two passes in one slot (two workers, a retried message) judge once.
EVERY_S = 300
ANSWERED = (LeadOutcome.DELIVERED.value, LeadOutcome.REJECTED.value)
# Delivery times read per window for the median (the newest ones).
DURATIONS_MAX = 5_000
REASON_CHARS = 80


@dataclass(frozen=True, slots=True)
class FlowStats:
    """What the ledger says about one window (or a baseline's pooled windows)."""

    delivered: int = 0
    rejected: int = 0
    median_s: float | None = None
    reasons: tuple[tuple[str, int], ...] = ()  # rejection reasons, most frequent first

    @property
    def answered(self) -> int:
        return self.delivered + self.rejected

    @property
    def acceptance(self) -> float | None:
        return self.delivered / self.answered if self.answered else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "delivered": self.delivered,
            "rejected": self.rejected,
            "acceptance": self.acceptance,
            "median_delivery_s": self.median_s,
            "top_reasons": [{"reason": r, "count": n} for r, n in self.reasons],
        }


@dataclass(frozen=True, slots=True)
class FlowVerdict:
    integration_id: str
    name: str
    at: datetime
    window_s: float
    now: FlowStats
    usual: FlowStats
    # Why it is an anomaly, one sentence per rule broken; empty: normal.
    anomalies: tuple[str, ...] = ()
    # Why nothing was judged (too few leads); None: judged.
    unjudged: str | None = None

    @property
    def anomalous(self) -> bool:
        return bool(self.anomalies)

    @property
    def state(self) -> str:
        return "anomaly" if self.anomalous else "unjudged" if self.unjudged else "normal"

    def sentence(self) -> str:
        if self.unjudged:
            return self.unjudged
        head = "; ".join(self.anomalies) if self.anomalies else _accepted(self)
        top = self.now.reasons[0][0] if self.now.reasons else None
        return f"{head}; top reason: {top}" if self.anomalies and top else head

    def as_dict(self) -> dict[str, Any]:
        return {
            "integration": self.integration_id,
            "name": self.name,
            "at": self.at.isoformat(),
            "window_s": self.window_s,
            "state": self.state,
            "detail": self.sentence(),
            "now": self.now.as_dict(),
            "usual": self.usual.as_dict(),
        }


def judge(
    spec: LeadFlowSpec,
    integration_id: str,
    name: str,
    at: datetime,
    now: FlowStats,
    usual: FlowStats,
) -> FlowVerdict:
    """The two rules over measured stats; pure."""
    verdict = FlowVerdict(integration_id, name, at, spec.window_s, now, usual)
    if now.answered < spec.min_leads or usual.answered < spec.min_leads:
        which = "the last window" if now.answered < spec.min_leads else "the baseline"
        return replace(
            verdict,
            unjudged=f"not judged: {which} has fewer than {spec.min_leads} answered leads "
            f"({now.answered} now, {usual.answered} usually)",
        )
    found = []
    accepted, normal = now.acceptance, usual.acceptance
    if accepted is not None and normal is not None and normal - accepted >= spec.acceptance_drop:
        found.append(_accepted(verdict))
    factor = spec.latency_factor
    if (
        factor is not None
        and now.median_s is not None
        and usual.median_s  # a zero baseline has no meaningful multiple
        and now.median_s > factor * usual.median_s
    ):
        found.append(
            f"{name} took {now.median_s:.2f} s per lead (median) in the last "
            f"{_span(spec.window_s)}, usually {usual.median_s:.2f} s"
        )
    return replace(verdict, anomalies=tuple(found))


def measure(
    connection: Connection, integration_ids: Iterable[str], start: datetime, end: datetime
) -> dict[str, FlowStats]:
    """Stats of the window [start, end) for each of `integration_ids`."""
    return measure_windows(connection, integration_ids, [(start, end)])


def measure_windows(
    connection: Connection,
    integration_ids: Iterable[str],
    windows: list[tuple[datetime, datetime]],
) -> dict[str, FlowStats]:
    """Stats pooled over several windows (a baseline's weeks) for each integration."""
    ids = sorted(set(integration_ids))
    if not ids or not windows:
        return {}
    within = or_(*(and_(ATTEMPTS.c.at >= a, ATTEMPTS.c.at < b) for a, b in windows))
    answered = and_(ATTEMPTS.c.integration_id.in_(ids), ATTEMPTS.c.outcome.in_(ANSWERED), within)
    counts: dict[str, Counter[str]] = {i: Counter() for i in ids}
    reasons: dict[str, Counter[str]] = {i: Counter() for i in ids}
    grouped = (
        select(ATTEMPTS.c.integration_id, ATTEMPTS.c.outcome, ATTEMPTS.c.detail, func.count())
        .where(answered)
        .group_by(ATTEMPTS.c.integration_id, ATTEMPTS.c.outcome, ATTEMPTS.c.detail)
    )
    for integration_id, outcome, detail, count in connection.execute(grouped):
        counts[integration_id][outcome] += count
        if outcome == LeadOutcome.REJECTED.value:
            reasons[integration_id][_reason(detail)] += count
    durations: dict[str, list[float]] = {i: [] for i in ids}
    # The latest DURATIONS_MAX of each integration: a limit over the whole group let a
    # busy broker's rows fill it and left a quiet one's median with none.
    position = (
        func.row_number()
        .over(partition_by=ATTEMPTS.c.integration_id, order_by=ATTEMPTS.c.at.desc())
        .label("position")
    )
    latest = (
        select(ATTEMPTS.c.integration_id, ATTEMPTS.c.duration_s, position)
        .where(answered, ATTEMPTS.c.duration_s.is_not(None))
        .subquery()
    )
    timed = select(latest.c.integration_id, latest.c.duration_s).where(
        latest.c.position <= DURATIONS_MAX
    )
    for integration_id, duration in connection.execute(timed):
        durations[integration_id].append(float(duration))
    return {
        i: FlowStats(
            delivered=counts[i][LeadOutcome.DELIVERED.value],
            rejected=counts[i][LeadOutcome.REJECTED.value],
            median_s=statistics.median(durations[i]) if durations[i] else None,
            reasons=tuple(reasons[i].most_common(3)),
        )
        for i in ids
    }


def baseline_windows(spec: LeadFlowSpec, end: datetime) -> list[tuple[datetime, datetime]]:
    """The same stretch of the week, one to `baseline_weeks` weeks back."""
    window = timedelta(seconds=spec.window_s)
    return [(end - k * WEEK - window, end - k * WEEK) for k in range(1, spec.baseline_weeks + 1)]


def slot_of(now: datetime) -> datetime:
    stamp = now.timestamp()
    return datetime.fromtimestamp(stamp - stamp % EVERY_S, UTC)


def verdicts(engine: Engine, specs: Iterable[IntegrationSpec], at: datetime) -> list[FlowVerdict]:
    """Judge every integration in `specs` that declares `lead_flow`, over the window
    ending at `at` (grouped by identical settings: one query per window per group)."""
    watched = [spec for spec in specs if spec.lead_flow is not None]
    groups: dict[str, tuple[LeadFlowSpec, list[IntegrationSpec]]] = {}
    for spec in watched:
        assert spec.lead_flow is not None
        key = spec.lead_flow.model_dump_json()
        groups.setdefault(key, (spec.lead_flow, []))[1].append(spec)
    found: list[FlowVerdict] = []
    with engine.connect() as connection:
        for flow, members in groups.values():
            ids = [member.id for member in members]
            start = at - timedelta(seconds=flow.window_s)
            current = measure(connection, ids, start, at)
            usual = measure_windows(connection, ids, baseline_windows(flow, at))
            for member in members:
                found.append(
                    judge(flow, member.id, member.name, at, current[member.id], usual[member.id])
                )
    return sorted(found, key=lambda verdict: verdict.integration_id)


def assess(
    engine: Engine, specs: Mapping[str, IntegrationSpec], now: datetime
) -> list[FlowVerdict]:
    """This slot's judgements, of the integrations not judged in this slot yet (a
    judged slot has its result stored as the check `leads:flow`)."""
    slot = slot_of(now)
    due = [spec for spec in specs.values() if spec.lead_flow is not None]
    if not due:
        return []
    done = _judged_since(engine, [spec.id for spec in due], slot)
    return verdicts(engine, [spec for spec in due if spec.id not in done], slot)


def _judged_since(engine: Engine, ids: list[str], slot: datetime) -> set[str]:
    query = select(STATES.c.integration_id).where(
        STATES.c.integration_id.in_(ids),
        STATES.c.check_name == LEAD_FLOW_CHECK,
        STATES.c.started_at >= slot,
    )
    with engine.connect() as connection:
        return set(connection.execute(query).scalars())


def _accepted(verdict: FlowVerdict) -> str:
    now, usual = verdict.now, verdict.usual
    return (
        f"{verdict.name} accepted {_percent(now.acceptance)} of {now.answered} leads in the "
        f"last {_span(verdict.window_s)}, usually {_percent(usual.acceptance)} "
        f"(of {usual.answered})"
    )


def _percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio * 100:.0f} %"


def _span(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds % 3600 == 0 else f"{seconds / 60:g} min"


def _reason(detail: str | None) -> str:
    """A rejection's reason as counted: its first line, cut short; never empty."""
    text = (detail or "").strip().splitlines()[0] if (detail or "").strip() else ""
    return text[:REASON_CHARS] or "no reason given"
