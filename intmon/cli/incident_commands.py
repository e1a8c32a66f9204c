"""`intmon incidents list | ack`: incidents opened by failing checks.

Reads go through `alerts.queries`, the acknowledgement through
`alerts.escalation`. Input they refuse (an unknown incident, a bad filter) is
one line on stderr and exit 2, never a traceback.
"""

from __future__ import annotations

from typing import Annotated

import typer

from intmon.cli.alerts_common import _context, incidents_table
from intmon.cli.output import console, print_json, refused

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

incidents_app = typer.Typer(
    name="incidents", help="Incidents opened by failing checks.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(incidents_app)


@incidents_app.command("list")
def incidents_list(
    state: Annotated[str | None, typer.Option(help="open or resolved.")] = None,
    integration: Annotated[str | None, typer.Option("--integration", "-i")] = None,
    limit: int = 100,
    as_json: JsonOpt = False,
) -> None:
    """Incidents, newest first."""
    from alerts.queries import list_incidents

    engine, _now, _policy = _context()
    with refused():
        views = list_incidents(engine, state=state, integration_id=integration, limit=limit)
    if as_json:
        print_json([v.as_dict() for v in views])
        return
    console.print(incidents_table(views, "Incidents"))


@incidents_app.command("ack")
def incidents_ack(
    incident_id: Annotated[int, typer.Argument(help="The incident's id (incidents list).")],
    author: Annotated[str, typer.Option(help="Who takes it.")] = "support",
) -> None:
    """Acknowledge an incident: someone has it in hand, so its escalation and
    reminders stop."""
    from alerts.escalation import acknowledge

    engine, now, _policy = _context()
    with refused():
        acknowledge(engine, incident_id, author, now)
    console.print(f"incident {incident_id} acknowledged by {author}")
