"""The monthly report a support engineer sends a client (a broker): availability of
each of its integrations and checks for the month, time under declared maintenance,
the incidents of the month with how long each lasted, and the lead liability
figures of `alerts.lead_report` for the same month (reused, not re-derived).

Surfaces render it: `intmon report monthly` (csv, html, json) and
`GET /api/reports/monthly`. It lives in alerts, not integrations, because it
reads the incidents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, or_, select

from alerts.lead_report import LeadReport, build_report
from alerts.models import Incident
from integrations.models import Integration, MaintenanceWindowRow
from integrations.periods import month_span
from integrations.uptime import Availability, availability
from integrations.windows import overlap_seconds, window_from_dict


@dataclass(frozen=True, slots=True)
class IncidentOfMonth:
    id: int
    family: str
    checks: list[str]
    opened_at: datetime
    resolved_at: datetime | None  # None: still open
    # Of the incident's time, how much fell inside the month (open ones up to
    # the month's end or now, whichever comes first).
    seconds_in_month: float


@dataclass(frozen=True, slots=True)
class IntegrationMonth:
    integration_id: str
    name: str
    availability: Availability
    checks: list[Availability]
    maintenance_seconds: float
    incidents: list[IncidentOfMonth] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    client: str
    month: str
    start: datetime
    end: datetime
    integrations: list[IntegrationMonth]
    leads: LeadReport

    def as_dict(self) -> dict[str, Any]:
        def figures(found: Availability) -> dict[str, Any]:
            return {
                "check": found.check_name,
                "total": found.total,
                "up": found.up,
                "down": found.down,
                "maintenance": found.maintenance,
                "inhibited": found.inhibited,
                "ratio": found.ratio,
            }

        return {
            "client": self.client,
            "month": self.month,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "integrations": [
                {
                    "integration": month.integration_id,
                    "name": month.name,
                    **{k: v for k, v in figures(month.availability).items() if k != "check"},
                    "maintenance_seconds": month.maintenance_seconds,
                    "checks": [figures(check) for check in month.checks],
                    "incidents": [
                        {
                            "id": incident.id,
                            "family": incident.family,
                            "checks": incident.checks,
                            "opened_at": incident.opened_at.isoformat(),
                            "resolved_at": incident.resolved_at.isoformat()
                            if incident.resolved_at
                            else None,
                            "seconds_in_month": incident.seconds_in_month,
                        }
                        for incident in month.incidents
                    ],
                }
                for month in self.integrations
            ],
            "leads": self.leads.as_dict(),
        }


class UnknownClient(ValueError):
    """No integration of this client existed in the month (permanent: bad input)."""


def monthly_report(engine: Engine, client: str, month: str, now: datetime) -> MonthlyReport:
    """The report of `client` for `month` (YYYY-MM). ValueError names a bad field."""
    start, end = month_span(month)
    integrations = _integrations_of(engine, client, start)
    if not integrations:
        raise UnknownClient(f"client: no integration of client {client!r} in {month}")
    ids = [integration_id for integration_id, _name in integrations]
    totals = {a.integration_id: a for a in availability(engine, start, end, integration_ids=ids)}
    per_check: dict[str, list[Availability]] = {}
    for found in availability(engine, start, end, integration_ids=ids, per_check=True):
        per_check.setdefault(found.integration_id, []).append(found)
    maintenance = _maintenance_seconds(engine, ids, start, end)
    incidents = _incidents(engine, ids, start, end, now)
    months = [
        IntegrationMonth(
            integration_id=integration_id,
            name=name,
            availability=totals[integration_id],
            checks=per_check.get(integration_id, []),
            maintenance_seconds=maintenance.get(integration_id, 0.0),
            incidents=incidents.get(integration_id, []),
        )
        for integration_id, name in integrations
    ]
    leads = build_report(engine, ids, start, end)
    return MonthlyReport(client, month, start, end, months, leads)


def _integrations_of(engine: Engine, client: str, start: datetime) -> list[tuple[str, str]]:
    query = (
        select(Integration.id, Integration.name)
        .where(
            Integration.client == client,
            or_(Integration.removed_at.is_(None), Integration.removed_at >= start),
        )
        .order_by(Integration.id)
    )
    with engine.connect() as connection:
        return [(row.id, row.name) for row in connection.execute(query)]


def _maintenance_seconds(
    engine: Engine, ids: list[str], start: datetime, end: datetime
) -> dict[str, float]:
    """Seconds of the month inside the integration's declared maintenance windows
    (as they are declared now: a deleted window no longer counts)."""
    query = select(MaintenanceWindowRow.integration_id, MaintenanceWindowRow.spec).where(
        MaintenanceWindowRow.integration_id.in_(ids)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    windows: dict[str, list[Any]] = {}
    for integration_id, spec in rows:
        windows.setdefault(integration_id, []).append(window_from_dict(spec))
    return {i: overlap_seconds(found, start, end) for i, found in windows.items()}


def _incidents(
    engine: Engine, ids: list[str], start: datetime, end: datetime, now: datetime
) -> dict[str, list[IncidentOfMonth]]:
    """Incidents that were open at some time in the month, oldest first."""
    query = (
        select(Incident)
        .where(
            Incident.integration_id.in_(ids),
            Incident.opened_at < end,
            or_(Incident.resolved_at.is_(None), Incident.resolved_at >= start),
        )
        .order_by(Incident.opened_at, Incident.id)
    )
    found: dict[str, list[IncidentOfMonth]] = {}
    with engine.connect() as connection:
        for row in connection.execute(query):
            until = min(row.resolved_at or now, end, now)
            inside = max(0.0, (until - max(row.opened_at, start)).total_seconds())
            found.setdefault(row.integration_id, []).append(
                IncidentOfMonth(
                    id=row.id,
                    family=row.family,
                    checks=list(row.checks or []),
                    opened_at=row.opened_at,
                    resolved_at=row.resolved_at,
                    seconds_in_month=inside,
                )
            )
    return found
