"""Retention never changes what a verdict cites: incidents, tickets, their evidence,
the lead ledger and the lead report's verdicts outlive the raw results."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select

from alerts.lead_report import build_report, judge_lead
from checks.engine import ProbeSettings
from checks.loop import EngineThread
from core.db import Base, utcnow
from integrations.results import count_results
from integrations.retention import Retention, prune
from tests.alerts.test_contract_changes import AFTER, BEFORE, register, run, the_incident
from tests.alerts.test_contract_changes import verdict_for_a_lead_lost_now as lead_lost_now
from tests.conftest import Partner

RAW = {"check_results"}


def everything_but_raw_results(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as connection:
        return {
            table.name: sorted(
                (dict(row._mapping) for row in connection.execute(select(table))), key=repr
            )
            for table in Base.metadata.sorted_tables
            if table.name not in RAW
        }


def test_retention_leaves_incidents_tickets_and_lead_verdicts_unchanged(
    db_engine: Engine, partner: Partner
) -> None:
    probes = EngineThread(ProbeSettings(event_loop="asyncio"))
    try:
        specs = register(db_engine, partner)
        partner.body = BEFORE
        run(db_engine, probes, specs, 2)
        partner.status, partner.body = 422, AFTER
        run(db_engine, probes, specs, 3)
    finally:
        probes.close()
    verdict = lead_lost_now(db_engine)
    assert verdict[0] == "broker"  # an unannounced change, read off the incident
    incident = the_incident(db_engine)
    assert incident["state"] == "open" and incident["evidence"] and incident["contract_diff"]
    now = utcnow()
    report = build_report(db_engine, ["broker"], now - timedelta(days=1), now + timedelta(days=1))
    before = everything_but_raw_results(db_engine)
    assert before["tickets"] and before["lead_attempts"]
    assert count_results(db_engine) == 5

    # A month later every raw result is gone...
    prune(db_engine, Retention(days=14), now + timedelta(days=30))
    assert count_results(db_engine) == 0

    # ...and nothing a verdict cites changed: incident, evidence, ticket, ledger, verdicts.
    assert everything_but_raw_results(db_engine) == before
    assert the_incident(db_engine) == incident
    later = build_report(db_engine, ["broker"], now - timedelta(days=1), now + timedelta(days=1))
    assert later.as_dict() == report.as_dict()
    with db_engine.connect() as connection:
        again = judge_lead(connection, "broker", "L1")
    assert again is not None
    assert (again.party.value, again.reason, again.evidence) == verdict
