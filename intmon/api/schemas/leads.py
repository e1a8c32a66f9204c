"""Answers of the lead ledger, the liability report and change notices."""

from __future__ import annotations

from pydantic import Field

from intmon.api.schemas.common import Answer, Timestamp


class Accepted(Answer):
    stored: int = Field(description="How many were new.")
    duplicates: list[str] = Field(description="Lead ids already stored (sent before).")


class JudgedLead(Answer):
    integration_id: str
    lead_id: str
    outcome: str
    at: Timestamp
    party: str = Field(description="broker, platform or undetermined")
    reason: str
    evidence: list[str] = Field(description='Ids of the evidence: "notice:auth-v2", "incident:7".')


class Liability(Answer):
    broker: int
    platform: int
    undetermined: int


class LeadReport(Answer):
    from_: Timestamp = Field(alias="from", serialization_alias="from")
    to: Timestamp
    integrations: list[str]
    total: int
    outcomes: dict[str, int] = Field(description="Leads by their latest outcome.")
    liability: Liability = Field(description="Leads not delivered, by who is liable.")
    leads: list[JudgedLead]


class Notice(Answer):
    id: int
    integration_id: str
    name: str
    announced_at: Timestamp
    effective_at: Timestamp
    description: str
    breaking: bool
    source: str = Field(description="config (the integrations file), cli or api")
    lead_time_h: float = Field(description="Hours between announcement and effect.")


class Reason(Answer):
    reason: str
    count: int


class FlowWindow(Answer):
    delivered: int
    rejected: int
    acceptance: float | None = Field(description="delivered / (delivered + rejected).")
    median_delivery_s: float | None
    top_reasons: list[Reason] = Field(description="Rejection reasons, most frequent first.")


class LeadFlow(Answer):
    """A broker's last window against the same hours of past weeks (lead_flow)."""

    integration: str
    name: str
    at: Timestamp = Field(description="The end of the window judged.")
    window_s: float
    state: str = Field(description="normal, anomaly, or unjudged (too few leads).")
    detail: str = Field(description="What drifted, in one sentence.")
    now: FlowWindow
    usual: FlowWindow
