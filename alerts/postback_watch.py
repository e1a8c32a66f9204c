"""Postback monitors into the incident pipeline: the leader's pass over every broker's window.

`integrations.postbacks.monitor` judges each integration's share of accepted
leads that got a postback and yields plain `CheckResult`s (check
`postbacks:ratio`, outcome `missed_postbacks` or `ok`); this module hands them
to `alerts.intake.ingest` like a worker hands a batch of probe results, so
maintenance windows, platform outages, incidents, tickets and notifications
treat a broker's silence as any other failure.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Engine

from alerts.incidents import Transitions
from alerts.intake import ingest
from alerts.policy import Policy
from core.vocabulary.outcomes import Outcome
from integrations.postbacks.monitor import detect
from integrations.registry import load_specs

log = logging.getLogger(__name__)


def watch_postbacks(engine: Engine, policy: Policy, now: datetime) -> Transitions:
    """One result per postback monitor with enough leads to judge, into intake."""
    specs = {
        integration_id: registered.spec
        for integration_id, registered in load_specs(engine).items()
        if registered.spec.postbacks is not None
    }
    results = detect(engine, specs, now)
    if not results:
        return Transitions()
    missed = sum(result.outcome is Outcome.MISSED_POSTBACKS for result in results)
    if missed:
        log.info("postbacks: %d of %d monitor(s) short of postbacks", missed, len(results))
    return ingest(engine, results, specs, policy, now)
