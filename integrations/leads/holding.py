"""The leads a dispatch pass does not send: held, or expired instead.

A pass over one integration first expires the leads past their maximum hold
time (`max_hold_s`): one ledger row each, and the platform is told through the
outbox in the same transaction, so the message cannot be lost. The rest wait
while the integration is under maintenance or the caller's hold rule holds it
(in intmon, `alerts.lead_holds`: an open auth or connectivity incident): sent
into an integration known to be down, they would only fail and use up their
retries. They are `held` instead (one ledger row per hold, not per
recheck; no send is counted), looked at again in `RECHECK`, and go out in
arrival order through `dispatch` once the integration recovers.

An integration removed from the registry, or whose delivery block was dropped,
sends nothing; its queued leads still expire on time, so nothing waits forever
and the report says what became of them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from integrations.config import IntegrationSpec
from integrations.leads import expiry
from integrations.leads.delivery import LeadOutcome
from integrations.leads.queue import DispatchReport, _due, _ledger, _set
from integrations.maintenance import windows_by_integration

RECHECK = timedelta(seconds=5)


class HoldRule(Protocol):
    """Which of `integration_ids` are held at `now`, each with the reason the ledger
    keeps (absent: not held). It reads in the pass's own transaction (`connection`).

    The caller hands it in because what holds leads in intmon is an open incident,
    and incidents belong to `alerts`, a layer above this one (see the import-linter
    layers in pyproject.toml): `alerts.lead_holds.open_incident_holds`."""

    def __call__(
        self, connection: Connection, integration_ids: Collection[str], now: datetime, /
    ) -> Mapping[str, str]: ...


def hold_reason(
    connection: Connection, integration_id: str, now: datetime, hold: HoldRule
) -> str | None:
    """Why leads must wait now, or None: maintenance first, then the hold rule."""
    for window in windows_by_integration(connection, [integration_id]).get(integration_id, []):
        if window.active_at(now):
            return f"maintenance: {window.describe()}"
    return hold(connection, [integration_id], now).get(integration_id)


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
