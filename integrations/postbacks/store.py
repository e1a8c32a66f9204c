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

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from core.db import table_of
from integrations.leads.models import LeadAttempt
from integrations.postbacks.models import Postback
from integrations.strict import StorableAwareDatetime

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
    with engine.begin() as connection:
        lead_id = lead_of(connection, integration_id, postback.lead_id)
        module: Any = postgresql if connection.dialect.name == "postgresql" else sqlite
        statement = (
            module.insert(POSTBACKS)
            .values(
                integration_id=integration_id,
                event_id=postback.event_id,
                broker_lead_id=postback.lead_id,
                lead_id=lead_id,
                status=postback.status,
                at=postback.at,
                received_at=now,
            )
            .on_conflict_do_nothing()
            .returning(POSTBACKS.c.id)
        )
        stored = connection.execute(statement).first() is not None
        if not stored:  # the first copy's link is the answer
            lead_id = connection.execute(
                select(POSTBACKS.c.lead_id).where(
                    POSTBACKS.c.integration_id == integration_id,
                    POSTBACKS.c.event_id == postback.event_id,
                )
            ).scalar()
    return Stored(duplicate=not stored, linked=lead_id is not None, lead_id=lead_id)


def lead_of(connection: Connection, integration_id: str, broker_lead_id: str) -> str | None:
    """The platform's id of the lead the broker calls `broker_lead_id`, if the ledger has it."""
    found: str | None = connection.execute(
        select(ATTEMPTS.c.lead_id)
        .where(
            ATTEMPTS.c.integration_id == integration_id,
            ATTEMPTS.c.broker_lead_id == broker_lead_id,
        )
        .limit(1)
    ).scalar()
    return found
