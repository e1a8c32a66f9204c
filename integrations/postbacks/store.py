"""Recording a broker's postback: validated, stored once, linked to the lead it is about.

A postback is idempotent on (integration, `event_id`): the unique key refuses the
second copy (`ON CONFLICT DO NOTHING`), so a broker that retries, or two API
processes receiving the same event, store it once and the repeat is reported as
a duplicate. The lead is found in the ledger by the broker's id of it
(`lead_attempts.broker_lead_id`, what the broker answered when the lead was
delivered or `intmon leads record` reported); a postback for a lead the ledger
does not know (yet) is stored unlinked, and the monitor still counts it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine, select, tuple_
from sqlalchemy.dialects import sqlite

from core.db import table_of
from integrations.leads.models import LeadAttempt
from integrations.postbacks.models import Postback
from integrations.strict import StorableAwareDatetime

if TYPE_CHECKING:
    import psycopg

POSTBACKS = table_of(Postback)
ATTEMPTS = table_of(LeadAttempt)
# Printable text without control characters (the broker's ids are opaque to us).
OPAQUE_ID = r"^[^\x00-\x1f\x7f]{1,128}$"
STATUS = r"^[a-z][a-z0-9_]{0,31}$"


class PostbackIn(BaseModel):
    """The body a broker posts. Fields intmon does not use (payout, currency, …) are
    ignored rather than refused: a broker's postback template is not ours to fix."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: str = Field(
        pattern=OPAQUE_ID, description="The broker's id of this event: a resend is a duplicate."
    )
    lead_id: str = Field(
        pattern=OPAQUE_ID,
        description="The broker's id of the lead (what it answered when it accepted the lead).",
    )
    status: str = Field(
        pattern=STATUS,
        description="What happened to the lead: accepted, rejected, converted, … (lower case).",
    )
    at: StorableAwareDatetime | None = Field(
        default=None, description="When it happened (ISO 8601 with a zone); default: received."
    )


@dataclass(frozen=True, slots=True)
class Stored:
    duplicate: bool
    linked: bool
    lead_id: str | None  # the platform's id of the lead, when linked

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def record_postback(
    engine: Engine, integration_id: str, postback: PostbackIn, now: datetime
) -> Stored:
    """Store `postback` for `integration_id` unless its event is already stored."""
    return record_postbacks(engine, [Received(integration_id, postback, now)])[0]


@dataclass(frozen=True, slots=True)
class Received:
    integration_id: str
    postback: PostbackIn
    at: datetime  # when it arrived


def record_postbacks(engine: Engine, received: Sequence[Received]) -> list[Stored]:
    """Store a batch of postbacks at once, each unless its event is already stored (or
    came earlier in the batch): one INSERT … ON CONFLICT DO NOTHING RETURNING for all
    (on SQLite after one query for their leads), one query for the repeats' links."""
    if not received:
        return []
    firsts, ordered = _firsts(received)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            inserted = connection.exec_driver_sql(PG_STORE, _pg_columns(ordered)).all()
            links, new, repeats = _inserted(inserted, ordered)
            if repeats:
                rows = connection.exec_driver_sql(PG_LINKS, _pg_keys(repeats)).all()
                links.update(_links(rows))
    else:
        links, new = _store_on_sqlite(engine, ordered)
    return _answers(received, firsts, links, new)


async def record_postbacks_async(
    connection: psycopg.AsyncConnection[Any], received: Sequence[Received]
) -> list[Stored]:
    """`record_postbacks` on PostgreSQL from an event loop, on an autocommit psycopg
    connection: the same statements, no thread (the API's postback writer)."""
    if not received:
        return []
    firsts, ordered = _firsts(received)
    async with connection.cursor() as cursor:
        await cursor.execute(PG_STORE, _pg_columns(ordered))
        links, new, repeats = _inserted(await cursor.fetchall(), ordered)
        if repeats:
            await cursor.execute(PG_LINKS, _pg_keys(repeats))
            links.update(_links(await cursor.fetchall()))
    return _answers(received, firsts, links, new)


Key = tuple[str, str]  # (integration, the broker's event id)
Links = dict[Key, str | None]
Ordered = list[tuple[Key, "Received"]]


def _firsts(received: Sequence[Received]) -> tuple[dict[Key, Received], Ordered]:
    """Each event's first copy in the batch, and those in key order: two batches
    sharing an event take its unique-index lock in turn."""
    firsts: dict[Key, Received] = {}
    for item in received:
        firsts.setdefault((item.integration_id, item.postback.event_id), item)
    return firsts, sorted(firsts.items())


def _answers(
    received: Sequence[Received], firsts: dict[Key, Received], links: Links, new: set[Key]
) -> list[Stored]:
    answers = []
    for item in received:
        key = (item.integration_id, item.postback.event_id)
        lead_id = links.get(key)
        # Stored by this batch: only the first copy of the event in it.
        duplicate = key not in new or firsts[key] is not item
        answers.append(Stored(duplicate=duplicate, linked=lead_id is not None, lead_id=lead_id))
    return answers


