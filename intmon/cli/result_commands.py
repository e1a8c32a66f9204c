"""`intmon results import`: backfill past check results for a dispute (alerts.backfill)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import Progress

from intmon.cli.output import EXIT_BAD_INPUT, console, errors, print_json, read_input

results_app = typer.Typer(
    name="results", help="Check results: backfill past ones.", no_args_is_help=True
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
    from integrations.registry import load_specs
    from intmon import db
    from intmon.cli.database import open_database
    from intmon.settings import get_settings

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
                get_settings().policy(),
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
