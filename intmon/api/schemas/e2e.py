"""Answers of the scenario runs: a triggered run, the history, one run with its report."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from intmon.api.schemas.common import Answer, StoredDocument, Timestamp


class RunLinks(Answer):
    url: str = Field(description="The run's status (absolute); `?wait=SECONDS` long-polls.")
    junit_url: str = Field(description="Its JUnit XML once it has ended (absolute).")


class TriggeredRun(RunLinks):
    run_id: str = Field(description="32 hex characters; also the callbacks' credential.")
    status: str = Field(description="queued")


class StepReport(StoredDocument):
    name: str
    phase: str = Field(description="step or cleanup")
    kind: str = Field(description="request or callback")
    status: str = Field(description="passed, failed, error or skipped")
    outcome: str | None = Field(default=None, description="The class of what went wrong.")
    detail: str = ""
    started_at: Timestamp | None = None
    duration_ms: float = 0.0
    attempts: int = 0
    extracted: dict[str, Any] = Field(default_factory=dict)
    request: dict[str, Any] = Field(default_factory=dict)
    response: dict[str, Any] = Field(default_factory=dict)


class ScenarioReport(StoredDocument):
    """What the run produced, secrets redacted (`checks.scenarios.report`)."""

    run_id: str
    integration: str
    scenario: str
    status: str = Field(description="passed, failed or error")
    outcome: str = "ok"
    detail: str = ""
    started_at: Timestamp
    duration_ms: float
    counts: dict[str, int] = Field(default_factory=dict, description="Steps by status.")
    steps: list[StepReport] = Field(default_factory=list)


class Run(Answer):
    """One run as listed (`integrations.e2e_store.view`), without its report."""

    run_id: str
    integration: str
    scenario: str
    trigger: str = Field(description="api, cli or schedule")
    status: str = Field(description="queued, running, passed, failed or error")
    outcome: str | None
    detail: str
    requested_by: str | None
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    duration_ms: float | None


class RunDetail(Run, RunLinks):
    report: ScenarioReport | None = Field(description="null until the run has ended.")


class CallbackAccepted(Answer):
    callback: str = Field(description="accepted, or duplicate (the first one counts)")
