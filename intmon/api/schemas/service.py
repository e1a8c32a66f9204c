"""Answers of the operations surface and of the support-only write endpoints."""

from __future__ import annotations

from pydantic import Field

from intmon.api.schemas.common import Answer


class Health(Answer):
    status: str = Field(description="ok")


class Readiness(Answer):
    """Also the body of the 503: for orchestrators, which read the status code."""

    status: str = Field(description="ready or unavailable")
    checks: dict[str, str] = Field(description='"ok", or what failed, per dependency.')


class SyncBack(Answer):
    ticket: str
    status_changes: list[str]
    comments: int
    errors: list[str]


class Backfill(Answer):
    stored: int
    incidents_opened: list[int]
    incidents_resolved: list[int]
    tickets_opened: list[int]
