"""`intmon results`: backfill past check results for a dispute (`import`, alerts.backfill),
run the retention pass by hand (`prune`) and list PostgreSQL's day partitions
(`partitions`, integrations.retention)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from intmon.cli.output import EXIT_BAD_INPUT, console, errors, print_json, read_input

results_app = typer.Typer(
    name="results",
    help="Check results: backfill past ones, retention, partitions.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(results_app)


@results_app.command("import")
def results_import(
    file: Annotated[str, typer.Argument(help="JSON lines file, or - for stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Store past results ({"integration", "check", "started_at", "outcome", …} per line)
    through the worker's intake, in the order they ran; nobody is notified. One bad
    line refuses the whole file (exit 2, each bad line named)."""
    from alerts.backfill import backfill
    from alerts.errors import BackfillError
    from alerts.policy import policy_of
    from core import db
    from core.settings import get_settings
    from integrations.registry import load_specs
    from intmon.cli.database import open_database

    text = read_input(file)
    engine = open_database(migrate=False)
    specs = {i: r.spec for i, r in load_specs(engine).items()}
    lines = text.splitlines()
    try:
        with Progress(console=console, transient=True, disable=as_json) as bar:
            task = bar.add_task("storing results", total=len(lines))
            report = backfill(
                engine,
                lines,
                specs,
                policy_of(get_settings()),
                db.utcnow(),
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except BackfillError as error:
        if as_json:
            problems = [{"line": line, "message": message} for line, message in error.problems]
            print_json({"stored": 0, "problems": problems})
        for line, message in error.problems:
            errors.print(f"{file}:{line}: {message}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if as_json:
        print_json(report.as_dict())
        return
    console.print(
        f"stored {report.stored} results: {len(report.opened)} incidents opened, "
        f"{len(report.resolved)} resolved, {len(report.tickets_opened)} tickets opened"
    )


@results_app.command("prune")
def results_prune(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would go; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run the retention pass now (housekeeping runs it every few seconds): keep
    INTMON_RESULTS_RETENTION_DAYS whole days of raw results; on PostgreSQL create
    the day partitions ahead, move rows out of DEFAULT, drop expired days; on
    SQLite delete old rows in batches."""
    from core import db
    from core.settings import get_settings
    from integrations.retention import prune, retention_of
    from intmon.cli.database import open_database

    engine = open_database(migrate=False)
    report = prune(engine, retention_of(get_settings()), db.utcnow(), dry_run=dry_run)
    if as_json:
        print_json(report.as_dict())
        return
    verb = "would" if dry_run else "did"
    lines = [
        f"keeping results from {report.keep_from:%Y-%m-%d %H:%M} UTC on ({verb} run):",
        f"  partitions created: {', '.join(report.partitions_created) or 'none'}",
        f"  partitions dropped: {', '.join(report.partitions_dropped) or 'none'}"
        + (f" (~{report.rows_dropped_estimate} rows)" if report.partitions_dropped else ""),
        f"  rows moved out of DEFAULT: {report.rows_moved}",
        f"  rows deleted: {report.rows_deleted}",
    ]
    if report.backlog:
        lines.append("  more old rows are left for the next passes (bounded work per pass)")
    console.print("\n".join(lines), markup=False, highlight=False)


@results_app.command("partitions")
def results_partitions(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the day partitions of check_results on PostgreSQL: name, range, rows
    (PostgreSQL's estimate, '?' before its first ANALYZE). SQLite has none."""
    from integrations.partitions import list_partitions
    from intmon.cli.database import open_database

    engine = open_database(migrate=False)
    if engine.dialect.name != "postgresql":
        if as_json:
            print_json([])
        else:
            console.print("SQLite keeps results in one table: no partitions (see `results prune`).")
        return
    with engine.connect() as connection:
        found = list_partitions(connection)
    if as_json:
        print_json([partition.as_dict() for partition in found])
        return
    table = Table(title="check_results partitions")
    for column in ("name", "from", "to", "rows (estimate)"):
        table.add_column(column, no_wrap=True)
    for partition in found:
        table.add_row(
            escape(partition.name),
            "DEFAULT" if partition.is_default else _bound(partition.lower, "MINVALUE"),
            "" if partition.is_default else _bound(partition.upper, "MAXVALUE"),
            "?" if partition.rows_estimate is None else f"{partition.rows_estimate:,}",
        )
    console.print(table)


def _bound(moment: object, unbounded: str) -> str:
    return unbounded if moment is None else f"{moment:%Y-%m-%d %H:%M}"
