"""Alembic migrations: the only way the schema changes, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect

HERE = Path(__file__).parent

# The partitions of check_results on PostgreSQL (migration 0016): created and
# dropped by the retention pass, not by migrations, so not in the models.
PARTITION = re.compile(r"check_results_(p\d{8}|default|legacy)")


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """What autogenerate and the models-match test compare: everything but the
    partitions, whose columns and indexes are the partitioned table's."""
    if type_ == "table" and name is not None:
        return PARTITION.fullmatch(name) is None
    return True


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    if "alembic_version" not in inspect(engine).get_table_names():
        return None
    with engine.connect() as connection:
        return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
