"""Run one integration's checks once, now, and record them exactly as a worker does.

The API's "run checks now" (a tester after a partner deploy, support after a
fix) is built on it. Nothing here is new machinery:

    checks.engine.ProbeEngine       the probe engine of `intmon check` and the worker
    alerts.intake.ingest            results, streaks, incidents and tickets, one transaction
    intmon.metrics.observe_results  the check metrics the worker middleware records

so a run now moves streaks and opens or resolves incidents like a scheduled
run. The messages such a change queues go out with the next housekeeping tick
of the scheduler. Secrets are resolved in this process, so it needs the
integration's `${ENV}` / `${file:…}` references as the worker has them; the
results it returns are redacted like every result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from alerts.incidents import Transitions
from alerts.intake import ingest
from alerts.policy import policy_of
from alerts.tickets import ticket_number
from checks.engine import ProbeEngine
from checks.metrics import observe_results
from core.settings import Settings
from core.vocabulary.outcomes import CheckResult
from integrations.config import CheckSpec, IntegrationSpec


@dataclass(frozen=True, slots=True)
class RunReport:
    integration_id: str
    results: list[CheckResult]
    transitions: Transitions

    def as_dict(self) -> dict[str, Any]:
        done = self.transitions
        return {
            "integration": self.integration_id,
            "results": [result_view(result) for result in self.results],
            "incidents": {
                "opened": done.opened,
                "reopened": done.reopened,
                "resolved": done.resolved,
                "tickets_opened": [ticket_number(t) for t in done.tickets_opened],
            },
        }


def result_view(result: CheckResult) -> dict[str, Any]:
    """A result as JSON; `detail` and `response_excerpt` are redacted by the probe."""
    return {
        "check": result.check_name,
        "outcome": result.outcome.value,
        "http_status": result.http_status,
        "duration_ms": round(result.duration_s * 1000, 1),
        "started_at": result.started_at.isoformat(),
        "detail": result.detail,
        "response_excerpt": result.response_excerpt,
        "warnings": list(result.warnings),
        "retry_after_s": result.retry_after_s,
    }


def run_now(
    engine: Engine, settings: Settings, spec: IntegrationSpec, checks: Sequence[CheckSpec]
) -> RunReport:
    """Probe `checks` of `spec` concurrently, record the results, update the metrics."""
    from worker.runtime import probe_settings

    async def probe() -> list[CheckResult]:
        probes = ProbeEngine(probe_settings(settings))
        try:
            return await probes.run_batch([(spec, check, None) for check in checks])
        finally:
            await probes.aclose()

    results = asyncio.run(probe())
    transitions = ingest(engine, results, {spec.id: spec}, policy_of(settings))
    # The up gauge means "every check of the integration": only a full run may set it.
    observe_results(results, every_check=len(checks) == len(spec.checks))
    return RunReport(spec.id, results, transitions)
