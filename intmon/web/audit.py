"""The audit trail of support's actions at the console, and the message that follows
each one across the redirect.

Every action (acknowledge an incident, declare / change / end a maintenance
window, run checks now, run a scenario) writes one `console_actions` row, done,
refused or failed, with who and when. The row is also what the next page says:
the action's handler keeps the row's id in the session (`remember`) and
redirects; the page it lands on reads the row back (`flashed`) and says its
outcome in the viewer's language (`message`). So the message shown is the one
recorded, and a reload does not show it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import Engine, insert, select

from core.db import table_of
from intmon.web.i18n import Translator
from intmon.web.models import ConsoleAction
from intmon.web.users import WebAccount

A = table_of(ConsoleAction)

ACTIONS = (
    "incident.ack",
    "maintenance.declare",
    "maintenance.edit",
    "maintenance.end",
    "checks.run",
    "scenario.run",
)
OUTCOMES = ("done", "refused", "failed")
FLASH_KEY = "action"
# Values that are moments (ISO text), said in the reader's zone and language.
MOMENTS = ("starts", "ends")


@dataclass(frozen=True, slots=True)
class ActionView:
    id: int
    at: datetime
    actor: str
    role: str
    action: str
    outcome: str
    integration_id: str | None
    subject: str | None
    values: dict[str, Any]


def record(
    engine: Engine,
    account: WebAccount,
    action: str,
    outcome: str,
    now: datetime,
    *,
    integration_id: str | None = None,
    subject: str | None = None,
    **values: Any,
) -> int:
    """One row of the trail; its id."""
    if action not in ACTIONS or outcome not in OUTCOMES:
        raise ValueError(f"unknown action {action!r} or outcome {outcome!r}")
    with engine.begin() as connection:
        inserted = connection.execute(
            insert(A)
            .values(
                at=now,
                actor=account.username,
                role=account.role,
                action=action,
                outcome=outcome,
                integration_id=integration_id,
                subject=subject,
                values=values,
            )
            .returning(A.c.id)
        )
        return int(inserted.scalar_one())


def _view(row: Any) -> ActionView:
    return ActionView(
        id=row.id,
        at=row.at,
        actor=row.actor,
        role=row.role,
        action=row.action,
        outcome=row.outcome,
        integration_id=row.integration_id,
        subject=row.subject,
        values=dict(row.values or {}),
    )


def recent(engine: Engine, integration_id: str, limit: int = 20) -> list[ActionView]:
    """The latest actions on one integration, newest first."""
    query = (
        select(A)
        .where(A.c.integration_id == integration_id)
        .order_by(A.c.at.desc(), A.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as connection:
        return [_view(row) for row in connection.execute(query)]


def remember(request: Request, action_id: int) -> None:
    """Say the outcome of this action on the next page this browser opens."""
    request.session[FLASH_KEY] = action_id


def flashed(request: Request, engine: Engine, account: WebAccount | None) -> ActionView | None:
    """The action to report on this page (once), if it is this user's own."""
    action_id = request.session.pop(FLASH_KEY, None)
    if not isinstance(action_id, int) or account is None:
        return None
    with engine.connect() as connection:
        row = connection.execute(select(A).where(A.c.id == action_id)).first()
    if row is None or row.actor != account.username:
        return None
    return _view(row)


def message(view: ActionView, t: Translator) -> str:
    """The outcome in words: "Maintenance window cli-1 declared: …" / "… refused: …"."""
    values: dict[str, Any] = {}
    for key, value in view.values.items():
        if key in MOMENTS and isinstance(value, str):
            values[key] = t.when(value)  # in the reader's zone, not the actor's
        elif key == "fields" and isinstance(value, list):
            values[key] = ", ".join(t.field(str(name)) for name in value)
        elif key == "days" and isinstance(value, str):  # a recurring window's "mon,tue"
            values[key] = ", ".join(t.word("day", day) for day in value.split(",") if day)
        elif isinstance(value, str | int):
            values[key] = value
    if view.outcome == "done":
        variant = view.values.get("variant")
        key = f"act.{view.action}.{variant}" if variant else f"act.{view.action}.done"
        return t(key, **values)
    why = str(view.values.get("why", "why.unknown"))
    return t(f"act.{view.outcome}", what=t(f"act.{view.action}", **values), why=t(why, **values))
