"""The `web_users` table: people who log in to the web console, and their sessions.

`web_sessions`: one row per logged-in browser, so a session can be ended from
the server (logout, a new password, a disabled user) instead of living as long
as its signed cookie. `console_actions`: the audit trail of what support did at
the console (acknowledged, declared a window, ran a check...) and what came of
it. Kept free of FastAPI and Jinja2 so the migrations (and the CLI) import it
cheaply.
The password is stored as a salted scrypt hash (`intmon.web.users`), never as text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, BigId, UTCDateTime

WEB_ROLES = ("support", "client")


class WebUser(Base):
    """One person. A client user sees only their client's integrations and tickets;
    a disabled one cannot log in, and their open sessions stop at the next request."""

    __tablename__ = "web_users"
    __table_args__ = (
        CheckConstraint("role IN ('support', 'client')", name="role"),
        CheckConstraint("role != 'client' OR client IS NOT NULL", name="client_role_has_client"),
        CheckConstraint("role != 'support' OR client IS NULL", name="support_role_has_no_client"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebSession(Base):
    """One login of one user. The cookie carries a random session key; only its
    SHA-256 is kept here. Ending a session deletes its row: the cookie is then
    worth nothing, whatever its signature says."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("web_users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Moved at most once a minute (SESSION_TOUCH_S), so a busy console does not
    # write on every click; the idle timeout is measured from it.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConsoleAction(Base):
    """One action a person took at the console, refused or done (`intmon.web.audit`).

    Kept apart from `ticket_history`: most actions (a maintenance window, a run
    now) have no ticket. `values` holds what the outcome's message needs (the
    window's name, the results' outcomes, the run's id), never a secret: results
    are redacted before they get here."""

    __tablename__ = "console_actions"
    __table_args__ = (Index("ix_console_actions_integration_at", "integration_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(100))  # the user's name
    role: Mapped[str] = mapped_column(String(16))
    # incident.ack | maintenance.declare | maintenance.edit | maintenance.end |
    # checks.run | scenario.run
    action: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))  # done | refused | failed
    integration_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # What was acted on, within the integration: an incident id, a window's name,
    # a check or scenario name.
    subject: Mapped[str | None] = mapped_column(String(200), nullable=True)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class StagedUpload(Base):
    """A file a person chose on the new-ticket form that was shown again instead of
    filed (the duplicate warning, a refused field): a browser cannot refill a file
    input, so the file waits here until the form is sent again (`staged_uploads.py`).

    It belongs to one login: the session's key hash and the user must both match to
    read or claim it, the random `token` only names it in the form. It lives
    `STAGED_TTL` at most, goes when its session ends, and is deleted when claimed."""

    __tablename__ = "staged_uploads"
    __table_args__ = (Index("ix_staged_uploads_session_user", "session_hash", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    session_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("web_users.id"))
    name: Mapped[str] = mapped_column(String(120))  # sanitized, as it will be attached
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
