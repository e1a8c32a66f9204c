"""What a dispatch pass shares between the leads it sends and those it does not.

Which leads are due, the pass report, and how a pass writes a lead's new state
and its ledger row. `dispatch` (sending) and `holding` (holding, expiring) both
change lead rows and append to the ledger through these, so a hold, an expiry
and an answer leave the same kind of trace; living here, they let the two
modules import them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from core.vocabulary.outcomes import CheckResult
from integrations.leads.delivery import LeadOutcome
from integrations.leads.ledger import LEADS, insert_attempts
from integrations.results import storable

WAITING = ("queued", "held")


@dataclass
class DispatchReport:
    sent: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    held: int = 0
    expired: int = 0
    deferred: int = 0
    # (integration, lead id, outcome) of every ledger row written, for the metrics.
    events: list[tuple[str, str, str]] = field(default_factory=list)

    def count(self, outcome: str, n: int = 1) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + n

    def note(self, lead: Any, outcome: LeadOutcome) -> None:
        self.count(outcome)
        self.events.append((lead.integration_id, lead.lead_id, outcome.value))

    def merge(self, other: DispatchReport) -> None:
        self.sent += other.sent
        self.held += other.held
        self.expired += other.expired
        self.deferred += other.deferred
        for outcome, n in other.outcomes.items():
            self.count(outcome, n)
        self.events.extend(other.events)


def _due(connection: Connection, integration_id: str, now: datetime, limit: int) -> list[Any]:
    return list(
        connection.execute(
            select(LEADS)
            .where(
                LEADS.c.integration_id == integration_id,
                LEADS.c.state.in_(WAITING),
                LEADS.c.next_attempt_at <= now,
            )
            .order_by(LEADS.c.received_at, LEADS.c.id)
            .limit(limit)
        ).all()
    )


def _set(connection: Connection, row_id: int, **values: Any) -> None:
    connection.execute(update(LEADS).where(LEADS.c.id == row_id).values(**values))


def _ledger(
    connection: Connection,
    lead: Any,
    outcome: LeadOutcome,
    now: datetime,
    *,
    sends: int | None = None,
    result: CheckResult | None = None,
    detail: str = "",
    broker_id: str | None = None,
    request: dict[str, Any] | None = None,
) -> None:
    insert_attempts(
        connection,
        [
            {
                "integration_id": lead.integration_id,
                "lead_id": lead.lead_id,
                "attempt": lead.sends if sends is None else sends,
                "at": now,
                "source": "deliver",
                "outcome": outcome.value,
                "check_outcome": result.outcome.value if result else None,
                "http_status": result.http_status if result else None,
                "duration_s": result.duration_s if result else None,
                "broker_lead_id": broker_id,
                "request": request,
                "response_excerpt": storable(result.response_excerpt) if result else "",
                "detail": storable(detail),
            }
        ],
    )
