"""Answers of `/api/integrations…` and `/api/incidents`: integrations with their check
states, results, run-now reports, incidents and maintenance windows."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from core.vocabulary.outcomes import Outcome
from integrations.config import Kind
from integrations.staleness import QuietReason
from integrations.tiers import Tier
from intmon.api.schemas.common import Answer, Timestamp


class CheckSummary(Answer):
    name: str
    method: str
    path: str


class CheckState(Answer):
    """A check's latest state (`integrations.staleness.state_rows`). A stale check that
    never produced a result has only its name, `outcome: null` and its freshness: the
    fields of a result are null then."""

    integration_id: str
    check_name: str
    outcome: Outcome | None = Field(description="null: the check has never produced a result.")
    up: bool | None = None
    streak: int | None = None
    since: Timestamp | None = None
    started_at: Timestamp | None = None
    duration_s: float | None = None
    http_status: int | None = None
    detail: str | None = None
    inhibited: bool | None = Field(
        default=None, description="Its latest result was held back by a platform outage."
    )
    certificate_expires_at: float | None = Field(
        default=None, description="Unix time the partner's TLS certificate expires, if seen."
    )
    stale: bool
    stale_reason: QuietReason | None
    seconds_since_result: float | None = Field(
        default=None, description="null for a check no longer configured or not enabled."
    )


class Integration(Answer):
    """An integration as summarised (never its auth, headers or bodies: they may name
    secrets) with each check's state."""

    id: str
    name: str
    kind: Kind
    client: str
    tier: Tier
    base_url: str
    enabled: bool
    production: bool
    interval_s: float
    timeout_s: float
    checks: list[CheckSummary]
    states: list[CheckState]


class CheckResult(Answer):
    """One stored result (`check_results`), newest first."""

    id: int
    integration_id: str
    check_name: str
    scheduled_at: Timestamp | None
    started_at: Timestamp
    duration_s: float
    http_status: int | None
    outcome: Outcome
    detail: str
    response_excerpt: str
    warnings: list[str]
    maintenance: bool = Field(description="Ran inside a maintenance window: never counted.")
    inhibited: bool = Field(description="Held back by a platform outage: not counted.")


class CheckRunResult(Answer):
    check: str = Field(description="The check's name in the integrations file.")
    outcome: Outcome = Field(description="One of the outcomes (ok, slow, auth_failure, …).")
    http_status: int | None = Field(description="The partner's status code, if it answered.")
    duration_ms: float = Field(description="Wall time of the check, retries included.")
    started_at: Timestamp = Field(description="When the check started (UTC).")
    detail: str = Field(description="Why it got its outcome; secrets are redacted.")
    response_excerpt: str = Field(description="The start of the answer; secrets redacted.")
    warnings: list[str] = Field(description="Non-failing observations (certificate expiry).")
    retry_after_s: float | None = Field(description="The partner's Retry-After on a 429.")


class IncidentChanges(Answer):
    opened: list[int] = Field(description="Incidents these results opened.")
    reopened: list[int] = Field(description="Resolved incidents they reopened (flap window).")
    resolved: list[int] = Field(description="Incidents they resolved.")
    tickets_opened: list[str] = Field(description="Numbers of the tickets opened for them.")


class CheckRun(Answer):
    integration: str = Field(description="The integration id.")
    results: list[CheckRunResult] = Field(description="One per check run, in file order.")
    incidents: IncidentChanges = Field(description="What recording the results changed.")


class Incident(Answer):
    """`alerts.queries.IncidentView`."""

    id: int
    integration_id: str
    family: str
    state: str = Field(description="open or resolved")
    opened_at: Timestamp
    resolved_at: Timestamp | None
    first_seen: Timestamp
    last_seen: Timestamp
    failures: int
    last_outcome: Outcome
    flapping: bool
    reopened: int
    ticket: str | None = Field(description="The linked ticket's number.")
    contract_changes: list[str] = Field(
        description="Auth and contract incidents: how the answer differs from the learned one."
    )
    last_passing_at: Timestamp | None


class MaintenanceWindow(Answer):
    integration: str
    name: str
    source: str = Field(description="config (the integrations file), cli or api")
    description: str
    reason: str | None
    active: bool
    active_until: Timestamp | None
    next_start: Timestamp | None
    now: str = Field(description='For people: "active until …", "next …" or "over".')
    spec: dict[str, Any] = Field(description="The window as declared.")
