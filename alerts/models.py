"""Tables owned by `alerts/`: incidents, tickets with comments and history, the outbox.

What must never happen twice is a database constraint, not a Python check
(STYLE.md §6): one open incident per (integration, family) and one active
automatic ticket per (integration, family) are partial unique indexes, on
PostgreSQL and on SQLite alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, BigId, UTCDateTime

ACTIVE_TICKET = "status IN ('open', 'in_progress', 'waiting_for_reply')"


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index(
            "uq_incidents_open",
            "integration_id",
            "family",
            unique=True,
            postgresql_where=text("state = 'open'"),
            sqlite_where=text("state = 'open'"),
        ),
        Index("ix_incidents_integration_family_opened", "integration_id", "family", "opened_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(String(64), ForeignKey("integrations.id"))
    family: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))  # open | resolved
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    failures: Mapped[int] = mapped_column(Integer, default=0)
    # The checks that failed in this family while it was open; it resolves when
    # all of them pass again.
    checks: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_outcome: Mapped[str] = mapped_column(String(32))
    last_detail: Mapped[str] = mapped_column(Text, default="")
    # The failing request and response as a support engineer reproduces it
    # (secrets already redacted): method, url, headers, status, excerpt.
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Auth and contract incidents: how the failing answer differs from the check's
    # learned contract, and when it last passed (integrations.contracts). None
    # when there was nothing to compare.
    contract_diff: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Times it came back within the flap window after resolving.
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True)
    # Escalation of an emergency nobody acknowledged (issue 4): who was told last,
    # how many reminders went out, and when someone took it.
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=1)
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    last_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index(
            "uq_tickets_active_auto",
            "integration_id",
            "family",
            unique=True,
            postgresql_where=text(f"origin = 'incident' AND {ACTIVE_TICKET}"),
            sqlite_where=text(f"origin = 'incident' AND {ACTIVE_TICKET}"),
        ),
        Index("ix_tickets_client_status", "client", "status"),
        Index("ix_tickets_queue", "status", "first_response_due_at", "created_at"),
        # Keyset pages of the queue (alerts/ticket_pages.py): the active run in
        # deadline order, the finished run newest first, alone or filtered.
        Index(
            "ix_tickets_active_due",
            "first_response_due_at",
            "created_at",
            "id",
            postgresql_where=text(ACTIVE_TICKET),
            sqlite_where=text(ACTIVE_TICKET),
        ),
        Index("ix_tickets_created", "created_at", "id"),
        Index("ix_tickets_status_created", "status", "created_at", "id"),
        Index("ix_tickets_client_created", "client", "created_at", "id"),
        Index("ix_tickets_integration_created", "integration_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    origin: Mapped[str] = mapped_column(String(16))  # incident | manual
    client: Mapped[str] = mapped_column(String(64))
    integration_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("integrations.id"), nullable=True
    )
    family: Mapped[str | None] = mapped_column(String(32), nullable=True)
    tier: Mapped[str] = mapped_column(String(20))
    section: Mapped[str] = mapped_column(String(32))
    subtype: Mapped[str | None] = mapped_column(String(64), nullable=True)
    topic: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(24))
    form: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_response_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sla_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # When it last entered waiting_for_reply: the 2-day auto-close counts from here.
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    close_reason: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    # Proves a reply by e-mail answers a mail about this ticket (alerts.reply_tokens);
    # made when the first such mail is sent.
    reply_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Seed 001's form (alerts.ticket_forms): the category and topic chosen, and the
    # topic's fields as filled ({name: text}); None for tickets filed without one.
    category: Mapped[str | None] = mapped_column(String(64), nullable=True)
    topic_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    fields: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Attachment(Base):
    """A file on a ticket (seed 001 "Вложение"), kept in the database: it commits with
    the ticket or comment it came with, is backed up with it, and every API process
    reads it without a shared volume. Sizes are capped (alerts.ticket_forms), so a
    row stays small. `content_type` was sniffed from the bytes, never the name."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    # The comment it came with; None when it came with the ticket itself.
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_comments.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(120))  # sanitized original name
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    author_kind: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TicketComment(Base):
    __tablename__ = "ticket_comments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    author_kind: Mapped[str] = mapped_column(String(16))  # system | support | client
    author: Mapped[str] = mapped_column(String(200))
    visibility: Mapped[str] = mapped_column(String(16))  # public | internal
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when the comment came back from an external system (sync-back), so
    # the same external comment is never imported twice.
    external_ref: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    # A system comment's news as {"key": ..., **values}, so a surface can say it in
    # its reader's language (`body` holds it in English); None for people's comments.
    message: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class TicketHistory(Base):
    """The audit trail: every change to a ticket, who made it, old and new value."""

    __tablename__ = "ticket_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    old: Mapped[str | None] = mapped_column(Text, nullable=True)
    new: Mapped[str | None] = mapped_column(Text, nullable=True)
    # How the change came in when not through the console, CLI or API: "email".
    via: Mapped[str | None] = mapped_column(String(16), nullable=True)


class ExternalRef(Base):
    """A ticket's id in an external system (Jira key, Zendesk id, …)."""

    __tablename__ = "ticket_external_refs"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    sink: Mapped[str] = mapped_column(String(64), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200))
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ConfigDocument(Base):
    """Configuration that is not per integration (the ticket sinks), as last applied."""

    __tablename__ = "config_documents"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    document: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class NotificationThrottle(Base):
    """When a recipient was last sent something on a channel: messages due within
    the digest window after it wait and go out together as one digest."""

    __tablename__ = "notification_throttle"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    last_sent_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PlatformOutage(Base):
    """A span when intmon's own network or resolver failed (README "Is it them or us?").

    While one is open, connectivity failures of partners are recorded but open no
    incident, and leads lost are the platform's. At most one is open: a partial
    unique index, so two housekeeping passes that both see the failure open one.
    """

    __tablename__ = "platform_outages"
    __table_args__ = (
        Index(
            "uq_platform_outages_open",
            "state",
            unique=True,
            postgresql_where=text("state = 'open'"),
            sqlite_where=text("state = 'open'"),
        ),
        Index("ix_platform_outages_started", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    state: Mapped[str] = mapped_column(String(16))  # open | ended
    # When the failure began (the earliest failing result that revealed it), not
    # when the housekeeping pass noticed: leads lost in between are ours too.
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cause: Mapped[str] = mapped_column(String(16))  # canary | dns | correlated
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    # What was seen: the failing canaries and names, or the per-outcome counts.
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Evaluations in a row that found everything well: it ends at CLEAR_AFTER.
    clear_streak: Mapped[int] = mapped_column(Integer, default=0)
