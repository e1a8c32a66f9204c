"""Heartbeats kept in step with the integrations file, listed, and given new keys.

`sync_config_heartbeats` runs inside `intmon apply`'s transaction: a heartbeat
new to the file gets a row and a fresh ping key; one still in the file keeps its
key (the job's cron line must not break on every apply) and takes the new
schedule; one gone from the file (or whose integration is gone) is marked
removed: its pings answer 404 and it never alerts. Put back, it is the same
heartbeat with the same key, waiting for its next ping.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from core.db import table_of
from integrations.config import IntegrationSpec
from integrations.heartbeats.models import Heartbeat, HeartbeatState
from integrations.specs.heartbeats import HeartbeatSpec, check_name_of, next_due

HB = table_of(Heartbeat)
# 18 random bytes: 144 bits, 24 URL-safe characters.
KEY_BYTES = 18


def new_ping_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def _schedule_of(spec: HeartbeatSpec) -> dict[str, Any]:
    return {
        "period_s": spec.period_s,
        "schedule": spec.schedule,
        "timezone": spec.timezone,
        "grace_s": spec.grace_s,
    }


def sync_config_heartbeats(
    connection: Connection, integrations: Sequence[IntegrationSpec], now: datetime
) -> None:
    """Make the heartbeats table match the file (see the module docstring)."""
    wanted = {(spec.id, beat.name): beat for spec in integrations for beat in spec.heartbeats}
    rows = connection.execute(select(HB)).all()
    existing = {(row.integration_id, row.name): row for row in rows}
    for key, beat in wanted.items():
        row = existing.get(key)
        schedule = _schedule_of(beat)
        if row is None:
            connection.execute(
                insert(HB).values(
                    integration_id=key[0],
                    name=key[1],
                    ping_key=new_ping_key(),
                    state=HeartbeatState.NEW,
                    last_body="",
                    created_at=now,
                    **schedule,
                )
            )
            continue
        changed = any(getattr(row, name) != value for name, value in schedule.items())
        if not changed and row.removed_at is None:
            continue
        values: dict[str, Any] = {**schedule, "removed_at": None}
        if row.removed_at is not None:
            # Back in the file: nothing is expected until its next ping.
            values.update(state=HeartbeatState.NEW, next_due_at=None, alert_at=None)
        elif row.last_ping_at is not None and row.state in (
            HeartbeatState.UP,
            HeartbeatState.FAILED,
        ):
            # Due again counted from its last ping under the new schedule. A missed
            # heartbeat keeps the period it is counting (one result per missed period).
            due = next_due(
                row.last_ping_at,
                period_s=beat.period_s,
                schedule=beat.schedule,
                timezone=beat.timezone,
            )
            values.update(next_due_at=due, alert_at=due + timedelta(seconds=beat.grace_s))
        connection.execute(update(HB).where(HB.c.id == row.id).values(**values))
    gone = [row.id for key, row in existing.items() if key not in wanted and row.removed_at is None]
    if gone:
        connection.execute(
            update(HB)
            .where(HB.c.id.in_(gone))
            .values(removed_at=now, next_due_at=None, alert_at=None)
        )


class HeartbeatNotFound(LookupError):
    """No live heartbeat by that integration and name (a permanent, user-facing error)."""


def rotate_key(engine: Engine, integration_id: str, name: str) -> str:
    """Give the heartbeat a new ping key and return it; the old one answers 404 at once."""
    key = new_ping_key()
    with engine.begin() as connection:
        changed = connection.execute(
            update(HB)
            .where(
                HB.c.integration_id == integration_id,
                HB.c.name == name,
                HB.c.removed_at.is_(None),
            )
            .values(ping_key=key)
        ).rowcount
    if not changed:
        raise HeartbeatNotFound(f"integration {integration_id} has no heartbeat {name!r}")
    return key


@dataclass(frozen=True, slots=True)
class HeartbeatView:
    integration_id: str
    name: str
    check_name: str
    ping_key: str
    state: str
    period_s: float | None
    schedule: str | None
    timezone: str | None
    grace_s: float
    last_ping_at: datetime | None
    last_start_at: datetime | None
    last_fail_at: datetime | None
    next_due_at: datetime | None
    last_body: str

    def ping_url(self, public_url: str | None) -> str:
        """The URL the job pings; relative (`/ping/<key>`) without a public URL."""
        return f"{(public_url or '').rstrip('/')}/ping/{self.ping_key}"

    def as_dict(self, public_url: str | None) -> dict[str, Any]:
        data = asdict(self)
        del data["ping_key"]  # in the URL
        data["ping_url"] = self.ping_url(public_url)
        return data


def list_heartbeats(
    engine: Engine | Connection,
    integration_ids: Sequence[str] | None = None,
) -> list[HeartbeatView]:
    """Live heartbeats (all, or of `integration_ids`), by integration and name."""
    query = select(HB).where(HB.c.removed_at.is_(None)).order_by(HB.c.integration_id, HB.c.name)
    if integration_ids is not None:
        query = query.where(HB.c.integration_id.in_(list(integration_ids)))
    if isinstance(engine, Connection):
        rows = engine.execute(query).all()
    else:
        with engine.connect() as connection:
            rows = connection.execute(query).all()
    return [
        HeartbeatView(
            integration_id=row.integration_id,
            name=row.name,
            check_name=check_name_of(row.name),
            ping_key=row.ping_key,
            state=row.state,
            period_s=row.period_s,
            schedule=row.schedule,
            timezone=row.timezone,
            grace_s=row.grace_s,
            last_ping_at=row.last_ping_at,
            last_start_at=row.last_start_at,
            last_fail_at=row.last_fail_at,
            next_due_at=row.next_due_at,
            last_body=row.last_body,
        )
        for row in rows
    ]
