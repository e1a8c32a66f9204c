"""`intmon incidents list | show | ack`: incidents opened by failing checks; `intmon
outages`: the platform's own outages (README "Is it them or us?").

Reads go through `alerts.queries`, the acknowledgement through
`alerts.escalation`. Input they refuse (an unknown incident, a bad filter) is
one line on stderr and exit 2, never a traceback.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from intmon.cli.alerts_common import _context, incidents_table
from intmon.cli.output import console, print_json, refused, when

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

incidents_app = typer.Typer(
    name="incidents", help="Incidents opened by failing checks.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(incidents_app)
    app.command("outages")(outages_list)


def outages_list(limit: int = 20, as_json: JsonOpt = False) -> None:
    """Platform outages (intmon's own network or resolver failing), newest first:
    while one was open, partner connectivity failures opened no incident."""
    from rich.markup import escape
    from rich.table import Table

    from alerts.platform_outages import list_outages

    engine, _now, _policy = _context()
    outages = list_outages(engine, limit=limit)
    if as_json:
        print_json(outages)
        return
    table = Table(title="Platform outages")
    for column in ("id", "state", "started", "ended", "cause", "outcome", "detail"):
        table.add_column(column)
    for outage in outages:
        table.add_row(
            str(outage["id"]),
            outage["state"],
            f"{outage['started_at']:%Y-%m-%d %H:%M:%S}",
            f"{outage['ended_at']:%Y-%m-%d %H:%M:%S}" if outage["ended_at"] else "-",
            outage["cause"],
            outage["outcome"],
            escape(outage["detail"][:100]),
        )
    console.print(table)


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


@incidents_app.command("show")
def incidents_show(
    incident_id: Annotated[int, typer.Argument(help="The incident's id (incidents list).")],
    as_json: JsonOpt = False,
) -> None:
    """One incident; for auth and contract incidents, what changed in the partner's
    answer since the check last passed (its learned contract)."""
    from alerts.queries import incident_detail

    engine, _now, _policy = _context()
    with refused():
        view = incident_detail(engine, incident_id)
    if as_json:
        print_json(view.as_dict())
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    state = view.state + (" (flapping)" if view.flapping else "")
    rows = [
        ("integration", escape(view.integration_id)),
        ("family", view.family),
        ("state", state),
        ("first seen", f"{when(view.first_seen)} UTC"),
        ("opened", f"{when(view.opened_at)} UTC"),
        ("resolved", when(view.resolved_at)),
        ("last seen", f"{when(view.last_seen)} UTC"),
        ("failures", str(view.failures)),
        ("last outcome", view.last_outcome),
        ("ticket", view.ticket or "-"),
    ]
    if view.contract_changes or view.last_passing_at:
        passed = view.last_passing_at
        rows.append(("last passed", f"{when(passed)} UTC" if passed else "never (no result kept)"))
    for key, value in rows:
        grid.add_row(key, value)
    console.print(f"[bold]incident {view.id}[/bold]")
    console.print(grid)
    if view.contract_changes:
        console.print("\n[bold]Changed since the contract last passed[/bold]")
        for line in view.contract_changes:
            console.print(f"  - {line}", markup=False, highlight=False, soft_wrap=True)


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
