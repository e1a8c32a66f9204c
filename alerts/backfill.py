"""Backfill: past check results stored as if the worker had just produced them.

For disputes: a support engineer reconstructs last week's outage (from a partner's
logs, another monitor's export, a restored backup) and re-runs the lead report.
Each result goes through the worker's own intake (`alerts.intake.ingest`), in the
order the results ran and with the clock at each result's time, so streaks,
maintenance flags, incidents and tickets come out as they would have then.

The whole file is checked before anything is stored: one bad line refuses the
import with its line number and field. A check's history only moves forward
(its streaks are what open and resolve incidents), so results older than what a
check already has are refused rather than rewritten into its past. Nobody is
notified of what happened last week: notifications are muted for the import.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine, select

from alerts import notify
from alerts.errors import BackfillError
from alerts.intake import ingest
from alerts.policy import Policy
from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.config import IntegrationSpec
from integrations.models import CheckState
from integrations.rollups import roll_up_again

MAX_LINES = 100_000
Text = Annotated[str, Field(max_length=2000)]


class PastResult(BaseModel):
    """One line of the file: what a check of a registered integration saw, and when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    integration: str = Field(max_length=64)
    check: str = Field(max_length=64)
    started_at: AwareDatetime
    outcome: Outcome
    duration_s: float = Field(default=0.0, ge=0, le=3600)
    http_status: int | None = Field(default=None, ge=100, le=599)
    detail: Text = ""
    response_excerpt: Text = ""


@dataclass
class BackfillReport:
    stored: int = 0
    opened: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    tickets_opened: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stored": self.stored,
            "incidents_opened": self.opened,
            "incidents_resolved": self.resolved,
            "tickets_opened": self.tickets_opened,
        }


def parse_lines(lines: Iterable[str]) -> list[tuple[int, PastResult]]:
    """Every non-blank line as a PastResult; BackfillError lists every bad one."""
    parsed: list[tuple[int, PastResult]] = []
    problems: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if number > MAX_LINES:
            problems.append((number, f"more than {MAX_LINES} lines; split the file"))
            break
        if not line.strip():
            continue
        try:
            parsed.append((number, PastResult.model_validate(json.loads(line))))
        except json.JSONDecodeError as exc:
            problems.append((number, f"not JSON: {exc.msg} (column {exc.colno})"))
        except ValidationError as exc:
            problems.append((number, _first_error(exc)))
    if problems:
        raise BackfillError(problems)
    return parsed


def backfill(
    engine: Engine,
    lines: Iterable[str],
    specs: Mapping[str, IntegrationSpec],
    policy: Policy,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
) -> BackfillReport:
    """Check the whole file, then ingest its results in the order they ran."""
    parsed = parse_lines(lines)
    latest = _latest_stored(engine)
    problems: list[tuple[int, str]] = []
    for number, item in parsed:
        spec = specs.get(item.integration)
        if spec is None:
            problems.append((number, f"integration: {item.integration!r} is not registered"))
        elif not spec.watches(item.check):
            problems.append((number, f"check: {item.integration} has no check {item.check!r}"))
        elif item.started_at > now:
            problems.append((number, f"started_at: {item.started_at.isoformat()} is in the future"))
        elif (known := latest.get((item.integration, item.check))) and item.started_at <= known:
            problems.append(
                (
                    number,
                    f"started_at: {item.integration}/{item.check} already has results up to "
                    f"{known.isoformat()}; a check's history only moves forward",
                )
            )
    if problems:
        raise BackfillError(problems)
    ordered = sorted((item for _, item in parsed), key=lambda r: r.started_at)
    report = BackfillReport()
    with notify.muted():
        for index, item in enumerate(ordered, start=1):
            done = ingest(engine, [_result(item)], specs, policy, now=item.started_at)
            report.stored += 1
            report.opened += done.opened + done.reopened
            report.resolved += done.resolved
            report.tickets_opened += done.tickets_opened
            if progress is not None:
                progress(index, len(ordered))
    if ordered:
        # Results older than the rollup watermark would otherwise never be summed.
        roll_up_again(engine, ordered[0].started_at, ordered[-1].started_at, now)
    return report


def _result(item: PastResult) -> CheckResult:
    return CheckResult(
        integration_id=item.integration,
        check_name=item.check,
        outcome=item.outcome,
        started_at=item.started_at,
        duration_s=item.duration_s,
        http_status=item.http_status,
        detail=item.detail,
        response_excerpt=item.response_excerpt,
        scheduled_at=item.started_at,
    )


def _latest_stored(engine: Engine) -> dict[tuple[str, str], datetime]:
    table = CheckState.__table__
    with engine.connect() as connection:
        rows = connection.execute(
            select(table.c.integration_id, table.c.check_name, table.c.started_at)
        ).all()
    return {(row[0], row[1]): row[2] for row in rows}


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "line"
    return f"{where}: {error['msg']}"
