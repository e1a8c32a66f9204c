"""Postback monitors: the ingest endpoint's answer and `GET /api/postbacks`."""

from __future__ import annotations

from pydantic import Field

from intmon.api.schemas.common import Answer, Timestamp


class PostbackReceived(Answer):
    duplicate: bool = Field(description="true: this event id was stored before; nothing new.")
    linked: bool = Field(description="Whether the ledger knows the lead by the broker's id.")
    lead_id: str | None = Field(description="The platform's id of the lead, when linked.")


class PostbackMonitor(Answer):
    integration_id: str
    check_name: str = Field(description="The synthetic check its results are stored as.")
    window_s: float
    min_ratio: float
    min_leads: int
    leads: int = Field(description="Distinct leads the broker accepted in the window.")
    with_postback: int = Field(description="Of those, leads it sent a postback about.")
    ratio: float | None = Field(description="with_postback / leads; null without leads.")
    received: int = Field(description="Postbacks received in the window.")
    last_received_at: Timestamp | None
    state: str = Field(description="ok, missed or too_few_leads")
    detail: str
