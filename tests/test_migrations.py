"""Alembic migrations are the only way the schema changes, and they run on both backends."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

import integrations.models  # noqa: F401  (registers the tables)
from core.db import Base
from intmon.migrations import alembic_config, current_revision, include_name, upgrade


def test_models_match_the_migrations(db_engine: Engine) -> None:
    """A model changed without a migration shows up here as a difference (the
    partitions of check_results on PostgreSQL are the retention pass's, not models)."""
    with db_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": include_name})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_downgrade_to_nothing_and_back(db_engine: Engine) -> None:
    config = alembic_config(db_engine)
    command.downgrade(config, "base")
    assert set(inspect(db_engine).get_table_names()) <= {"alembic_version"}
    upgrade(db_engine)
    assert current_revision(db_engine) is not None
    assert {"integrations", "check_results", "check_state"} <= set(
        inspect(db_engine).get_table_names()
    )


def test_an_engine_pushed_out_of_the_shared_cache_is_disposed(tmp_path: Path) -> None:
    """Tools and tests open many databases: the oldest engine goes, its pool closed,
    rather than being left to the garbage collector with connections open."""
    from core import db

    first = db.engine_for(f"sqlite:///{tmp_path / 'first.db'}")
    with first.connect():
        pass
    assert first.pool.checkedin() == 1
    assert db.engine_for(f"sqlite:///{tmp_path / 'first.db'}") is first
    for n in range(db._ENGINES_MAX):
        db.engine_for(f"sqlite:///{tmp_path / f'{n}.db'}").dispose()
    assert first.pool.checkedin() == 0  # disposed: a fresh, empty pool
    assert db.engine_for(f"sqlite:///{tmp_path / 'first.db'}") is not first
