"""The lead report: for a broker and a period, what happened to every lead, and who is liable.

Read from the ledger alone, so it covers leads intmon delivered and leads the
platform recorded. A lead's state is its latest ledger row in the period;
each failed, expired or rejected lead is judged by the pure rule
`integrations.leads.liability.liable_party` with the evidence (maintenance
windows, incidents, change notices, platform outages) loaded here: reading the
incidents and outages is why it sits in alerts, above the lead ledger.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select

from alerts.models import Incident, PlatformOutage
from core.db import table_of
from integrations.contracts import change_evidence
from integrations.leads.delivery import LeadOutcome
from integrations.leads.ledger import ATTEMPTS
from integrations.leads.liability import (
    Failure,
    IncidentSpan,
    Liability,
    Notice,
    OutageSpan,
    Party,
    Window,
    liable_party,
)
from integrations.leads.notices import list_notices
from integrations.maintenance import list_windows

INCIDENTS = table_of(Incident)
OUTAGES = table_of(PlatformOutage)
JUDGED = (
    "rejected",
    "expired",
    "failed_auth",
    "failed_connection",
    "failed_server",
    "failed_contract",
    "failed_config",
)


@dataclass(frozen=True, slots=True)
class JudgedLead:
    integration_id: str
    lead_id: str
    outcome: str
    at: datetime
    party: str
    reason: str
    evidence: list[str]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


@dataclass
class LeadReport:
    start: datetime
    end: datetime
    integrations: list[str]
    outcomes: Counter[str] = field(default_factory=Counter)
    liability: Counter[str] = field(default_factory=Counter)
    leads: list[JudgedLead] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "integrations": self.integrations,
            "total": self.total,
            "outcomes": dict(sorted(self.outcomes.items())),
            "liability": {party.value: self.liability.get(party.value, 0) for party in Party},
            "leads": [lead.as_dict() for lead in self.leads],
        }


def build_report(
    engine: Engine, integration_ids: Sequence[str], start: datetime, end: datetime
) -> LeadReport:
    report = LeadReport(start, end, list(integration_ids))
    with engine.connect() as connection:
        rows = connection.execute(
            select(ATTEMPTS)
            .where(
                ATTEMPTS.c.integration_id.in_(list(integration_ids)),
                ATTEMPTS.c.at >= start,
                ATTEMPTS.c.at < end,
            )
            .order_by(ATTEMPTS.c.integration_id, ATTEMPTS.c.lead_id, ATTEMPTS.c.at, ATTEMPTS.c.id)
        ).all()
        evidence = {i: load_evidence(connection, i, start, end) for i in integration_ids}
    for (integration_id, _lead_id), history in _by_lead(rows).items():
        last = history[-1]
        report.outcomes[last.outcome] += 1
        if last.outcome not in JUDGED:
            continue
        failure = failure_of(history)
        liability = liable_party(failure, *evidence[integration_id])
        report.liability[liability.party.value] += 1
        report.leads.append(_judged(failure, liability))
    return report


def _by_lead(rows: Iterable[Any]) -> dict[tuple[str, str], list[Any]]:
    grouped: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        grouped.setdefault((row.integration_id, row.lead_id), []).append(row)
    return grouped


def failure_of(history: Sequence[Any]) -> Failure:
    """The moment that is judged: the last row's time, except for an expired lead,
    judged at what made it expire: its last failed attempt (with that attempt's
    outcome), or the moment it expired when it was still held then (what held it)."""
    last = history[-1]
    at, cause = last.at, None
    if last.outcome == LeadOutcome.EXPIRED:
        before = [
            r
            for r in history[:-1]
            if r.outcome == LeadOutcome.HELD or r.outcome.startswith("failed_")
        ]
        if before and before[-1].outcome != LeadOutcome.HELD:
            at, cause = before[-1].at, before[-1].outcome
        elif before:
            cause = LeadOutcome.HELD.value
    return Failure(
        integration_id=last.integration_id,
        lead_id=last.lead_id,
        at=at,
        outcome=last.outcome,
        attempt_ids=tuple(r.id for r in history if r.outcome != LeadOutcome.HELD)[-3:],
        duplicate="duplicate" in (last.detail or ""),
        cause=cause,
    )


def _judged(failure: Failure, liability: Liability) -> JudgedLead:
    return JudgedLead(
        failure.integration_id,
        failure.lead_id,
        failure.outcome,
        failure.at,
        liability.party.value,
        liability.reason,
        liability.evidence,
    )


def load_evidence(
    connection: Connection, integration_id: str, start: datetime, end: datetime
) -> tuple[list[Window], list[IncidentSpan], list[Notice], list[OutageSpan]]:
    """Everything the liability rule may need for one integration and period."""
    # Windows and incidents that began before the period can still cover it.
    since = start - timedelta(days=30)
    windows = [
        Window(stored.name, span_start, span_end)
        for stored in list_windows(connection, [integration_id])
        for span_start, span_end in stored.window.occurrences(since, end)
    ]
    incidents = [
        IncidentSpan(row.id, row.family, row.first_seen, row.resolved_at, _changes(row))
        for row in connection.execute(
            select(
                INCIDENTS.c.id,
                INCIDENTS.c.family,
                INCIDENTS.c.first_seen,
                INCIDENTS.c.resolved_at,
                INCIDENTS.c.contract_diff,
            )
            .where(INCIDENTS.c.integration_id == integration_id, INCIDENTS.c.first_seen < end)
            .where((INCIDENTS.c.resolved_at.is_(None)) | (INCIDENTS.c.resolved_at >= since))
        )
    ]
    notices = [
        Notice(n.id, n.name, n.announced_at, n.effective_at, n.breaking)
        for n in list_notices(connection, [integration_id])
    ]
    return windows, incidents, notices, load_outages(connection, since, end)


def load_outages(connection: Connection, start: datetime, end: datetime) -> list[OutageSpan]:
    """The platform outages overlapping [start, end): the platform's, whatever the integration."""
    return [
        OutageSpan(row.id, row.started_at, row.ended_at, row.cause, row.detail)
        for row in connection.execute(
            select(
                OUTAGES.c.id,
                OUTAGES.c.started_at,
                OUTAGES.c.ended_at,
                OUTAGES.c.cause,
                OUTAGES.c.detail,
            )
            .where(OUTAGES.c.started_at < end)
            .where(OUTAGES.c.ended_at.is_(None) | (OUTAGES.c.ended_at > start))
            .order_by(OUTAGES.c.started_at)
        )
    ]


