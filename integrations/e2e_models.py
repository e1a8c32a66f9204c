"""Tables of end-to-end scenario runs: their history and the postbacks they wait for.

Run history sits beside check results: a run is what a scenario did at one
moment, as a check result is what a check did. The whole redacted report is
one JSON column (`report`), written once when the run ends; the status
columns are what listings filter on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, BigId, UTCDateTime

RUN_STATUSES = ("queued", "running", "passed", "failed", "error")
TRIGGERS = ("cli", "api", "schedule")


class E2ERun(Base):
    """One run of one scenario. `id` is the random token in its callback URLs."""

    __tablename__ = "e2e_runs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'passed', 'failed', 'error')", name="status"
        ),
        CheckConstraint("trigger IN ('cli', 'api', 'schedule')", name="trigger"),
        Index("ix_e2e_runs_integration_created", "integration_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    integration_id: Mapped[str] = mapped_column(String(64), ForeignKey("integrations.id"))
    scenario: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    # The failing step's outcome class (ok when passed); None until the run ends.
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Callback names the run waits for: anything else posted to it is a 404.
    callbacks: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class E2ECallback(Base):
    """A partner's postback to a running scenario; the first of each name counts."""

    __tablename__ = "e2e_callbacks"
    __table_args__ = (UniqueConstraint("run_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64), ForeignKey("e2e_runs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(10))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    content_type: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    query: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
