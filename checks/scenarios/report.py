"""What one scenario run produced: a `ScenarioReport` with a `StepReport` per step.

Plain data, built by the runner and already redacted (`redacted`): every secret
the run resolved or extracted is `[REDACTED]` in every string, so a report may
be printed, stored, served by the API and attached to a CI job as it is.
`as_dict` / `from_dict` are the JSON form (also what the database keeps).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.redaction import redact, redact_data

__all__ = ["ScenarioReport", "StepReport", "StepStatus", "redact_data"]


class StepStatus(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # the partner answered, but not as the scenario expects
    ERROR = "error"  # no usable answer, or the step could not be built
    SKIPPED = "skipped"  # an earlier step failed, or a value it needs is missing


@dataclass(slots=True)
class StepReport:
    name: str
    phase: str  # "step" | "cleanup"
    kind: str  # "request" | "callback"
    status: StepStatus
    # Set when the step failed or errored: the class of what went wrong.
    outcome: Outcome | None = None
    detail: str = ""
    started_at: datetime | None = None
    duration_s: float = 0.0
    attempts: int = 0  # requests sent (polling sends several)
    extracted: dict[str, Any] = field(default_factory=dict)
    request: dict[str, Any] = field(default_factory=dict)  # method, url, headers, body
    response: dict[str, Any] = field(default_factory=dict)  # status, headers, excerpt

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["outcome"] = self.outcome.value if self.outcome else None
        data["started_at"] = self.started_at.isoformat() if self.started_at else None
        data["duration_ms"] = round(self.duration_s * 1000, 1)
        del data["duration_s"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepReport:
        started = data.get("started_at")
        return cls(
            name=data["name"],
            phase=data["phase"],
            kind=data["kind"],
            status=StepStatus(data["status"]),
            outcome=Outcome(data["outcome"]) if data.get("outcome") else None,
            detail=data.get("detail", ""),
            started_at=datetime.fromisoformat(started) if started else None,
            duration_s=float(data.get("duration_ms", 0.0)) / 1000,
            attempts=int(data.get("attempts", 0)),
            extracted=dict(data.get("extracted", {})),
            request=dict(data.get("request", {})),
            response=dict(data.get("response", {})),
        )


@dataclass(slots=True)
class ScenarioReport:
    run_id: str
    integration_id: str
    scenario: str
    status: StepStatus  # passed, failed or error (never skipped)
    started_at: datetime
    duration_s: float
    steps: list[StepReport] = field(default_factory=list)
    # The first failing step's outcome class; ok when the run passed.
    outcome: Outcome = Outcome.OK
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status is StepStatus.PASSED

    @property
    def failing_step(self) -> StepReport | None:
        return next((s for s in self.steps if s.status in _BAD), None)

    def counts(self) -> dict[str, int]:
        out = {status.value: 0 for status in StepStatus}
        for step in self.steps:
            out[step.status.value] += 1
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "integration": self.integration_id,
            "scenario": self.scenario,
            "status": self.status.value,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "started_at": self.started_at.isoformat(),
            "duration_ms": round(self.duration_s * 1000, 1),
            "counts": self.counts(),
            "steps": [step.as_dict() for step in self.steps],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScenarioReport:
        return cls(
            run_id=data["run_id"],
            integration_id=data["integration"],
            scenario=data["scenario"],
            status=StepStatus(data["status"]),
            started_at=datetime.fromisoformat(data["started_at"]),
            duration_s=float(data["duration_ms"]) / 1000,
            steps=[StepReport.from_dict(step) for step in data.get("steps", [])],
            outcome=Outcome(data.get("outcome", "ok")),
            detail=data.get("detail", ""),
        )

    def as_check_result(self, check_name: str, scheduled_at: datetime | None = None) -> CheckResult:
        """The run as a check result (scheduled runs: incidents of family `e2e`)."""
        failing = self.failing_step
        total = len(self.steps)
        detail = (
            f"{self.detail} (run {self.run_id}; intmon e2e show {self.run_id})"
            if failing is not None
            else f"all {total} steps passed (run {self.run_id})"
        )
        response = failing.response if failing is not None else {}
        status = response.get("status")
        return CheckResult(
            integration_id=self.integration_id,
            check_name=check_name,
            outcome=self.outcome,
            started_at=self.started_at,
            duration_s=self.duration_s,
            http_status=status if isinstance(status, int) else None,
            detail=detail,
            response_excerpt=str(response.get("excerpt", ""))[:512],
            scheduled_at=scheduled_at,
        )

    def redacted(self, secrets: Iterable[str]) -> ScenarioReport:
        """A copy with every secret value replaced by `[REDACTED]` in every string."""
        known = frozenset(s for s in secrets if s)
        if not known:
            return self
        steps = [
            replace(
                step,
                detail=redact(step.detail, known),
                extracted=redact_data(step.extracted, known),
                request=redact_data(step.request, known),
                response=redact_data(step.response, known),
            )
            for step in self.steps
        ]
        return replace(self, steps=steps, detail=redact(self.detail, known))


_BAD = (StepStatus.FAILED, StepStatus.ERROR)