def _changes(incident: Any) -> tuple[str, ...]:
    """What the incident's failing answer changed against the learned contract, when
    that shows the broker changed something: a status alone (200 → 401) does not, as
    our own credential may have expired."""
    evidence = change_evidence(incident)
    if evidence is None or not evidence.shape_changed:
        return ()
    return tuple(change.text for change in evidence.changes)


def judge_leads(
    connection: Connection, integration_id: str, lead_ids: Iterable[str]
) -> dict[str, Liability]:
    """The liability of each of these leads of one integration, from its whole ledger
    history; delivered (or still waiting) leads are left out. The evidence is loaded
    once for all of them: a burst of expiries costs three queries, not three each."""
    wanted = sorted(set(lead_ids))
    if not wanted:
        return {}
    rows = connection.execute(
        select(ATTEMPTS)
        .where(ATTEMPTS.c.integration_id == integration_id, ATTEMPTS.c.lead_id.in_(wanted))
        .order_by(ATTEMPTS.c.lead_id, ATTEMPTS.c.at, ATTEMPTS.c.id)
    ).all()
    histories = {
        lead_id: history
        for (_integration, lead_id), history in _by_lead(rows).items()
        if history[-1].outcome in JUDGED
    }
    if not histories:
        return {}
    start = min(history[0].at for history in histories.values())
    end = max(history[-1].at for history in histories.values()) + timedelta(seconds=1)
    evidence = load_evidence(connection, integration_id, start, end)
    return {
        lead_id: liable_party(failure_of(history), *evidence)
        for lead_id, history in histories.items()
    }


def judge_lead(connection: Connection, integration_id: str, lead_id: str) -> Liability | None:
    """The liability of one lead from its whole ledger history (None when delivered)."""
    return judge_leads(connection, integration_id, [lead_id]).get(lead_id)
