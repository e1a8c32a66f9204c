"""`intmon validate`, `apply`, `check` and `status`: working with the integrations file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from intmon.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    STDIN,
    console,
    errors,
    fail_config,
    outcome_text,
    print_json,
    read_input,
    result_dict,
    results_table,
)

if TYPE_CHECKING:
    from core.vocabulary.outcomes import CheckResult
    from integrations.config import IntegrationsFile
    from integrations.staleness import Freshness

FileArg = Annotated[
    Path, typer.Argument(help="Integrations YAML file, or - for stdin.", show_default=False)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(apply)
    app.command()(check)
    app.command()(status)


def load_config_arg(file: Path, as_json: bool) -> IntegrationsFile:
    """The configuration a FILE argument names (`-`: stdin); exit 2 naming each problem."""
    from integrations.errors import ConfigError
    from intmon.config_file import load_config, load_config_text

    try:
        if str(file) == STDIN:
            return load_config_text(read_input(file), source="<stdin>")
        return load_config(file)
    except ConfigError as error:
        raise fail_config(error, as_json) from None


def validate(file: FileArg, as_json: JsonOpt = False) -> None:
    """Validate an integrations file: exit 0, or exit 2 listing every error with its line.

    Warnings (valid but doubtful settings, e.g. an SLA breach routed to a role no
    contact holds) are printed and do not change the exit code."""
    config = load_config_arg(file, as_json)
    checks = sum(len(i.checks) for i in config.integrations)
    warnings = config.warnings
    if as_json:
        print_json(
            {
                "valid": True,
                "integrations": len(config.integrations),
                "checks": checks,
                "warnings": [
                    {"line": w.line, "field": w.field, "message": w.message} for w in warnings
                ],
            }
        )
        return
    console.print(
        f"[green]{file}: valid[/green] — {len(config.integrations)} integrations, {checks} checks"
    )
    if warnings:
        sys.stdout.flush()  # the verdict first, then its warnings on stderr
        errors.print(f"[yellow]{len(warnings)} warning(s)[/yellow]")
    for warning in warnings:
        errors.print(
            f"  {file}:{warning.line or '-'}  {warning.field}: {warning.message}",
            markup=False,
            highlight=False,
        )


def apply(file: FileArg, as_json: JsonOpt = False) -> None:
    """Sync the file into the database (idempotent): report added, changed, removed."""
    from intmon.cli.database import open_database
    from intmon.config_file import apply_config

    config = load_config_arg(file, as_json)
    engine = open_database(migrate=True)
    report = apply_config(engine, config)
    if as_json:
        print_json(report.as_dict())
        return
    table = Table(title=f"Applied {file}")
    table.add_column("change")
    table.add_column("integrations")
    for change, ids in report.as_dict().items():
        table.add_row(change, ", ".join(ids) or "-")
    console.print(table)


def check(
    file: FileArg,
    integration: Annotated[
        list[str] | None,
        typer.Option("--integration", "-i", help="Only this integration (repeatable)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the checks now, once, and exit 1 if any is not ok (for test pipelines)."""
    import asyncio

    from checks.engine import ProbeEngine
    from core.settings import get_settings
    from worker.runtime import probe_settings

    config = load_config_arg(file, as_json)
    selected = [i for i in config.integrations if not integration or i.id in integration]
    unknown = sorted(set(integration or []) - {i.id for i in config.integrations})
    if unknown:
        errors.print(f"[red]unknown integration(s): {', '.join(unknown)}[/red]")
        raise typer.Exit(EXIT_BAD_INPUT)
    items = [(spec, check_spec, None) for spec in selected for check_spec in spec.checks]
    unreadable = _unreadable(selected)

    async def run_all() -> list[CheckResult]:
        engine = ProbeEngine(probe_settings(get_settings()))
        try:
            return await engine.run_batch(items)
        finally:
            await engine.aclose()

    if as_json:
        results = asyncio.run(run_all())
        print_json([result_dict(r) for r in results])
    else:
        with console.status(f"running {len(items)} checks…"):
            results = asyncio.run(run_all())
        console.print(results_table(results))
        for found in unreadable:
            errors.print(f"[red]cannot run as configured:[/red] {escape(str(found))}")
    if unreadable or any(r.outcome != "ok" for r in results):
        raise typer.Exit(EXIT_FAILED)


