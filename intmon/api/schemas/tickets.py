"""Answers of `/api/tickets`: the queue's rows and one ticket with its thread."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from intmon.api.schemas.common import Answer, Timestamp
from intmon.api.schemas.integrations import Incident


class Ticket(Answer):
    """`alerts.queries.TicketView`, and where to read it."""

    id: int
    number: str = Field(description="INC-000042")
    url: str = Field(description="This ticket in the API (absolute).")
    origin: str
    client: str
    integration_id: str | None
    family: str | None
    section: str
    subtype: str | None
    topic: str
    status: str = Field(description="open, in_progress, waiting_for_reply, closed or rejected")
    tier: str
    created_at: Timestamp
    updated_at: Timestamp
    first_response_due_at: Timestamp
    sla_due_at: Timestamp = Field(description="The deadline with maintenance time not counted.")
    first_responded_at: Timestamp | None
    sla_breached_at: Timestamp | None
    closed_at: Timestamp | None
    close_reason: str | None
    sla: str = Field(description="met, breached, due or n/a")


class Comment(Answer):
    id: int
    author_kind: str
    author: str
    visibility: str = Field(description="public, or internal (support only)")
    body: str
    created_at: Timestamp
    message: dict[str, Any] | None = Field(
        description="A system comment's news as {key, values…} (its body says it in English), "
        "for a client to say it in its own language; null for a person's comment."
    )


class HistoryEntry(Answer):
    at: Timestamp
    actor_kind: str
    actor: str
    action: str
    old: str | None
    new: str | None
    via: str | None = Field(
        description="How the change came in when not the console or the "
        "API: `email` (a reply by e-mail)"
    )


class Attachment(Answer):
    """A file on the ticket; its bytes are at `/api/tickets/{number}/attachments/{id}`."""

    id: int
    name: str = Field(description="The sender's file name, made safe.")
    content_type: str = Field(description="Decided from the bytes, never the name.")
    size: int = Field(description="Bytes.")
    sha256: str
    comment_id: int | None = Field(description="The comment it came with; null: the ticket.")
    author_kind: str
    author: str
    created_at: Timestamp


class TicketDetail(Ticket):
    """A ticket with its form, its thread (a client token sees no internal comment)
    and its incidents."""

    form: dict[str, Any] = Field(description="The ticket form's fields as filed.")
    category: str | None = Field(description="Seed 001: the form's category, if filed by one.")
    topic_id: str | None = Field(description="The form's topic, if filed by one.")
    fields: dict[str, Any] = Field(description="The topic's fields as filled ({} if none).")
    attachments: list[Attachment]
    comments: list[Comment]
    history: list[HistoryEntry]
    incidents: list[Incident]
