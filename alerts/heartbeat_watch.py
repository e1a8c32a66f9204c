"""Heartbeat results into the incident pipeline: the detector's misses and the pings' news.

`integrations.heartbeats` decides what a ping or a silence means and yields
plain `CheckResult`s (check `heartbeat:<name>`); this module hands them to
`alerts.intake.ingest` like a worker hands a batch of probe results, so
maintenance windows, platform outages, incidents, tickets and notifications
treat a heartbeat as any other check.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine

from alerts.incidents import Transitions
from alerts.intake import ingest
from alerts.policy import Policy
from core.vocabulary.outcomes import CheckResult
from integrations.heartbeats.detector import detect_missed
from integrations.registry import load_specs

log = logging.getLogger(__name__)


def ingest_heartbeat_results(
    engine: Engine, results: Sequence[CheckResult], policy: Policy, now: datetime | None = None
) -> Transitions:
    """Store `results` and move incidents, with the specs of their integrations."""
    if not results:
        return Transitions()
    ids = sorted({r.integration_id for r in results})
    specs = {key: registered.spec for key, registered in load_specs(engine, ids).items()}
    return ingest(engine, results, specs, policy, now)


def watch_heartbeats(engine: Engine, policy: Policy, now: datetime) -> Transitions:
    """The leader's pass: record a miss for every heartbeat past due + grace."""
    missed = detect_missed(engine, now)
    if missed:
        log.info("heartbeats: %d missed period(s) recorded", len(missed))
    return ingest_heartbeat_results(engine, missed, policy, now)
