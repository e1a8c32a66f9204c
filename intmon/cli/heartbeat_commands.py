"""`intmon heartbeats list | rotate`: push monitors and their ping URLs.

Heartbeats are declared in the integrations file (`heartbeats:`) and created by
`intmon apply`; here they are listed with their ping URLs (built from
`INTMON_PUBLIC_URL`) and given new ping keys. The rules live in
`integrations.heartbeats`.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from intmon.cli.output import console, fail, print_json, when

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

heartbeats_app = typer.Typer(
    name="heartbeats",
    help="Heartbeats: jobs that ping intmon; silence past the grace opens an incident.",
    no_args_is_help=True,
)
STATE_STYLE = {"up": "green", "new": "dim", "missed": "red", "failed": "red"}


def register(app: typer.Typer) -> None:
    app.add_typer(heartbeats_app)


@heartbeats_app.command("list")
def heartbeats_list(
    integration: Annotated[
        str | None, typer.Option("--integration", "-i", help="Only this integration.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Each heartbeat with its ping URL, last ping, next due time and state."""
    from core.settings import get_settings
    from integrations.heartbeats.store import list_heartbeats
    from intmon.cli.database import open_database

    public_url = get_settings().public_url
    views = list_heartbeats(
        open_database(migrate=False), None if integration is None else [integration]
    )
    if as_json:
        print_json([view.as_dict(public_url) for view in views])
        return
    table = Table(title="Heartbeats")
    for column in ("integration", "heartbeat", "expects", "state", "last ping", "next due"):
        table.add_column(column, no_wrap=True)
    table.add_column("ping URL", overflow="fold")
    for v in views:
        expects = (
            f"every {v.period_s:g} s"
            if v.period_s is not None
            else f"{v.schedule} {v.timezone or 'UTC'}"
        )
        style = STATE_STYLE.get(v.state, "red")
        table.add_row(
            escape(v.integration_id),
            escape(v.name),
            escape(f"{expects}, grace {v.grace_s:g} s"),
            f"[{style}]{v.state}[/{style}]",
            when(v.last_ping_at),
            when(v.next_due_at),
            escape(v.ping_url(public_url)),
        )
    console.print(table)
    if public_url is None and views:
        console.print("[dim]set INTMON_PUBLIC_URL to print full ping URLs[/dim]")


@heartbeats_app.command("rotate")
def heartbeats_rotate(
    name: Annotated[str, typer.Argument(help="Heartbeat name.", show_default=False)],
    integration: Annotated[
        str, typer.Option("--integration", "-i", help="Its integration.", show_default=False)
    ],
    as_json: JsonOpt = False,
) -> None:
    """Issue a new ping key: the old URL answers 404 at once; update the job's cron line."""
    from core.settings import get_settings
    from integrations.heartbeats.store import HeartbeatNotFound, rotate_key
    from intmon.cli.database import open_database

    try:
        key = rotate_key(open_database(migrate=False), integration, name)
    except HeartbeatNotFound as error:
        fail(str(error))
    url = f"{(get_settings().public_url or '').rstrip('/')}/ping/{key}"
    if as_json:
        print_json({"integration_id": integration, "name": name, "ping_url": url})
    else:
        console.print(f"new ping URL of {escape(integration)}/{escape(name)}: {escape(url)}")