def _links(rows: Iterable[Sequence[Any]]) -> Links:
    return {(integration_id, event_id): lead_id for integration_id, event_id, lead_id in rows}


def _inserted(rows: Iterable[Sequence[Any]], ordered: Ordered) -> tuple[Links, set[Key], list[Key]]:
    """What the INSERT returned: the new events' links, the new events, and the
    repeats (events stored before), whose first copy's link is their answer."""
    links = _links(rows)
    new = set(links)
    return links, new, [key for key, _ in ordered if key not in new]


def _pg_columns(ordered: Ordered) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {name: [] for name in _SENT}
    for (integration_id, event_id), item in ordered:
        columns["integration_id"].append(integration_id)
        columns["event_id"].append(event_id)
        columns["broker_lead_id"].append(item.postback.lead_id)
        columns["status"].append(item.postback.status)
        columns["at"].append(item.postback.at)
        columns["received_at"].append(item.at)
    return columns


def _pg_keys(keys: list[Key]) -> dict[str, list[str]]:
    return {"integrations": [key[0] for key in keys], "events": [key[1] for key in keys]}


def _store_on_sqlite(engine: Engine, ordered: Ordered) -> tuple[Links, set[Key]]:
    with engine.begin() as connection:
        leads = leads_of(connection, {(i.integration_id, i.postback.lead_id) for _, i in ordered})
        rows = [
            {
                "integration_id": integration_id,
                "event_id": event_id,
                "broker_lead_id": item.postback.lead_id,
                "lead_id": leads.get((integration_id, item.postback.lead_id)),
                "status": item.postback.status,
                "at": item.postback.at,
                "received_at": item.at,
            }
            for (integration_id, event_id), item in ordered
        ]
        # Parameters as a list, not `.values(rows)`: the statement is compiled once
        # and cached (SQLAlchemy sends the rows as multi-row VALUES itself).
        inserted = connection.execute(
            sqlite.insert(POSTBACKS)
            .on_conflict_do_nothing()
            .returning(POSTBACKS.c.integration_id, POSTBACKS.c.event_id, POSTBACKS.c.lead_id),
            rows,
        ).all()
        links, new, repeats = _inserted(inserted, ordered)
        if repeats:
            columns = (POSTBACKS.c.integration_id, POSTBACKS.c.event_id, POSTBACKS.c.lead_id)
            stored = select(*columns).where(tuple_(*columns[:2]).in_(repeats))
            links.update(_links(connection.execute(stored)))
    return links, new


def leads_of(connection: Connection, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The platform's id of each lead the ledger knows by (integration, the broker's id).
    On PostgreSQL the lookup is part of the insert (`_PG_STORE`)."""
    if not pairs:
        return {}
    found: dict[tuple[str, str], str] = {}
    rows = connection.execute(
        select(ATTEMPTS.c.integration_id, ATTEMPTS.c.broker_lead_id, ATTEMPTS.c.lead_id).where(
            tuple_(ATTEMPTS.c.integration_id, ATTEMPTS.c.broker_lead_id).in_(sorted(pairs))
        )
    )
    for row in rows:
        found.setdefault((row.integration_id, row.broker_lead_id), row.lead_id)
    return found


# On PostgreSQL the batch travels as one array per column, so a statement has one
# text whatever the batch's size: an IN list or multi-row VALUES had a text per size,
# each parsed, planned and prepared anew by the server (and psycopg) as sizes came
# and went (about 500 of them under load). The texts are psycopg's own (`%(name)s`):
# the same strings run through SQLAlchemy's connection and on an async psycopg one.
_SENT = ("integration_id", "event_id", "broker_lead_id", "status", "at", "received_at")
_PG_TYPES = {"at": "timestamptz", "received_at": "timestamptz"}
# The lead of each postback in the same statement as its insert; a broker's lead id
# the ledger holds twice (two attempts) links to either, as the lookup did before.
PG_STORE = (
    "INSERT INTO postbacks (integration_id, event_id, broker_lead_id, lead_id, status, at, "
    "received_at) SELECT v.integration_id, v.event_id, v.broker_lead_id, "
    "(SELECT a.lead_id FROM lead_attempts AS a WHERE a.integration_id = v.integration_id "
    "AND a.broker_lead_id = v.broker_lead_id LIMIT 1), v.status, v.at, v.received_at "
    "FROM unnest("
    + ", ".join(f"CAST(%({name})s AS {_PG_TYPES.get(name, 'text')}[])" for name in _SENT)
    + f") WITH ORDINALITY AS v({', '.join(_SENT)}, n) ORDER BY v.n "
    "ON CONFLICT DO NOTHING RETURNING integration_id, event_id, lead_id"
)
PG_LINKS = (
    "SELECT p.integration_id, p.event_id, p.lead_id FROM postbacks AS p "
    "JOIN unnest(CAST(%(integrations)s AS text[]), CAST(%(events)s AS text[])) AS v(i, e) "
    "ON p.integration_id = v.i AND p.event_id = v.e"
)
