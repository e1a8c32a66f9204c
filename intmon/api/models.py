"""The `api_tokens` table: who may call the HTTP API, stored as a hash only.

Kept free of FastAPI so the migrations (and the CLI) can import it cheaply.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, BigId, UTCDateTime

ROLES = ("support", "client", "tester")


class ApiToken(Base):
    """One bearer token. The token itself is shown once at creation; only its
    SHA-256 is kept, so a leaked database does not hand out API access."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint("role IN ('support', 'client', 'tester')", name="role"),
        CheckConstraint("role != 'client' OR client IS NOT NULL", name="client_role_has_client"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # None: never expires. Set with `intmon tokens create --expires-in 30d`.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # When a request last carried it; moved at most once a minute per token.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
