"""drift-broker's history in the lead ledger, for the demo's lead-flow anomaly.

A lead-flow judgement compares the last hour with the same hour of the past four
weeks (`integrations.leads.flow`); the demo cannot wait four weeks, so it records
the broker's answers the way a platform imports its own delivery log
(`intmon leads record`): four ordinary weeks in which the broker accepted 19 of
every 20 leads, and a last hour in which it refused 12 of 20 as duplicates. The
worker's housekeeping pass then judges the hour and opens the incident.

Its postbacks stop the same hour (issue 25: the demo shows a broker whose
postbacks stop): it called back about every lead it accepted in the ordinary
weeks, a minute after each, and about none of the last hour's, so the
postback monitor (a one-hour window) opens `missed_postbacks`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine

from integrations.leads.ledger import AttemptIn, record
from integrations.postbacks.store import PostbackIn, Received, record_postbacks

INTEGRATION = "drift-broker"
WEEKS = 4
PER_HOUR = 20


def seed_lead_history(engine: Engine, now: datetime) -> int:
    """Record the ordinary weeks and the bad last hour before `now`, and the postbacks
    of the ordinary weeks; how many answers."""
    answers = _hour(now, accepted=8, tag="now")
    weeks = []
    for week in range(1, WEEKS + 1):
        weeks += _hour(now - week * timedelta(days=7), accepted=19, tag=f"w{week}")
    stored = len(record(engine, answers + weeks, {INTEGRATION}).stored)
    record_postbacks(
        engine,
        [
            Received(
                INTEGRATION,
                PostbackIn(event_id=f"pb-{a.lead_id}", lead_id=a.broker_lead_id, status="approved"),
                a.at + timedelta(minutes=1),
            )
            for a in weeks
            if a.broker_lead_id is not None
        ],
    )
    return stored


def _hour(end: datetime, *, accepted: int, tag: str) -> list[AttemptIn]:
    made = []
    for n in range(PER_HOUR):
        refused = n >= accepted
        made.append(
            AttemptIn.model_validate(
                {
                    "lead_id": f"demo-{tag}-{n}",
                    "integration": INTEGRATION,
                    "at": end - timedelta(minutes=58) + timedelta(minutes=2.9 * n),
                    "outcome": "rejected" if refused else "delivered",
                    "http_status": 409 if refused else 201,
                    "duration_s": 0.25,
                    "detail": "duplicate phone" if refused else "",
                    # The broker's own id for a lead it took: its postbacks name it.
                    "broker_lead_id": None if refused else f"drift-{tag}-{n}",
                }
            )
        )
    return made
