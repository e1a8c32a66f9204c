"""Maintenance windows in the database: those declared in the YAML (`source=config`,
replaced on every `intmon apply`) and those added through the CLI (`source=cli`,
kept until removed). Window arithmetic lives in `integrations.windows`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, Select, any_, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql

from core.db import fetch_all, table_of
from integrations.config import IntegrationSpec
from integrations.errors import IntegrationsError
from integrations.models import Integration, MaintenanceWindowRow
from integrations.windows import MaintenanceSpec, MaintenanceWindow, window_from_spec

W = table_of(MaintenanceWindowRow)


class MaintenanceError(IntegrationsError):
    """A window that cannot be added or removed; the message names what is wrong."""


@dataclass(frozen=True, slots=True)
class StoredWindow:
    integration_id: str
    name: str
    source: str
    window: MaintenanceWindow
    spec: dict[str, Any]


def as_view(stored: StoredWindow, now: datetime) -> dict[str, Any]:
    """A stored window as the CLI and the API show it: on now and until when, or when it
    next starts."""
    window = stored.window
    current = window.current(now)
    upcoming = window.next_start(now)
    if current is not None:
        state = f"active until {current[1]:%Y-%m-%d %H:%M} UTC"
    elif upcoming is not None:
        state = f"next {upcoming:%Y-%m-%d %H:%M} UTC"
    else:
        state = "over"
    return {
        "integration": stored.integration_id,
        "name": stored.name,
        "source": stored.source,
        "description": window.describe(),
        "reason": window.reason,
        "active": current is not None,
        "active_until": current[1].isoformat() if current else None,
        "next_start": upcoming.isoformat() if upcoming else None,
        "now": state,
        "spec": dict(stored.spec),
    }


def window_name(spec: MaintenanceSpec, index: int) -> str:
    return spec.id or f"window-{index + 1}"


def sync_config_windows(
    connection: Connection, specs: Iterable[IntegrationSpec], now: datetime
) -> None:
    """Make the config-owned windows match the applied file (CLI ones are kept)."""
    for spec in specs:
        connection.execute(delete(W).where(W.c.integration_id == spec.id, W.c.source == "config"))
        for index, window in enumerate(spec.maintenance):
            connection.execute(
                insert(W).values(
                    integration_id=spec.id,
                    name=window_name(window, index),
                    source="config",
                    spec=window.model_dump(mode="json", exclude_none=True),
                    created_at=now,
                )
            )


def add_window(
    engine: Engine, integration_id: str, data: dict[str, Any], now: datetime
) -> StoredWindow:
    try:
        spec = MaintenanceSpec.model_validate(data)
    except ValidationError as error:
        raise MaintenanceError(_problems(error)) from None
    with engine.begin() as connection:
        known = connection.execute(
            select(Integration.__table__.c.id).where(
                Integration.__table__.c.id == integration_id,
                Integration.__table__.c.removed_at.is_(None),
            )
        ).first()
        if known is None:
            raise MaintenanceError(f"integration {integration_id!r} is not registered")
        taken = {
            row.name
            for row in connection.execute(
                select(W.c.name).where(W.c.integration_id == integration_id)
            )
        }
        name = spec.id or _free_name(taken)
        if name in taken:
            raise MaintenanceError(f"id: {integration_id} already has a window named {name!r}")
        document = spec.model_dump(mode="json", exclude_none=True)
        connection.execute(
            insert(W).values(
                integration_id=integration_id,
                name=name,
                source="cli",
                spec=document,
                created_at=now,
            )
        )
    return StoredWindow(integration_id, name, "cli", window_from_spec(spec), document)


def _free_name(taken: set[str]) -> str:
    index = 1
    while f"cli-{index}" in taken:
        index += 1
    return f"cli-{index}"


def replace_window(
    engine: Engine, integration_id: str, name: str, data: dict[str, Any], now: datetime
) -> StoredWindow:
    """Change a window added from the CLI or API; its name stays (a config window is
    changed in the integrations file)."""
    if data.get("id", name) != name:
        raise MaintenanceError(f"id: the window is called {name!r}; remove it and add another")
    try:
        spec = MaintenanceSpec.model_validate({**data, "id": name})
    except ValidationError as error:
        raise MaintenanceError(_problems(error)) from None
    document = spec.model_dump(mode="json", exclude_none=True)
    with engine.begin() as connection:
        row = _cli_window(connection, integration_id, name)
        connection.execute(update(W).where(W.c.id == row.id).values(spec=document))
    return StoredWindow(integration_id, name, row.source, window_from_spec(spec), document)


def _cli_window(connection: Connection, integration_id: str, name: str) -> Any:
    row = connection.execute(
        select(W.c.id, W.c.source).where(W.c.integration_id == integration_id, W.c.name == name)
    ).first()
    if row is None:
        raise MaintenanceError(f"{integration_id} has no maintenance window named {name!r}")
    if row.source == "config":
        raise MaintenanceError(
            f"window {name!r} of {integration_id} is declared in the integrations file; "
            "change or remove it there and run `intmon apply`"
        )
    return row


def remove_window(engine: Engine, integration_id: str, name: str) -> None:
    with engine.begin() as connection:
        row = _cli_window(connection, integration_id, name)
        connection.execute(delete(W).where(W.c.id == row.id))


def _problems(error: ValidationError) -> str:
    return "; ".join(_problem(e["loc"], e["type"], e["msg"]) for e in error.errors())


def _problem(loc: tuple[int | str, ...], kind: str, message: str) -> str:
    if kind == "extra_forbidden" and loc:
        # The unknown name is the sender's text (it may be ":" or empty): quoted,
        # after the path of the object that holds it.
        holder = ".".join(str(p) for p in loc[:-1]) or "window"
        return f"{holder}: unknown field {str(loc[-1])!r}"
    return f"{'.'.join(str(p) for p in loc) or 'window'}: " + message.removeprefix("Value error, ")


def list_windows(
    target: Engine | Connection, integration_ids: Iterable[str] | None = None
) -> list[StoredWindow]:
    if integration_ids is None:
        rows = fetch_all(target, select(W).order_by(W.c.integration_id, W.c.name))
    else:
        query = _windows_of(target.dialect.name)
        rows = fetch_all(target, query, {"ids": list(integration_ids)})
    return [
        StoredWindow(
            row.integration_id,
            row.name,
            row.source,
            window_from_spec(MaintenanceSpec.model_validate(row.spec)),
            row.spec,
        )
        for row in rows
    ]


@lru_cache(maxsize=4)
def _windows_of(dialect: str) -> Select[Any]:
    """The windows of some integrations, built once per dialect. Every batch a
    worker stores asks it for the batch's integrations: on PostgreSQL they go as
    one array parameter (`= ANY(:ids)`), one statement text whatever their number,
    where an expanding `IN` renders and sends one parameter per id."""
    if dialect == "postgresql":
        ids = any_(bindparam("ids", type_=postgresql.ARRAY(W.c.integration_id.type)))
        wanted = W.c.integration_id == ids
    else:
        wanted = W.c.integration_id.in_(bindparam("ids", expanding=True))
    return select(W).where(wanted).order_by(W.c.integration_id, W.c.name)


def windows_by_integration(
    target: Engine | Connection, integration_ids: Iterable[str]
) -> dict[str, list[MaintenanceWindow]]:
    out: dict[str, list[MaintenanceWindow]] = {}
    for stored in list_windows(target, integration_ids):
        out.setdefault(stored.integration_id, []).append(stored.window)
    return out
