"""Pieces every response model shares: the base class and the timestamp type."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, WithJsonSchema


class Answer(BaseModel):
    """A response body built by intmon's own code: every field it has is named here
    (`extra="forbid"`), so a field added to a view without its model fails the tests."""

    model_config = ConfigDict(extra="forbid")


class StoredDocument(BaseModel):
    """A JSON document read back from the database (a scenario report): older rows may
    carry fields this version no longer writes, so extra fields are passed through."""

    model_config = ConfigDict(extra="allow")


def _iso(value: Any) -> Any:
    """Views hand over datetimes or their `isoformat()`; both leave as that text, so
    the wire format (`2026-12-07T06:19:32.123456+00:00`) is what it always was."""
    return value.isoformat() if isinstance(value, datetime) else value


# An RFC 3339 moment with its offset, as text (pydantic's own datetime would rewrite
# "+00:00" as "Z" and change every answer).
Timestamp = Annotated[
    str,
    BeforeValidator(_iso),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
