"""The leads a dispatch pass does not send: held, or expired instead.

A pass over one integration first expires the leads past their maximum hold
time (`max_hold_s`): one ledger row each, and the platform is told through the
outbox in the same transaction, so the message cannot be lost. The rest wait
while the integration is under maintenance or has an open auth or connectivity
incident: sent into an integration known to be down, they would only fail and
use up their retries. They are `held` instead (one ledger row per hold, not per
recheck; no send is counted), looked at again in `RECHECK`, and go out in
arrival order through `dispatch` once the integration recovers.

An integration removed from the registry, or whose delivery block was dropped,
sends nothing; its queued leads still expire on time, so nothing waits forever
and the report says what became of them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select

from alerts.models import Incident
from core.db import table_of
from integrations.config import IntegrationSpec
from integrations.leads import expiry
from integrations.leads.delivery import LeadOutcome
from integrations.leads.queue import DispatchReport, _due, _ledger, _set
from integrations.maintenance import windows_by_integration

INCIDENTS = table_of(Incident)
HOLDING_FAMILIES = ("auth", "connectivity")
RECHECK = timedelta(seconds=5)


def hold_reason(connection: Connection, integration_id: str, now: datetime) -> str | None:
    """Why leads must wait now, or None: maintenance first, then an open incident."""
    for window in windows_by_integration(connection, [integration_id]).get(integration_id, []):
        if window.active_at(now):
            return f"maintenance: {window.describe()}"
    family = connection.execute(
        select(INCIDENTS.c.family, INCIDENTS.c.id)
        .where(
            INCIDENTS.c.integration_id == integration_id,
            INCIDENTS.c.state == "open",
            INCIDENTS.c.family.in_(HOLDING_FAMILIES),
        )
        .order_by(INCIDENTS.c.id)
    ).first()
    return None if family is None else f"open {family.family} incident #{family.id}"


def _expire(
    connection: Connection,
    spec: IntegrationSpec | None,
    leads: list[Any],
    now: datetime,
    report: DispatchReport,
) -> list[Any]:
    """Expire the leads past their hold limit; returns the others."""
    live = []
    for lead in leads:
        if lead.expires_at > now:
            live.append(lead)
            continue
        if spec is None or spec.delivery is None:
            detail = "its integration no longer delivers leads"
        else:
            detail = f"not delivered within {spec.delivery.max_hold_s:g} s"
        _ledger(connection, lead, LeadOutcome.EXPIRED, now, detail=detail)
        _set(connection, lead.id, state="expired", last_outcome="expired", updated_at=now)
        if spec is not None:
            expiry.announce(connection, spec, lead, now)
        report.expired += 1
        report.note(lead, LeadOutcome.EXPIRED)
    return live


def _expire_orphans(engine: Engine, integration_id: str, now: datetime) -> DispatchReport:
    report = DispatchReport()
    with engine.begin() as connection:
        _expire(connection, None, _due(connection, integration_id, now, 1000), now, report)
    return report


def _hold(
    connection: Connection,
    integration_id: str,
    leads: list[Any],
    reason: str,
    now: datetime,
    report: DispatchReport,
) -> None:
    for lead in leads:
        if lead.state != "held":
            _ledger(connection, lead, LeadOutcome.HELD, now, detail=reason)
            report.held += 1
            report.note(lead, LeadOutcome.HELD)
        _set(
            connection,
            lead.id,
            state="held",
            next_attempt_at=now + RECHECK,
            last_outcome="held",
            updated_at=now,
        )
