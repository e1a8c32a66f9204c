"""Change notices in the database: from the YAML (`source=config`, replaced on every
`intmon apply`) and from the CLI or API (kept until removed), as maintenance windows are."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, delete, insert, select, update

from core.db import fetch_all, table_of
from integrations.errors import IntegrationsError
from integrations.leads.models import ChangeNotice
from integrations.models import Integration
from integrations.specs.leads import ChangeNoticeSpec

N = table_of(ChangeNotice)
I = table_of(Integration)  # noqa: E741  (the integrations table, as elsewhere)


class NoticeError(IntegrationsError):
    """A change notice that cannot be added or removed; the message names the field."""


@dataclass(frozen=True, slots=True)
class StoredNotice:
    id: int
    integration_id: str
    name: str
    announced_at: datetime
    effective_at: datetime
    description: str
    breaking: bool
    source: str

    @property
    def lead_time(self) -> timedelta:
        return self.effective_at - self.announced_at

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("announced_at", "effective_at"):
            data[key] = data[key].isoformat()
        data["lead_time_h"] = round(self.lead_time.total_seconds() / 3600, 2)
        return data


def sync_config_notices(connection: Connection, specs: Iterable[Any], now: datetime) -> None:
    """Make the config-owned notices match the applied file (CLI and API ones are kept)."""
    for spec in specs:
        connection.execute(delete(N).where(N.c.integration_id == spec.id, N.c.source == "config"))
        for notice in spec.change_notices:
            connection.execute(insert(N).values(_row(spec.id, notice, "config", now)))


def _row(
    integration_id: str, notice: ChangeNoticeSpec, source: str, now: datetime
) -> dict[str, Any]:
    return {
        "integration_id": integration_id,
        "name": notice.id,
        "announced_at": notice.announced_at,
        "effective_at": notice.effective_at,
        "description": notice.description,
        "breaking": notice.breaking,
        "source": source,
        "created_at": now,
    }


def parse_notice(data: dict[str, Any]) -> ChangeNoticeSpec:
    try:
        return ChangeNoticeSpec.model_validate(data)
    except ValidationError as error:
        raise NoticeError(
            "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'notice'}: {e['msg']}"
                for e in error.errors()
            )
        ) from None


def add_notice(
    engine: Engine, integration_id: str, data: dict[str, Any], now: datetime, source: str = "cli"
) -> StoredNotice:
    with engine.begin() as connection:
        known = connection.execute(
            select(I.c.id).where(I.c.id == integration_id, I.c.removed_at.is_(None))
        ).first()
        if known is None:
            raise NoticeError(f"integration: {integration_id!r} is not registered")
        if not data.get("id"):  # like a maintenance window's cli-N: a free notice-N
            names = connection.execute(select(N.c.name).where(N.c.integration_id == integration_id))
            data = {**data, "id": _free_name(set(names.scalars()))}
        notice = parse_notice(data)
        taken = connection.execute(
            select(N.c.id).where(N.c.integration_id == integration_id, N.c.name == notice.id)
        ).first()
        if taken is not None:
            raise NoticeError(
                f"id: {integration_id} already has a change notice named {notice.id!r}"
            )
        connection.execute(insert(N).values(_row(integration_id, notice, source, now)))
    return next(n for n in list_notices(engine, [integration_id]) if n.name == notice.id)


def _free_name(taken: set[str]) -> str:
    index = 1
    while f"notice-{index}" in taken:
        index += 1
    return f"notice-{index}"


def replace_notice(
    engine: Engine, integration_id: str, name: str, data: dict[str, Any]
) -> StoredNotice:
    """Correct a notice added from the CLI or API (say, the effective date moved)."""
    if data.get("id", name) != name:
        raise NoticeError(f"id: the notice is called {name!r}; remove it and add another")
    notice = parse_notice({**data, "id": name})
    with engine.begin() as connection:
        row = _owned(connection, integration_id, name)
        values = _row(integration_id, notice, row.source, row.created_at)
        connection.execute(update(N).where(N.c.id == row.id).values(**values))
    return next(n for n in list_notices(engine, [integration_id]) if n.name == name)


def remove_notice(engine: Engine, integration_id: str, name: str) -> None:
    with engine.begin() as connection:
        row = _owned(connection, integration_id, name)
        connection.execute(delete(N).where(N.c.id == row.id))


def _owned(connection: Connection, integration_id: str, name: str) -> Any:
    """A notice the CLI or API may change (one from the file changes with the file)."""
    row = connection.execute(
        select(N.c.id, N.c.source, N.c.created_at).where(
            N.c.integration_id == integration_id, N.c.name == name
        )
    ).first()
    if row is None:
        raise NoticeError(f"id: {integration_id} has no change notice named {name!r}")
    if row.source == "config":
        raise NoticeError(
            f"id: notice {name!r} of {integration_id} is declared in the integrations file; "
            "change or remove it there and run `intmon apply`"
        )
    return row


def list_notices(
    target: Engine | Connection, integration_ids: Iterable[str] | None = None
) -> list[StoredNotice]:
    query = select(N).order_by(N.c.integration_id, N.c.effective_at, N.c.name)
    if integration_ids is not None:
        query = query.where(N.c.integration_id.in_(list(integration_ids)))
    rows = fetch_all(target, query)
    return [
        StoredNotice(
            row.id,
            row.integration_id,
            row.name,
            row.announced_at,
            row.effective_at,
            row.description,
            row.breaking,
            row.source,
        )
        for row in rows
    ]
