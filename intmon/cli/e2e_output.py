"""Tables of `intmon e2e`: a run's steps, the run history, a load test's figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from intmon.cli.output import console, when

STATUS_STYLE = {"passed": "green", "failed": "red", "error": "red", "skipped": "dim"}


def status_text(status: str) -> str:
    style = STATUS_STYLE.get(status, "yellow")
    return f"[{style}]{status}[/{style}]"


def report_table(report: Any) -> Table:
    title = (
        f"{report.integration_id}/{report.scenario}: {status_text(report.status.value)} "
        f"in {report.duration_s:.2f} s  (run {report.run_id})"
    )
    table = Table(title=title)
    for column in ("step", "status", "outcome", "HTTP", "ms", "tries", "extracted / detail"):
        table.add_column(column, justify="right" if column in ("HTTP", "ms", "tries") else "left")
    for step in report.steps:
        name = step.name if step.phase == "step" else f"cleanup: {step.name}"
        extracted = ", ".join(f"{k}={v}" for k, v in step.extracted.items())
        table.add_row(
            escape(name),
            status_text(step.status.value),
            step.outcome.value if step.outcome else "",
            str(step.response.get("status" if step.kind == "request" else "method", "")),
            f"{step.duration_s * 1000:.0f}",
            str(step.attempts or ""),
            escape("; ".join(part for part in (extracted, step.detail) if part)[:120]),
        )
    return table


def print_reports(reports: Sequence[Any]) -> None:
    for report in reports:
        console.print(report_table(report))
    passed = sum(1 for r in reports if r.passed)
    style = "green" if passed == len(reports) else "red"
    console.print(f"[{style}]{passed}/{len(reports)} scenario(s) passed[/{style}]")


def runs_table(runs: Sequence[dict[str, Any]]) -> Table:
    table = Table(title=f"e2e runs: {len(runs)}")
    for column in (
        "created",
        "run",
        "integration",
        "scenario",
        "trigger",
        "status",
        "ms",
        "detail",
    ):
        table.add_column(column)
    for run in runs:
        table.add_row(
            when(run["created_at"]),
            run["run_id"],
            run["integration"],
            run["scenario"],
            run["trigger"],
            status_text(run["status"]),
            "" if run["duration_ms"] is None else f"{run['duration_ms']:.0f}",
            escape((run["detail"] or "")[:80]),
        )
    return table


def load_table(integration: str, request: str, report: Any) -> Table:
    table = Table(title=f"load test {integration}/{request}", show_header=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    latency = report.latency_ms()
    rows = [
        ("asked", f"{report.asked_rps:g}/s for {report.duration_s:g} s"),
        ("achieved", f"{report.achieved_rps:.1f}/s"),
        ("sent / completed", f"{report.sent} / {report.completed}"),
        *((f"latency {k}", "-" if v is None else f"{v:.1f} ms") for k, v in latency.items()),
        ("budget", report.budget),
        ("not sent", ", ".join(f"{k} {v}" for k, v in report.not_sent.items() if v) or "0"),
    ]
    for outcome, count in sorted(report.outcomes.items()):
        rows.append((f"outcome {outcome}", str(count)))
    for name, value in rows:
        table.add_row(name, value)
    return table
