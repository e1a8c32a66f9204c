"""Alembic environment: runs against the engine handed in by `intmon.migrations.upgrade`."""

from __future__ import annotations

from alembic import context

import alerts.models  # noqa: F401  (registers the tables on the metadata)
import core.outbox  # noqa: F401  (the outbox table)
import integrations.e2e_models
import integrations.heartbeats.models
import integrations.leads.models
import integrations.models
import integrations.postbacks.models  # noqa: F401
import intmon.api.models
import intmon.web.models  # noqa: F401
from core.db import Base
from intmon.migrations import include_name

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=True,
        compare_type=True,
        include_name=include_name,
    )
    context.run_migrations()
