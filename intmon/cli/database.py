"""Opening the configured database from the command line."""

from __future__ import annotations

import typer
from sqlalchemy import Engine

from intmon.cli.output import EXIT_BAD_INPUT, errors


def open_database(*, migrate: bool) -> Engine:
    """The configured database; migrated to head when `migrate`, else checked to be."""
    from core.db import engine_for
    from core.settings import get_settings
    from intmon.migrations import current_revision, upgrade

    engine = engine_for(get_settings().database_url)
    if migrate:
        upgrade(engine)
    elif current_revision(engine) is None:
        errors.print("[red]the database has no schema yet: run `intmon migrate` first[/red]")
        raise typer.Exit(EXIT_BAD_INPUT)
    return engine
