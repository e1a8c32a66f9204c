"""What `intmon incidents` and `intmon tickets` share: the context every command
runs with and the incidents table.

The table lives here rather than in `incident_commands` because `tickets show`
prints a ticket's incidents with it too.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from intmon.cli.output import when

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from alerts.policy import Policy
    from alerts.queries import IncidentView


def _context() -> tuple[Engine, datetime, Policy]:
    """The database, the clock and the policy every command runs with."""
    from alerts.policy import policy_of
    from core import db
    from core.settings import get_settings
    from intmon.cli.database import open_database

    return open_database(migrate=False), db.utcnow(), policy_of(get_settings())


def incidents_table(views: list[IncidentView], title: str) -> Table:
    table = Table(title=title)
    for column in ("id", "integration", "family", "state", "opened", "resolved", "failures"):
        table.add_column(column, justify="right" if column in ("id", "failures") else "left")
    table.add_column("last outcome")
    table.add_column("ticket", no_wrap=True)
    for v in views:
        notes = " flapping" if v.flapping else ""
        notes += f" ↻{v.reopened}" if v.reopened else ""
        table.add_row(
            str(v.id),
            escape(v.integration_id),
            v.family,
            ("[red]open[/red]" if v.state == "open" else "[green]resolved[/green]") + notes,
            when(v.opened_at),
            when(v.resolved_at),
            str(v.failures),
            v.last_outcome,
            v.ticket or "-",
        )
    return table
