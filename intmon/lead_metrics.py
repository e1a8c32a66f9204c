"""`intmon_leads_total{integration,outcome,liability}`: every ledger entry, counted once.

`liability` is the party the rule names for a lead that was not delivered
(broker, platform, undetermined), judged with the evidence known when the
entry was written; `none` for deliveries and holds. The report is the place
for the final word: evidence added later (a notice) can change a judgement.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine

from integrations.leads.dispatch import DispatchReport
from integrations.leads.report import JUDGED, judge_lead
from intmon.metrics import leads_total


def publish(engine: Engine, events: Iterable[tuple[str, str, str]]) -> None:
    with engine.connect() as connection:
        for integration_id, lead_id, outcome in events:
            liability = "none"
            if outcome in JUDGED:
                judged = judge_lead(connection, integration_id, lead_id)
                liability = judged.party.value if judged else "undetermined"
            leads_total.labels(integration_id, outcome, liability).inc()


def publish_leads(engine: Engine, report: DispatchReport) -> None:
    if report.events:
        publish(engine, report.events)
