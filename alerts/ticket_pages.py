"""Pages of the ticket queue by keyset: the filters, the queue order, and the cursor.

The queue order (seed 003) is two runs: active tickets by first-response
deadline, then arrival (created_at, id) — or, with `order="arrival"`, by
arrival alone ("tickets are handled in order of arrival"); after them, finished
tickets newest first. A page is read as at most two index range scans, never an OFFSET, so
page 2,000 costs what page 1 costs:

    cursor in the active run (or none)  → active tickets after it, then, if the
                                          page is not full, finished ones from the top
    cursor in the finished run          → finished tickets after it

A cursor is the sort key of the last ticket of a page (base64url JSON). It
holds no filter and grants nothing: the caller sends the filters again, and
client scoping applies to every page, so a forged cursor shows only tickets
the caller could list anyway. Tickets that change run between two pages
(closed while someone pages) may be skipped or seen twice, as with any keyset
over a moving order; the first page is always exact.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, not_, select, tuple_

from alerts.errors import InvalidTicketInput
from alerts.models import Ticket
from alerts.tickets import ACTIVE, Section, Status
from core.db import table_of

T = table_of(Ticket)
ORDERS = ("due", "arrival")
ACTIVE_STATUSES = tuple(s.value for s in ACTIVE)
IS_ACTIVE = T.c.status.in_(ACTIVE_STATUSES)


@dataclass(frozen=True, slots=True)
class TicketFilter:
    """What a list asks for; `created_from <= created_at < created_to`. Checked
    when built: an unknown value raises InvalidTicketInput naming its field."""

    status: str | None = None
    section: str | None = None
    client: str | None = None
    integration_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    order: str = "due"  # the active run: "due" (deadline, then arrival) or "arrival"

    def __post_init__(self) -> None:
        _choice("order", self.order, list(ORDERS))
        if self.status is not None:
            _choice("status", self.status, [s.value for s in Status])
        if self.section is not None:
            _choice("section", self.section, [s.value for s in Section])
        for field in ("created_from", "created_to"):
            value = getattr(self, field)
            if value is not None and (value.tzinfo is None or value.utcoffset() is None):
                raise InvalidTicketInput(field, "needs a UTC offset (a timezone-aware datetime)")

    def clauses(self) -> list[ColumnElement[bool]]:
        where = [
            column == value
            for column, value in (
                (T.c.status, self.status),
                (T.c.section, self.section),
                (T.c.client, self.client),
                (T.c.integration_id, self.integration_id),
            )
            if value is not None
        ]
        if self.created_from is not None:
            where.append(T.c.created_at >= self.created_from)
        if self.created_to is not None:
            where.append(T.c.created_at < self.created_to)
        return where

    @property
    def wants_active(self) -> bool:
        return self.status is None or self.status in ACTIVE_STATUSES

    @property
    def wants_finished(self) -> bool:
        return self.status is None or self.status not in ACTIVE_STATUSES


@dataclass(frozen=True, slots=True)
class Position:
    """Where a ticket stands in the queue: its run and its sort key there."""

    active: bool
    created_at: datetime
    id: int
    due_at: datetime | None = None  # the first-response deadline (active run only)

    @classmethod
    def of(cls, row: Row[Any]) -> Position:
        active = row.status in ACTIVE_STATUSES
        due = row.first_response_due_at if active else None
        return cls(active, row.created_at, int(row.id), due)


def encode_cursor(position: Position) -> str:
    data = {
        "a": position.active,
        "c": position.created_at.isoformat(),
        "i": position.id,
        "d": position.due_at.isoformat() if position.due_at is not None else None,
    }
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> Position:
    """The position a cursor stands for; InvalidTicketInput("cursor") for anything
    that is not a cursor this list handed out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        active, ticket_id = data["a"], data["i"]
        if not isinstance(active, bool) or type(ticket_id) is not int:
            raise TypeError
        created = _aware_time(data["c"])
        due = _aware_time(data["d"]) if active else None
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, KeyError):
        raise InvalidTicketInput("cursor", "not a cursor returned by this list") from None
    return Position(active, created, ticket_id, due)


def page_rows(
    connection: Connection, filters: TicketFilter, *, limit: int, after: Position | None = None
) -> tuple[list[Row[Any]], Position | None]:
    """Up to `limit` ticket rows in queue order after `after`, and the position
    to continue from (None when nothing follows)."""
    if limit < 1:
        raise InvalidTicketInput("limit", "must be at least 1")
    where = filters.clauses()
    rows: list[Row[Any]] = []
    # One row more than asked tells whether another page follows.
    if filters.wants_active and (after is None or after.active):
        rows += connection.execute(_active_run(where, after, limit + 1, filters.order)).all()
    if filters.wants_finished and len(rows) <= limit:
        finished_after = after if after is not None and not after.active else None
        rows += connection.execute(
            _finished_run(where, finished_after, limit + 1 - len(rows))
        ).all()
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], Position.of(rows[limit - 1])


def _active_run(
    where: Sequence[ColumnElement[bool]], after: Position | None, limit: int, order: str
) -> Select[Any]:
    if order == "arrival":
        key: tuple[Any, ...] = (T.c.created_at, T.c.id)
        last: tuple[Any, ...] = (after.created_at, after.id) if after else ()
    else:
        key = (T.c.first_response_due_at, T.c.created_at, T.c.id)
        last = (after.due_at, after.created_at, after.id) if after else ()
    query = select(T).where(IS_ACTIVE, *where).order_by(*key).limit(limit)
    if after is not None:
        # A plain tuple on the right is bound with the columns' types (UTC normalised).
        query = query.where(tuple_(*key) > last)
    return query


def _finished_run(
    where: Sequence[ColumnElement[bool]], after: Position | None, limit: int
) -> Select[Any]:
    query = (
        select(T)
        .where(not_(IS_ACTIVE), *where)
        .order_by(T.c.created_at.desc(), T.c.id.desc())
        .limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(T.c.created_at, T.c.id) < (after.created_at, after.id))
    return query


def _choice(field: str, value: str, allowed: list[str]) -> None:
    if value not in allowed:
        raise InvalidTicketInput(field, f"unknown {field} {value!r}; one of {', '.join(allowed)}")


def _aware_time(text: Any) -> datetime:
    value = datetime.fromisoformat(text)  # TypeError for a non-string
    if value.tzinfo is None:
        raise ValueError("naive time")
    return value
