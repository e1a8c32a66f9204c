"""The `web_users` table: people who log in to the web console, and their sessions.

`web_sessions`: one row per logged-in browser, so a session can be ended from
the server (logout, a new password, a disabled user) instead of living as long
as its signed cookie. Kept free of FastAPI and Jinja2 so the migrations (and the
CLI) import it cheaply.
The password is stored as a salted scrypt hash (`intmon.web.users`), never as text.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime
from integrations.models import BigId

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
