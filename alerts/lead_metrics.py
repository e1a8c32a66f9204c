"""`intmon_leads_total{integration,outcome,liability}`: every ledger entry, counted once.

`liability` is the party the rule names for a lead that was not delivered
(broker, platform, undetermined), judged with the evidence known when the
entry was written; `none` for deliveries and holds. The report is the place
for the final word: evidence added later (a notice) can change a judgement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import Engine

from alerts.lead_report import JUDGED, judge_leads
from core.metrics import leads_total
from integrations.leads.queue import DispatchReport


def publish(engine: Engine, events: Iterable[tuple[str, str, str]]) -> None:
    events = list(events)
    to_judge: dict[str, list[str]] = defaultdict(list)
    for integration_id, lead_id, outcome in events:
        if outcome in JUDGED:
            to_judge[integration_id].append(lead_id)
    judged: dict[tuple[str, str], str] = {}
    if to_judge:
        with engine.connect() as connection:
            for integration_id, lead_ids in to_judge.items():
                verdicts = judge_leads(connection, integration_id, lead_ids)
                for lead_id, verdict in verdicts.items():
                    judged[integration_id, lead_id] = verdict.party.value
    for integration_id, lead_id, outcome in events:
        party = "none"
        if outcome in JUDGED:
            party = judged.get((integration_id, lead_id), "undetermined")
        leads_total.labels(integration_id, outcome, party).inc()


def publish_leads(engine: Engine, report: DispatchReport) -> None:
    if report.events:
        publish(engine, report.events)
