"""`intmon maintenance add | list | remove`: windows declared from the command line.

Windows from the integrations file (`source=config`) are listed here but change
only with `intmon apply`; windows added here (`source=cli`) stay until removed.
The rules live in `integrations.maintenance` and `integrations.windows`; this
module turns options into a window document and errors back into option names.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from intmon.cli.output import console, errors, fail, print_json, refused

if TYPE_CHECKING:
    from sqlalchemy import Engine


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
IntegrationArg = Annotated[str, typer.Argument(help="Integration id.", show_default=False)]

maintenance_app = typer.Typer(
    name="maintenance",
    help="Maintenance windows: failures inside them open no incident and pause SLA clocks.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(maintenance_app)


# Window fields as the options that set them, for error messages.
OPTION_OF = {
    "starts_at": "--start",
    "ends_at": "--end",
    "weekly.days": "--weekly",
    "weekly.start": "--from-time",
    "weekly.end": "--to-time",
    "weekly": "--weekly",
    "cron": "--cron",
    "duration_minutes": "--duration-minutes",
    "timezone": "--timezone",
    "reason": "--reason",
    "id": "--id",
}
SHAPES = (
    "give exactly one of: --start/--end, --weekly/--from-time/--to-time, "
    "or --cron/--duration-minutes"
)


def in_option_words(message: str) -> str:
    """`weekly.start: …; duration_minutes: required when cron is given` →
    `--from-time: …; --duration-minutes: required when --cron is given`."""

    def option(match: re.Match[str]) -> str:
        loc = match.group(2)
        name = next((OPTION_OF[k] for k in OPTION_OF if loc == k or loc.startswith(k + ".")), loc)
        return f"{match.group(1)}{name}: "

    def partner(match: re.Match[str]) -> str:
        return f"{match.group(1)} {OPTION_OF.get(match.group(2), match.group(2))}"

    message = re.sub(r"(^|; )([a-z_][a-z_.0-9]*): ", option, message)
    message = re.sub(r"(together with|when|than) ([a-z_]+)", partner, message)
    return message.replace("Value error, ", "")


def window_document(
    *,
    start: str | None,
    end: str | None,
    weekly: str | None,
    from_: str | None,
    to: str | None,
    cron: str | None,
    duration_minutes: int | None,
    timezone: str | None,
    reason: str | None,
    id_: str | None,
) -> dict[str, Any]:
    """The `maintenance:` entry the options describe; `integrations.windows` validates it."""
    given = {
        "once": start is not None or end is not None,
        "weekly": weekly is not None or from_ is not None or to is not None,
        "cron": cron is not None or duration_minutes is not None,
    }
    shapes = [shape for shape, present in given.items() if present]
    if len(shapes) != 1:
        fail(SHAPES)
    document: dict[str, Any] = {"timezone": timezone, "reason": reason, "id": id_}
    if shapes == ["once"]:
        document |= {"starts_at": start, "ends_at": end}
    elif shapes == ["weekly"]:
        days = [d.strip().lower() for d in weekly.split(",") if d.strip()] if weekly else None
        schedule = {"days": days, "start": from_, "end": to}
        document["weekly"] = {k: v for k, v in schedule.items() if v is not None}
    else:
        document |= {"cron": cron, "duration_minutes": duration_minutes}
    return {k: v for k, v in document.items() if v is not None}


@maintenance_app.command("add")
def maintenance_add(
    integration: IntegrationArg,
    start: Annotated[str | None, typer.Option(help="One-off: ISO start.")] = None,
    end: Annotated[str | None, typer.Option(help="One-off: ISO end.")] = None,
    weekly: Annotated[str | None, typer.Option(help="Weekly: days, e.g. mon,tue.")] = None,
    from_: Annotated[
        str | None, typer.Option("--from-time", help="Weekly: start, wall clock HH:MM.")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to-time", help="Weekly: end, wall clock HH:MM.")
    ] = None,
    # The names before 2026-12: `--from/--to` mean ISO moments everywhere else.
    old_from: Annotated[str | None, typer.Option("--from", hidden=True)] = None,
    old_to: Annotated[str | None, typer.Option("--to", hidden=True)] = None,
    cron: Annotated[str | None, typer.Option(help="Cron: e.g. '0 2 * * sun'.")] = None,
    duration_minutes: Annotated[int | None, typer.Option(help="Cron: window length.")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone (default UTC).")] = None,
    reason: Annotated[str | None, typer.Option(help="Why (shown with results).")] = None,
    id_: Annotated[str | None, typer.Option("--id", help="Window name (default cli-N).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Declare a maintenance window (one-off, weekly or cron), kept until removed."""
    from integrations.maintenance import MaintenanceError, add_window, as_view

    if old_from is not None or old_to is not None:
        errors.print(
            "warning: --from/--to of a weekly window are now --from-time/--to-time "
            "(--from/--to take ISO moments in every other command)",
            markup=False,
        )
        from_, to = from_ or old_from, to or old_to

    document = window_document(
        start=start,
        end=end,
        weekly=weekly,
        from_=from_,
        to=to,
        cron=cron,
        duration_minutes=duration_minutes,
        timezone=timezone,
        reason=reason,
        id_=id_,
    )
    engine, now = _context()
    try:
        stored = add_window(engine, integration, document, now)
    except MaintenanceError as error:
        fail(in_option_words(str(error)))
    view = as_view(stored, now)
    if as_json:
        print_json(view)
        return
    console.print(
        f"{escape(integration)}: added window {escape(stored.name)}: "
        f"{escape(view['description'])} ({view['now']})",
        soft_wrap=True,
    )


@maintenance_app.command("list")
def maintenance_list(
    integration: Annotated[str | None, typer.Argument(help="Only this integration.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Maintenance windows, from the file (config) and added here (cli), and whether on now."""
    from integrations.maintenance import as_view, list_windows

    engine, now = _context()
    with refused():
        if integration is not None:
            _require_integration(engine, integration)
        stored = list_windows(engine, None if integration is None else [integration])
    views = [as_view(s, now) for s in stored]
    if as_json:
        print_json(views)
        return
    table = Table(title="Maintenance windows")
    for column in ("integration", "name", "source", "window", "now", "reason"):
        table.add_column(column, no_wrap=column in ("name", "source"))
    for v in views:
        style = "yellow" if v["active"] else "dim"
        table.add_row(
            escape(v["integration"]),
            escape(v["name"]),
            v["source"],
            escape(v["description"]),
            f"[{style}]{v['now']}[/{style}]",
            escape(v["reason"]),
        )
    console.print(table)


@maintenance_app.command("remove")
def maintenance_remove(integration: IntegrationArg, name: Annotated[str, typer.Argument()]) -> None:
    """Remove a window added here (windows from the file change with `intmon apply`)."""
    from integrations.maintenance import remove_window

    engine, _now = _context()
    with refused():
        remove_window(engine, integration, name)
    console.print(f"{escape(integration)}: removed window {escape(name)}")


def _context() -> tuple[Engine, datetime]:
    from core import db
    from intmon.cli.database import open_database

    return open_database(migrate=False), db.utcnow()


def _require_integration(engine: Engine, integration_id: str) -> None:
    from sqlalchemy import select

    from integrations.maintenance import MaintenanceError
    from integrations.models import Integration

    with engine.connect() as connection:
        known = connection.execute(
            select(Integration.id).where(Integration.id == integration_id)
        ).first()
    if known is None:
        raise MaintenanceError(f"integration {integration_id!r} is not registered")
