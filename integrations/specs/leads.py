"""The integrations file's lead blocks: `delivery` (how a lead is sent to the broker),
`change_notices` (the broker's announcements of technical changes) and `lead_flow`
(the bounds a broker's answers must stay within, integrations.leads.flow).

A delivery body is JSON whose string values are templates over the lead
(`integrations.lead_templates`): they are compiled when the file is validated,
rendered for each lead by the delivery adapter (`integrations.leads.delivery`).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, field_validator, model_validator

from core.vocabulary.assertions import compile_assertion
from integrations.lead_templates import compile_body
from integrations.strict import SLUG, Strict, compile_regex, status_patterns
from integrations.windows import aware

HTTP_METHODS = ("POST", "PUT", "PATCH", "GET")


class DuplicateRule(Strict):
    """How the broker says "I already have this lead": a status, and optionally a
    pattern its answer must contain. Deciding this is what makes a resend after a
    lost answer safe: a duplicate answer to a resend means the first one arrived."""

    status: list[int] = Field(default_factory=lambda: [409])
    body_pattern: str | None = None

    @field_validator("body_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            compile_regex(value)
        return value


class DeliverySpec(Strict):
    method: str = "POST"
    path: str = Field(default="/leads", pattern=r"^/")
    # Header values may hold `${ENV}` secret references, as check headers do.
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] = Field(min_length=1)
    # Fields every lead must carry (checked at submission, before anything is stored).
    required_fields: list[str] = Field(default_factory=list)
    # A good answer: these statuses and these JSON assertions (checks' syntax).
    success_status: list[int | str] = Field(default_factory=lambda: list[int | str](["2xx"]))
    success_json: list[str] = Field(default_factory=list)
    # Where the broker's own id of the lead is in its answer.
    lead_id_path: str | None = None
    duplicate: DuplicateRule = Field(default_factory=DuplicateRule)
    # Sent with every attempt; the broker may deduplicate on it.
    idempotency_header: str | None = "Idempotency-Key"
    # Leads in flight at once for this integration; 1 keeps the broker's arrival order.
    concurrency: int = Field(default=1, ge=1, le=64)
    # A lead not delivered this long after it arrived is expired and reported.
    max_hold_s: float = Field(default=86_400.0, gt=0)
    # Requests per second the partner allows, shared by checks and deliveries;
    # checks may use at most `checks_share` of it, so monitoring never eats the
    # quota that real leads need.
    rate_limit_rps: float | None = Field(default=None, gt=0)
    checks_share: float = Field(default=0.2, ge=0, le=1)
    # Told (POST, JSON) when a lead expires; the platform re-routes it.
    expired_webhook: str | None = None

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        upper = value.upper()
        if upper not in HTTP_METHODS:
            raise ValueError(f"unknown method {value!r}; use one of {', '.join(HTTP_METHODS)}")
        return upper

    @field_validator("success_status")
    @classmethod
    def _statuses(cls, values: list[int | str]) -> list[int | str]:
        return status_patterns(values)

    @field_validator("success_json")
    @classmethod
    def _assertions(cls, values: list[str]) -> list[str]:
        for text in values:
            compile_assertion(text)
        return values

    @field_validator("lead_id_path")
    @classmethod
    def _lead_id_path(cls, value: str | None) -> str | None:
        if value is not None:
            compile_assertion(f"{value} exists")
        return value

    @model_validator(mode="after")
    def _templates(self) -> DeliverySpec:
        compile_body(self.body)  # raises ValueError naming the bad template
        if self.expired_webhook is not None and not re.match(r"^https?://", self.expired_webhook):
            raise ValueError("expired_webhook must be an http:// or https:// URL")
        return self


class ChangeNoticeSpec(Strict):
    """A broker's announcement: when it was announced, when the change takes effect."""

    id: str = Field(pattern=SLUG)
    announced_at: datetime
    effective_at: datetime
    description: str = Field(min_length=1, max_length=2000)
    breaking: bool = True

    @field_validator("announced_at", "effective_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a time zone offset, e.g. 2026-11-23T10:00:00+00:00")
        return aware(value)

    @model_validator(mode="after")
    def _order(self) -> ChangeNoticeSpec:
        if self.effective_at < self.announced_at:
            raise ValueError("effective_at is before announced_at")
        return self

    @property
    def lead_time(self) -> timedelta:
        return self.effective_at - self.announced_at


# The judgement's results are stored as this check (a name no configured check can take).
LEAD_FLOW_CHECK = "leads:flow"


class LeadFlowSpec(Strict):
    """When a broker's answers drift from its own recent normal (integrations.leads.flow):

        lead_flow: {window_s: 3600, min_leads: 20, acceptance_drop: 0.25, latency_factor: 3}

    The last `window_s` is compared with the same hour of the week over the last
    `baseline_weeks` weeks. An anomaly is acceptance (delivered / answered) at least
    `acceptance_drop` below the baseline's, or a median delivery time over
    `latency_factor` times the baseline's; neither is judged on fewer than
    `min_leads` answered leads, now or in the baseline."""

    window_s: float = Field(default=3600.0, ge=300, le=86_400)
    min_leads: int = Field(default=20, ge=1, le=1_000_000)
    acceptance_drop: float = Field(default=0.25, gt=0, le=1)
    latency_factor: float | None = Field(default=3.0, gt=1, le=1000)
    baseline_weeks: int = Field(default=4, ge=1, le=12)
