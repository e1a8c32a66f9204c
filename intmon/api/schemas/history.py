"""What `GET /api/reports/monthly?format=json` answers (alerts.monthly_report)."""

from __future__ import annotations

from pydantic import Field

from intmon.api.schemas.common import Answer, Timestamp
from intmon.api.schemas.leads import LeadReport


class CheckMonth(Answer):
    check: str | None
    total: int
    up: int
    down: int
    maintenance: int
    inhibited: int
    ratio: float | None = Field(description="up / (up + down); null when nothing counted.")


class IncidentOfMonth(Answer):
    id: int
    family: str
    checks: list[str]
    opened_at: Timestamp
    resolved_at: Timestamp | None = Field(description="null: still open.")
    seconds_in_month: float


class IntegrationMonth(Answer):
    integration: str
    name: str
    total: int
    up: int
    down: int
    maintenance: int
    inhibited: int
    ratio: float | None
    maintenance_seconds: float
    checks: list[CheckMonth]
    incidents: list[IncidentOfMonth]


class MonthlyReport(Answer):
    """A client's month: availability per integration and check (maintenance and
    platform outages not counted), the month's incidents, and the lead report."""

    client: str
    month: str
    from_: Timestamp = Field(alias="from")
    to: Timestamp
    integrations: list[IntegrationMonth]
    leads: LeadReport
