"""`intmon results prune` and `intmon results partitions`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from core import db
from core.settings import get_settings
from integrations.apply import apply
from integrations.results import count_results, record_results
from integrations.retention import Retention, prune
from intmon.cli import app
from intmon.migrations import upgrade
from tests.test_registry import config
from tests.test_retention import NOW, TODAY, drop_day_partitions, result

runner = CliRunner()
DAY = timedelta(days=1)


@pytest.fixture
def sqlite_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    yield from _configured(url, monkeypatch)


@pytest.fixture
def pg_cli(pg: Engine, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    yield from _configured(pg_url, monkeypatch)


@pytest.fixture
def pg(pg_engine: Engine) -> Iterator[Engine]:
    """As in test_retention: no day partitions to begin with, today's afterwards."""
    drop_day_partitions(pg_engine)
    yield pg_engine
    drop_day_partitions(pg_engine)
    prune(pg_engine, Retention(), datetime.now(UTC))


def _configured(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("INTMON_DATABASE_URL", url)
    monkeypatch.delenv("INTMON_REDIS_URL", raising=False)
    monkeypatch.setattr(db, "utcnow", lambda: NOW)
    get_settings.cache_clear()
    engine = db.make_engine(url)
    upgrade(engine)
    apply(engine, config("a"))
    yield engine
    engine.dispose()
    db.engine_for(url).dispose()
    get_settings.cache_clear()


def cli(*args: str) -> Result:
    outcome = runner.invoke(app, list(args))
    assert outcome.exit_code == 0, (outcome.stdout, outcome.stderr, outcome.exception)
    return outcome


def test_prune_on_sqlite_dry_run_then_for_real(sqlite_cli: Engine) -> None:
    record_results(sqlite_cli, [result(TODAY - 20 * DAY), result(TODAY - 15 * DAY), result(NOW)])
    planned = json.loads(cli("results", "prune", "--dry-run", "--json").stdout)
    assert planned["dry_run"] and planned["rows_deleted"] == 2
    assert planned["keep_from"] == "2031-03-05T00:00:00+00:00"
    assert count_results(sqlite_cli) == 3

    text = cli("results", "prune").stdout
    assert "keeping results from 2031-03-05 00:00 UTC on (did run)" in text
    assert "rows deleted: 2" in text
    assert count_results(sqlite_cli) == 1
    assert "no partitions" in cli("results", "partitions").stdout
    assert json.loads(cli("results", "partitions", "--json").stdout) == []


def test_the_retention_days_come_from_the_environment(
    sqlite_cli: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_results(sqlite_cli, [result(TODAY - 20 * DAY), result(NOW)])
    monkeypatch.setenv("INTMON_RESULTS_RETENTION_DAYS", "30")
    get_settings.cache_clear()
    report = json.loads(cli("results", "prune", "--json").stdout)
    assert report["keep_from"] == "2031-02-17T00:00:00+00:00" and report["rows_deleted"] == 0


def test_prune_and_partitions_on_postgres(pg_cli: Engine) -> None:
    record_results(pg_cli, [result(TODAY - DAY)])  # no partition yet: DEFAULT
    planned = json.loads(cli("results", "prune", "--dry-run", "--json").stdout)
    assert planned["partitions_created"][0] == "check_results_p20310318"
    assert [p["name"] for p in json.loads(cli("results", "partitions", "--json").stdout)] == [
        "check_results_default"
    ]
    text = cli("results", "prune").stdout
    assert "check_results_p20310318, check_results_p20310319" in text
    assert "rows moved out of DEFAULT: 1" in text

    listed = json.loads(cli("results", "partitions", "--json").stdout)
    assert listed[0] == {
        "name": "check_results_default",
        "from": None,
        "to": None,
        "rows_estimate": listed[0]["rows_estimate"],
        "default": True,
    }
    assert listed[1]["name"] == "check_results_p20310318"
    assert (listed[1]["from"], listed[1]["to"]) == (
        "2031-03-18T00:00:00+00:00",
        "2031-03-19T00:00:00+00:00",
    )
    table = cli("results", "partitions").stdout
    assert "DEFAULT" in table and "2031-03-22 00:00" in table
