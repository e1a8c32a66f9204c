"""API tokens that expire, and the last use of each, kept to the minute."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from core import db
from core.settings import Settings, get_settings
from intmon.api.auth import TokenError, create_token, list_tokens, parse_lifetime
from intmon.app import create_app
from intmon.cli import app as cli
from intmon.migrations import upgrade
from tests.alerts.helpers import T0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    now = [T0]
    monkeypatch.setattr(db, "utcnow", lambda: now[0])
    return now


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'tokens.db'}"
    monkeypatch.setenv("INTMON_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = db.engine_for(url)
    upgrade(engine)
    yield engine
    engine.dispose()
    get_settings.cache_clear()


def test_a_token_stops_working_when_it_expires(engine: Engine, clock: list[datetime]) -> None:
    _, token = create_token(engine, role="support", now=T0, expires_at=T0 + timedelta(days=30))
    _, forever = create_token(engine, role="support", now=T0)
    with TestClient(create_app(engine, Settings(redis_url=None))) as client:

        def status(secret: str) -> int:
            headers = {"Authorization": f"Bearer {secret}"}
            return client.get("/api/integrations", headers=headers).status_code

        clock[0] = T0 + timedelta(days=30) - timedelta(seconds=1)
        assert (status(token), status(forever)) == (200, 200)
        clock[0] = T0 + timedelta(days=30)
        assert (status(token), status(forever)) == (401, 200)


def test_the_last_use_is_written_at_most_once_a_minute(
    engine: Engine, clock: list[datetime]
) -> None:
    token_id, token = create_token(engine, role="tester", now=T0)
    with TestClient(create_app(engine, Settings(redis_url=None))) as client:

        def use_at(moment: datetime) -> datetime | None:
            clock[0] = moment
            headers = {"Authorization": f"Bearer {token}"}
            assert client.get("/api/integrations", headers=headers).status_code == 200
            (row,) = [row for row in list_tokens(engine) if row["id"] == token_id]
            return row["last_used_at"]  # type: ignore[no-any-return]

        assert list_tokens(engine)[0]["last_used_at"] is None
        assert use_at(T0) == T0
        assert use_at(T0 + timedelta(seconds=59)) == T0
        assert use_at(T0 + timedelta(seconds=60)) == T0 + timedelta(seconds=60)


@pytest.mark.parametrize(
    ("text", "lifetime"),
    [
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        (" 30d ", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_lifetimes(text: str, lifetime: timedelta) -> None:
    assert parse_lifetime(text) == lifetime


@pytest.mark.parametrize("text", ["", "30", "0d", "1y", "-1d", "1.5h", "d30"])
def test_a_lifetime_that_is_not_one_is_refused_naming_the_option(text: str) -> None:
    with pytest.raises(TokenError, match=r"expires-in: .* is not a lifetime like 90m"):
        parse_lifetime(text)


def test_tokens_create_expires_in_and_list_shows_expiry_and_last_use(
    engine: Engine, clock: list[datetime]
) -> None:
    runner = CliRunner()
    created = runner.invoke(
        cli, ["tokens", "create", "--role", "support", "--expires-in", "30d", "--json"]
    )
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["expires_at"] == (T0 + timedelta(days=30)).isoformat()
    refused = runner.invoke(cli, ["tokens", "create", "--role", "support", "--expires-in", "soon"])
    assert refused.exit_code == 2 and "expires-in: 'soon' is not a lifetime" in refused.stderr
    table = runner.invoke(cli, ["tokens", "list"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "expires" in table.stdout and "last used" in table.stdout
    assert (T0 + timedelta(days=30)).strftime("%Y-%m-%d %H:%M") in table.stdout
    (listed,) = json.loads(runner.invoke(cli, ["tokens", "list", "--json"]).stdout)
    assert listed["last_used_at"] is None and listed["expires_at"] is not None
