"""Lead-flow judgements into the incident pipeline (integrations.leads.flow).

Run from the housekeeping pass: once per `EVERY_S` slot a process judges every
integration that declares `lead_flow:` and hands the results (check
`leads:flow`) to `alerts.intake.ingest` like a worker's batch, so maintenance
windows, incidents, tickets and notifications treat a drifting broker as any
other failing check. The slot's start is the results' time and the judgement is
skipped where a result for the slot is stored already, so any number of workers
judge each slot once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Engine

from alerts.intake import ingest
from alerts.policy import Policy
from core import metrics
from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.leads.flow import FlowVerdict, assess, slot_of
from integrations.registry import load_specs
from integrations.specs.leads import LEAD_FLOW_CHECK

log = logging.getLogger(__name__)
# The slot this process last judged: the housekeeping pass runs every few seconds,
# the registry is read once per slot.
_judged_slot: datetime | None = None


def watch_lead_flow(engine: Engine, policy: Policy, now: datetime) -> list[FlowVerdict]:
    """Judge this slot's lead flow (once per process and slot); the verdicts made."""
    global _judged_slot
    slot = slot_of(now)
    if _judged_slot == slot:
        return []
    specs = {key: registered.spec for key, registered in load_specs(engine).items()}
    verdicts = assess(engine, specs, now)
    # An unjudged window (too few leads) stores nothing: an open incident neither
    # resolves nor deepens on a quiet night.
    results = [result_of(verdict) for verdict in verdicts if verdict.unjudged is None]
    _judged_slot = slot
    publish(verdicts)
    if results:
        ingest(engine, results, specs, policy, now)
        anomalies = [verdict.sentence() for verdict in verdicts if verdict.anomalous]
        if anomalies:
            log.warning("lead flow: %s", " | ".join(anomalies))
    return verdicts


def result_of(verdict: FlowVerdict) -> CheckResult:
    return CheckResult(
        integration_id=verdict.integration_id,
        check_name=LEAD_FLOW_CHECK,
        outcome=Outcome.LEAD_FLOW_ANOMALY if verdict.anomalous else Outcome.OK,
        started_at=verdict.at,
        duration_s=0.0,
        detail=verdict.sentence(),
    )


def publish(verdicts: list[FlowVerdict]) -> None:
    for verdict in verdicts:
        if verdict.now.acceptance is not None:
            metrics.lead_acceptance.labels(verdict.integration_id).set(verdict.now.acceptance)
        if verdict.usual.acceptance is not None:
            metrics.lead_acceptance_usual.labels(verdict.integration_id).set(
                verdict.usual.acceptance
            )


def forget_slot() -> None:
    """Judge again in the current slot (tests, and `intmon leads flow --record`)."""
    global _judged_slot
    _judged_slot = None
