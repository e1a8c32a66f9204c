"""Configuration that is not per integration, as last applied by `intmon apply`:
the ticket sinks, the clients' contacts, the notification rules and channels,
the platform's self-check (canaries and the correlation rule), the ticket forms.

Stored as JSON documents (table `config_documents`) so that every worker reads
the same configuration as the database's transaction sees it. Code running
inside an event's transaction reads them with `read` (once per transaction: an
incident wave opens hundreds of tickets in one); everything else uses `load`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from alerts.models import ConfigDocument
from core.db import table_of

DOC = table_of(ConfigDocument)

SINKS = "ticket_sinks"
CLIENTS = "clients"
NOTIFICATIONS = "notifications"
CHANNELS = "channels"
SELF_CHECK = "self_check"
TICKET_FORMS = "ticket_forms"  # alerts.ticket_forms: categories, topics, fields, limits


def store(connection: Connection, documents: Mapping[str, Any], now: datetime) -> None:
    """Replace the named documents."""
    for key, document in documents.items():
        connection.execute(delete(DOC).where(DOC.c.key == key))
        connection.execute(insert(DOC).values(key=key, document=document, updated_at=now))


def load(engine: Engine, key: str) -> Any:
    """A document, or None when it was never applied."""
    with engine.connect() as connection:
        return _select(connection, key)


def read(connection: Connection, key: str) -> Any:
    """A document as the caller's transaction sees it, read once per transaction."""
    transaction = connection.get_transaction()
    cache: dict[str, Any] = connection.info.setdefault("intmon_documents", {})
    cached = cache.get(key)
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1]
    value = _select(connection, key)
    cache[key] = (transaction, value)
    return value


def _select(connection: Connection, key: str) -> Any:
    return connection.execute(select(DOC.c.document).where(DOC.c.key == key)).scalar_one_or_none()
