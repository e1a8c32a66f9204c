"""Shared output helpers: one console, JSON for machines, exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.errors import ConfigError

console = Console()
errors = Console(stderr=True)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

OUTCOME_STYLE = {
    Outcome.OK: "green",
    Outcome.SLOW: "yellow",
    Outcome.RATE_LIMITED: "yellow",
}


def outcome_text(outcome: Outcome | str) -> str:
    style = OUTCOME_STYLE.get(Outcome(outcome), "red")
    return f"[{style}]{outcome}[/{style}]"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=_default, ensure_ascii=False, indent=2) + "\n")


def fail(message: str) -> NoReturn:
    """One line on stderr and exit 2: the answer to input the domain refuses."""
    errors.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_BAD_INPUT)


STDIN = "-"


def read_input(file: str | Path) -> str:
    """The text of a file argument; `-` reads standard input (every file argument
    takes it, so a command can sit at the end of a pipe)."""
    try:
        if str(file) == STDIN:
            return sys.stdin.read()
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{file}: cannot read: {exc}")


def write_output(file: str | Path, text: str) -> bool:
    """Write a report to a file argument; `-` writes it to standard output. True when
    it went there, so the command prints nothing else (the output stays one document)."""
    if str(file) == STDIN:
        sys.stdout.write(text)
        sys.stdout.flush()
        return True
    try:
        Path(file).write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{file}: cannot write: {exc}")
    return False


@contextmanager
def refused() -> Iterator[None]:
    """Report the permanent refusals of the alerts and maintenance rules with `fail`.

    Their messages name the ticket or field at fault; anything else is a bug
    and keeps its traceback.
    """
    try:
        yield
    except Exception as error:
        from alerts.errors import AlertsError
        from integrations.maintenance import MaintenanceError

        if isinstance(error, AlertsError | MaintenanceError):
            fail(str(error))
        raise


def when(moment: datetime | None) -> str:
    """A UTC moment to the minute, for tables."""
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"


def fail_config(error: ConfigError, as_json: bool) -> typer.Exit:
    """Report every problem of a bad file and return the exit to raise."""
    if as_json:
        print_json(
            {
                "valid": False,
                "source": error.source,
                "problems": [
                    {"line": p.line, "field": p.field, "message": p.message} for p in error.problems
                ],
            }
        )
    else:
        errors.print(f"[red]{error.source}: {len(error.problems)} problem(s)[/red]")
        for problem in error.problems:
            errors.print(
                f"  {error.source}:{problem.line or '-'}  {problem.field or '(file)'}: "
                f"{problem.message}",
                markup=False,
                highlight=False,
            )
    return typer.Exit(EXIT_BAD_INPUT)


def result_dict(result: CheckResult) -> dict[str, Any]:
    return {
        "integration": result.integration_id,
        "check": result.check_name,
        "outcome": result.outcome.value,
        "http_status": result.http_status,
        "duration_ms": round(result.duration_s * 1000, 1),
        "started_at": result.started_at,
        "detail": result.detail,
        "warnings": list(result.warnings),
        "retry_after_s": result.retry_after_s,
    }


def results_table(results: Sequence[CheckResult], title: str = "Check results") -> Table:
    table = Table(title=title)
    for column in ("integration", "check", "outcome", "status", "ms", "detail"):
        table.add_column(column, justify="right" if column in ("status", "ms") else "left")
    for r in results:
        detail = r.detail + ("".join(f" ⚠ {w}" for w in r.warnings))
        table.add_row(
            r.integration_id,
            r.check_name,
            outcome_text(r.outcome),
            str(r.http_status or "-"),
            f"{r.duration_s * 1000:.0f}",
            escape(detail[:120]),  # a partner's words, not rich markup
        )
    return table
