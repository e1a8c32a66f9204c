"""`intmon notices add | list | remove`: brokers' change notices.

A breaking change the broker announced less than 48 h before it took effect
makes the broker liable for the leads it broke (`integrations.leads.liability`).
Notices from the integrations file are listed here but change only with `intmon apply`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from intmon.cli.output import console, fail, print_json, when

if TYPE_CHECKING:
    from sqlalchemy import Engine

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

notices_app = typer.Typer(
    name="notices",
    help="Brokers' change notices (announced less than 48 h ahead: the broker is liable).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(notices_app)


def _database() -> Engine:
    from intmon.cli.database import open_database

    return open_database(migrate=False)


@notices_app.command("add")
def notices_add(
    integration: Annotated[str, typer.Argument(help="Integration id.")],
    announced: Annotated[
        str, typer.Option("--announced", help="When the broker announced it (ISO, with offset).")
    ],
    effective: Annotated[
        str, typer.Option("--effective", help="When the change takes effect (ISO, with offset).")
    ],
    description: Annotated[str, typer.Option("--description", help="What changes.")],
    breaking: Annotated[
        bool, typer.Option("--breaking/--non-breaking", help="Whether it breaks the integration.")
    ] = True,
    id_: Annotated[
        str | None, typer.Option("--id", help="A name for the notice (default notice-N).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a broker's change notice."""
    from core.db import utcnow
    from integrations.leads.notices import NoticeError, add_notice

    data = {
        "id": id_,
        "announced_at": announced,
        "effective_at": effective,
        "description": description,
        "breaking": breaking,
    }
    try:
        stored = add_notice(_database(), integration, data, utcnow())
    except NoticeError as error:
        fail(
            str(error).replace("announced_at", "--announced").replace("effective_at", "--effective")
        )
    if as_json:
        print_json(stored.as_dict())
    else:
        hours = stored.as_dict()["lead_time_h"]
        console.print(f"{escape(integration)}: notice {escape(stored.name)}, lead time {hours} h")


@notices_app.command("list")
def notices_list(
    integration: Annotated[str | None, typer.Argument(help="Only this integration.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change notices with their lead time (effective − announced)."""
    from integrations.leads.notices import list_notices

    notices = list_notices(_database(), None if integration is None else [integration])
    if as_json:
        print_json([n.as_dict() for n in notices])
        return
    table = Table(title="Change notices")
    for column in (
        "integration",
        "id",
        "announced",
        "effective",
        "lead time",
        "breaking",
        "source",
        "description",
    ):
        table.add_column(column)
    for n in notices:
        lead = n.as_dict()["lead_time_h"]
        style = "red" if n.breaking and lead < 48 else ""
        table.add_row(
            escape(n.integration_id),
            escape(n.name),
            when(n.announced_at),
            when(n.effective_at),
            f"[{style}]{lead} h[/{style}]" if style else f"{lead} h",
            "yes" if n.breaking else "no",
            n.source,
            escape(n.description[:80]),
        )
    console.print(table)


@notices_app.command("remove")
def notices_remove(
    integration: Annotated[str, typer.Argument(help="Integration id.")],
    name: Annotated[str, typer.Argument(help="The notice's id.")],
) -> None:
    """Remove a notice added from the CLI or API."""
    from integrations.leads.notices import NoticeError, remove_notice

    try:
        remove_notice(_database(), integration, name)
    except NoticeError as error:
        fail(str(error))
    console.print(f"{escape(integration)}: removed notice {escape(name)}")
