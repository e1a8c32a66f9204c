"""The sizes of what the API and the console take, in one place (README: "Limits").

Each text field declares its longest length (characters) in the OpenAPI schema,
matched to the database column it is stored in, and refuses NUL, which
PostgreSQL's text cannot hold. Free text without a column size (a ticket's
description, a comment) is capped at 64 KiB; the whole request body at
`api_max_body_bytes` (16 MiB), before it is parsed (`middleware.BodyCap`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, field_validator

TOPIC_MAX = 200  # tickets.topic VARCHAR(200)
TEXT_MAX = 64 * 1024  # a ticket's description, a comment, a change notice's description
REASON_MAX = 2048  # tickets.close_reason VARCHAR(2048)
ID_MAX = 64  # integration, client, subtype, notice ids: VARCHAR(64)
SECTION_MAX = 32  # tickets.section VARCHAR(32)
STATUS_MAX = 24  # tickets.status VARCHAR(24)


class Input(BaseModel):
    """A request body of the API (and a form of the console, checked with it): every
    text field refuses NUL, whatever its size."""

    @field_validator("*", mode="after")
    @classmethod
    def no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL (\\u0000)")
        return value