def _unreadable(specs: list[Any]) -> list[Any]:
    from integrations.references import unreadable_references

    return unreadable_references({"integrations": [s.model_dump(mode="json") for s in specs]})


def status(
    integration: Annotated[str | None, typer.Option("--integration", "-i")] = None,
    history: Annotated[
        int,
        typer.Option(help="With -i: also show this many latest results, newest first."),
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Show the latest result of every check from the database (and, with
    `-i ID --history N`, that integration's recent results). An open platform
    outage (intmon's own network failing) is shown above the table; `--json`
    prints {"platform_outage": null or the outage, "checks": [...]}."""
    from alerts.platform_outages import current_outage
    from core.db import utcnow
    from integrations.results import current_states
    from integrations.staleness import check_freshness, state_rows
    from intmon.cli.database import open_database

    engine = open_database(migrate=False)
    if history:
        if integration is None:
            errors.print("--history needs --integration/-i")
            raise typer.Exit(EXIT_BAD_INPUT)
        _history(engine, integration, history, as_json)
        return
    states = current_states(engine, integration)
    fresh = check_freshness(engine, utcnow(), integration)
    outage = current_outage(engine)
    if as_json:
        print_json({"platform_outage": outage_dict(outage), "checks": state_rows(states, fresh)})
        return
    if outage is not None:
        console.print(outage_banner(outage))
    shown = {(s.integration_id, s.check_name) for s in states}
    # Configured checks that never produced a result; listed once they are stale.
    silent = sorted(key for key, f in fresh.items() if f.stale and key not in shown)
    table = Table(title="Check state")
    for column in STATUS_COLUMNS:
        table.add_column(column)
    for s in states:
        table.add_row(
            s.integration_id,
            s.check_name,
            outcome_text(s.outcome),
            str(s.http_status or "-"),
            f"{s.duration_s * 1000:.0f}",
            str(s.streak),
            s.since.strftime("%Y-%m-%d %H:%M:%S"),
            stale_text(fresh.get((s.integration_id, s.check_name))),
            # A partner's words are text, not rich markup (and "[held back…]" is not a style).
            escape(("[held back: platform outage] " if s.inhibited else "") + s.detail[:80]),
        )
    for key in silent:
        table.add_row(*key, "-", "-", "-", "-", "-", stale_text(fresh[key]), "no result yet")
    console.print(table)


STATUS_COLUMNS = (
    "integration",
    "check",
    "outcome",
    "status",
    "ms",
    "streak",
    "since",
    "fresh",
    "detail",
)


def stale_text(fresh: Freshness | None) -> str:
    """For a check gone quiet, e.g. "stale 12m: budget"; else empty."""
    if fresh is None or not fresh.stale or fresh.reason is None:
        return ""
    minutes = int(fresh.seconds_since_result // 60)
    age = f"{minutes}m" if minutes < 120 else f"{minutes // 60}h"
    return f"[red]stale {age}: {fresh.reason.value}[/red]"


def outage_dict(outage: dict[str, Any] | None) -> dict[str, Any] | None:
    if outage is None:
        return None
    keys = ("id", "cause", "outcome", "started_at", "opened_at", "detail", "evidence")
    return {key: outage[key] for key in keys}


def outage_banner(outage: dict[str, Any]) -> str:
    return (
        f"[bold red]Platform outage #{outage['id']}[/bold red] since "
        f"{outage['started_at']:%Y-%m-%d %H:%M:%S} UTC ({outage['cause']}, "
        f"{outage['outcome']}): {escape(outage['detail'])}\n"
        "intmon's own network or resolver is failing: partner connectivity incidents, "
        "tickets and messages are held back until it clears."
    )


def _history(engine: Any, integration: str, limit: int, as_json: bool) -> None:
    from integrations.results import history

    rows = history(engine, integration, limit=limit)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{integration}: latest {len(rows)} results")
    for column in ("started", "check", "outcome", "status", "ms", "maintenance", "detail"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["started_at"].strftime("%Y-%m-%d %H:%M:%S"),
            row["check_name"],
            outcome_text(row["outcome"]),
            str(row["http_status"] or "-"),
            f"{row['duration_s'] * 1000:.0f}",
            "yes" if row["maintenance"] else "",
            escape(row["detail"][:80]),
        )
    console.print(table)
