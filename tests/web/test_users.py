"""The web_users table on SQLite and PostgreSQL: the database keeps usernames unique
and a client user bound to a client, whatever code writes to it."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError

from intmon.web.users import (
    USERS,
    UserError,
    active_account,
    authenticate,
    create_user,
    disable_user,
    list_users,
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
    disable_user(db_engine, "sup", T0)
    assert authenticate(db_engine, "sup", PASSWORD) is None
    assert active_account(db_engine, support) is None
    assert active_account(db_engine, client) is not None
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
