"""`intmon users create | list | set-password | disable`: passwords never echoed,
errors name the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from core import db
from core.settings import get_settings
from intmon.cli import app as cli
from intmon.migrations import upgrade
from intmon.web.session_store import SessionLimits, session_account, start_session
from intmon.web.users import authenticate

SECRET = "a-long-enough-password"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    monkeypatch.setenv("INTMON_DATABASE_URL", url)
    monkeypatch.delenv("INTMON_NEW_USER_PASSWORD", raising=False)
    get_settings.cache_clear()
    engine = db.engine_for(url)
    upgrade(engine)
    yield engine
    engine.dispose()
    get_settings.cache_clear()


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> object:
    return CliRunner().invoke(cli, list(args), input=input, env=env)


def test_create_with_each_way_of_giving_the_password(database: Engine, tmp_path: Path) -> None:
    from_env = run(
        "users", "create", "Sup", "--role", "support", env={"INTMON_NEW_USER_PASSWORD": SECRET}
    )
    assert from_env.exit_code == 0, from_env.output
    assert "user sup created (support)" in from_env.stdout
    password_file = tmp_path / "pw"
    password_file.write_text(SECRET + "-2\n")
    from_file = run(
        "users", "create", "ann", "--role", "client", "--client", "acme",
        "--password-file", str(password_file), "--json",
    )  # fmt: skip
    assert from_file.exit_code == 0, from_file.output
    assert json.loads(from_file.stdout) == {
        "id": 2, "username": "ann", "role": "client", "client": "acme"
    }  # fmt: skip
    prompted = run("users", "create", "oli", "--role", "client", "--client", "orbit",
                   input=f"{SECRET}-3\n{SECRET}-3\n")  # fmt: skip
    assert prompted.exit_code == 0, prompted.output
    for result in (from_env, from_file, prompted):
        assert SECRET not in result.output
    assert authenticate(database, "SUP", SECRET) is not None
    assert authenticate(database, "ann", SECRET + "-2") is not None
    assert authenticate(database, "oli", SECRET + "-3") is not None


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["x", "--role", "client"], SECRET, "client: required for a client user"),
        (["x", "--role", "support", "--client", "acme"], SECRET, "client: only a client user"),
        (["x", "--role", "admin"], SECRET, "role: unknown role 'admin'; one of support, client"),
        (["x", "--role", "client", "--client", "Not A Slug"], SECRET, "client: 'Not A Slug'"),
        (["has space", "--role", "support"], SECRET, "username: 1-100 characters"),
        (["x", "--role", "support"], "short", "password: must be at least 8 characters"),
    ],
)
def test_bad_input_names_the_field_and_exits_2(
    database: Engine, args: list[str], password: str, message: str
) -> None:
    result = run("users", "create", *args, env={"INTMON_NEW_USER_PASSWORD": password})
    assert result.exit_code == 2
    assert message in result.stderr
    assert password not in result.output


def test_a_duplicate_username_and_a_missing_password_are_refused(
    database: Engine, tmp_path: Path
) -> None:
    env = {"INTMON_NEW_USER_PASSWORD": SECRET}
    assert run("users", "create", "sup", "--role", "support", env=env).exit_code == 0
    again = run("users", "create", "SUP", "--role", "support", env=env)
    assert again.exit_code == 2 and "username: 'sup' already exists" in again.stderr
    unreadable = run("users", "create", "x", "--role", "support",
                     "--password-file", str(tmp_path / "none"))  # fmt: skip
    assert unreadable.exit_code == 2 and "password-file: cannot read" in unreadable.stderr
    no_input = run("users", "create", "x", "--role", "support", input="")
    assert no_input.exit_code == 2 and "password: not given" in no_input.stderr
    mismatch = run("users", "create", "y", "--role", "support", input=f"{SECRET}\nother\n")
    assert mismatch.exit_code == 2  # asked again after the mismatch, then no more input


def test_list_and_disable(database: Engine) -> None:
    env = {"INTMON_NEW_USER_PASSWORD": SECRET}
    run("users", "create", "sup", "--role", "support", env=env)
    run("users", "create", "ann", "--role", "client", "--client", "acme", env=env)
    listed = run("users", "list", "--json")
    assert listed.exit_code == 0
    rows = json.loads(listed.stdout)
    assert [(r["username"], r["role"], r["client"], r["disabled_at"]) for r in rows] == [
        ("sup", "support", None, None),
        ("ann", "client", "acme", None),
    ]
    assert "password" not in listed.stdout and "scrypt" not in listed.stdout
    table = run("users", "list")
    assert table.exit_code == 0 and "ann" in table.stdout and "acme" in table.stdout
    assert run("users", "disable", "ANN").exit_code == 0
    assert authenticate(database, "ann", SECRET) is None
    assert json.loads(run("users", "list", "--json").stdout)[1]["disabled_at"] is not None
    twice = run("users", "disable", "ann")
    assert twice.exit_code == 2 and "username: no active user 'ann'" in twice.stderr


def test_set_password_ends_the_users_sessions(database: Engine, tmp_path: Path) -> None:
    run("users", "create", "sup", "--role", "support", env={"INTMON_NEW_USER_PASSWORD": SECRET})
    limits = SessionLimits(max_age_s=3600, idle_timeout_s=3600)
    now = db.utcnow()
    key = start_session(database, 1, now, limits)
    new_password = tmp_path / "new"
    new_password.write_text(SECRET + "-new\n")
    changed = run("users", "set-password", "SUP", "--password-file", str(new_password))
    assert changed.exit_code == 0, changed.output
    assert "password of sup changed; 1 session(s) ended" in changed.stdout
    assert SECRET not in changed.output
    assert session_account(database, key, now, limits) is None
    assert authenticate(database, "sup", SECRET) is None
    assert authenticate(database, "sup", SECRET + "-new") is not None
    short = run("users", "set-password", "sup", env={"INTMON_NEW_USER_PASSWORD": "short"})
    assert short.exit_code == 2 and "password: must be at least 8" in short.stderr
    nobody = run("users", "set-password", "nobody", env={"INTMON_NEW_USER_PASSWORD": SECRET})
    assert nobody.exit_code == 2 and "username: no active user 'nobody'" in nobody.stderr
