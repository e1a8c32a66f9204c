"""The web_users table on SQLite and PostgreSQL: the database keeps usernames unique
and a client user bound to a client, whatever code writes to it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from intmon.web.session_store import SESSIONS, SessionLimits, session_account, start_session
from intmon.web.users import (
    USERS,
    UserError,
    authenticate,
    create_user,
    disable_user,
    list_users,
    set_password,
)
from tests.alerts.helpers import T0

PASSWORD = "correct horse battery"


def test_create_authenticate_disable(db_engine: Engine) -> None:
    support = create_user(db_engine, "Sup", role="support", password=PASSWORD, now=T0)
    client = create_user(
        db_engine, "ann@acme.example", role="client", client="acme", password=PASSWORD, now=T0
    )
    with pytest.raises(UserError, match="username: 'sup' already exists"):
        create_user(db_engine, "SUP", role="support", password=PASSWORD, now=T0)
    found = authenticate(db_engine, " ANN@acme.example ", PASSWORD)
    assert found is not None and (found.id, found.role, found.client) == (client, "client", "acme")
    assert found.principal.sees_client("acme") and not found.principal.sees_client("orbit")
    assert authenticate(db_engine, "sup", "wrong") is None
    assert authenticate(db_engine, "nobody", PASSWORD) is None
    limits = SessionLimits(max_age_s=3600, idle_timeout_s=600)
    keys = [start_session(db_engine, user, T0, limits) for user in (support, client)]
    disable_user(db_engine, "sup", T0)
    assert authenticate(db_engine, "sup", PASSWORD) is None
    assert session_account(db_engine, keys[0], T0, limits) is None
    assert session_account(db_engine, keys[1], T0, limits) == found
    assert [row["username"] for row in list_users(db_engine)] == ["sup", "ann@acme.example"]
    assert all("password_hash" not in row for row in list_users(db_engine))


@pytest.mark.parametrize(
    ("role", "client"),
    [("client", None), ("support", "acme"), ("admin", None)],
)
def test_the_database_refuses_a_user_that_breaks_the_role_rules(
    db_engine: Engine, role: str, client: str | None
) -> None:
    with pytest.raises(IntegrityError), db_engine.begin() as connection:
        connection.execute(
            insert(USERS).values(
                username="x", password_hash="h", role=role, client=client, created_at=T0
            )
        )


def test_a_session_lives_within_both_clocks_and_is_touched_once_a_minute(
    db_engine: Engine,
) -> None:
    user = create_user(db_engine, "sup", role="support", password=PASSWORD, now=T0)
    limits = SessionLimits(max_age_s=3 * 3600, idle_timeout_s=3600)
    key = start_session(db_engine, user, T0, limits)

    def last_seen() -> object:
        with db_engine.connect() as connection:
            return connection.execute(select(SESSIONS.c.last_seen_at)).scalar_one()

    assert session_account(db_engine, key, T0 + timedelta(seconds=30), limits) is not None
    assert last_seen() == T0  # not written for a request within the minute
    later = T0 + timedelta(minutes=50)
    assert session_account(db_engine, key, later, limits) is not None
    assert last_seen() == later
    assert session_account(db_engine, "not-a-key", later, limits) is None
    assert session_account(db_engine, key, later + timedelta(minutes=60), limits) is None
    assert last_seen_count(db_engine) == 0  # a dead session's row goes

    key = start_session(db_engine, user, T0, limits)
    for minutes in range(50, 180, 50):
        assert session_account(db_engine, key, T0 + timedelta(minutes=minutes), limits)
    assert session_account(db_engine, key, T0 + timedelta(hours=3), limits) is None
    key = start_session(db_engine, user, T0, limits)
    assert set_password(db_engine, "SUP", "another good password") == 1
    assert session_account(db_engine, key, T0, limits) is None
    with pytest.raises(UserError, match="password: must be at least 8"):
        set_password(db_engine, "sup", "short")
    with pytest.raises(UserError, match="username: no active user 'nobody'"):
        set_password(db_engine, "nobody", "another good password")


def last_seen_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(SESSIONS)).scalar_one())
