"""The `postbacks` table: one row per event a broker sent about one of its leads.

`broker_lead_id` is the broker's id of the lead, as the broker's answer gave it
when the lead was delivered (`lead_attempts.broker_lead_id`); `lead_id` is the
platform's id of that lead when the ledger knew it at the time the postback came
(NULL: unlinked; the monitor still matches it by `broker_lead_id`, so a postback
that arrives before `intmon leads record` reports the delivery still counts).
The unique key on (integration, event id) is what makes a resent postback a
duplicate, whichever API process receives it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, BigId, UTCDateTime


class Postback(Base):
    __tablename__ = "postbacks"
    __table_args__ = (
        UniqueConstraint("integration_id", "event_id"),
        Index("ix_postbacks_integration_broker_lead", "integration_id", "broker_lead_id"),
        Index("ix_postbacks_integration_received", "integration_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(String(64), ForeignKey("integrations.id"))
    event_id: Mapped[str] = mapped_column(String(128))
    broker_lead_id: Mapped[str] = mapped_column(String(128))
    lead_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status: Mapped[str] = mapped_column(String(32))
    # When the broker says it happened (optional in the body), and when intmon got it.
    at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
