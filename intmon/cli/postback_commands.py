"""`intmon postbacks list`: each broker's postback monitor over its window.

Postback monitors are declared in the integrations file (`postbacks:`); brokers
post to `/postbacks/<integration>`. Here each monitor shows the leads the broker
accepted in its window, how many it sent a postback about, the ratio and the
state the leader's next pass will record. The rules live in
`integrations.postbacks.monitor`.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from intmon.cli.output import console, fail, print_json, when

postbacks_app = typer.Typer(
    name="postbacks",
    help="Postback monitors: a broker that stops calling back about accepted leads opens "
    "an incident.",
    no_args_is_help=True,
)
STATE_STYLE = {"ok": "green", "too_few_leads": "dim", "missed": "red"}


def register(app: typer.Typer) -> None:
    app.add_typer(postbacks_app)


@postbacks_app.command("list")
def postbacks_list(
    integration: Annotated[
        str | None, typer.Option("--integration", "-i", help="Only this integration.")
    ] = None,
    format_: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Each postback monitor: leads accepted in the window, with a postback, ratio, state."""
    from core.db import utcnow
    from integrations.postbacks.monitor import monitor_views
    from integrations.registry import load_specs
    from intmon.cli.database import open_database

    if format_ not in ("table", "json"):
        fail(f"--format: one of table, json; not {format_!r}")
    engine = open_database(migrate=False)
    specs = load_specs(engine, None if integration is None else [integration])
    if integration is not None and integration not in specs:
        fail(f"--integration: unknown integration {integration!r}")
    views = monitor_views(engine, [registered.spec for registered in specs.values()], utcnow())
    if format_ == "json":
        print_json([view.as_dict() for view in views])
        return
    table = Table(title="Postback monitors")
    for column in ("integration", "window", "leads", "with postback", "ratio", "min ratio"):
        table.add_column(column, no_wrap=True)
    for column in ("received", "last received", "state"):
        table.add_column(column, no_wrap=True)
    table.add_column("detail", overflow="fold")
    for v in views:
        style = STATE_STYLE.get(v.state, "red")
        table.add_row(
            escape(v.integration_id),
            f"{v.window_s:g} s",
            str(v.leads),
            str(v.with_postback),
            "-" if v.ratio is None else f"{v.ratio:.0%}",
            f"{v.min_ratio:.0%}",
            str(v.received),
            when(v.last_received_at),
            f"[{style}]{v.state}[/{style}]",
            escape(v.detail),
        )
    console.print(table)
    if not views:
        console.print("[dim]no integration declares postbacks: in the integrations file[/dim]")
