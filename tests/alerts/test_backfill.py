"""Backfilling past results (`intmon results import`, `POST /api/results/import`):
the worker's intake at each result's own time, the whole file refused for one bad
line, a check's history never rewritten backwards, nobody paged about last week."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from alerts.backfill import backfill
from alerts.errors import BackfillError
from alerts.models import Incident, Ticket
from alerts.policy import Policy
from core.outbox import OutboxMessage
from core.vocabulary.outcomes import Outcome
from integrations.models import CheckResultRow
from tests.alerts.helpers import T0, feed, setup

WINDOW = (
    "    maintenance:\n"
    "      - {id: upgrade, starts_at: '2026-11-23T12:00:00+00:00',"
    " ends_at: '2026-11-23T12:10:00+00:00', reason: broker upgrade}"
)
NOW = T0 + timedelta(days=7)


def line(minute: float, outcome: str, check: str = "health", **extra: object) -> str:
    at = (T0 + timedelta(minutes=minute)).isoformat()
    return json.dumps(
        {"integration": "a", "check": check, "started_at": at, "outcome": outcome, **extra}
    )


def outage() -> list[str]:
    """Refused inside the window (minutes 5–9), auth failing 10–14, ok from 15."""
    return (
        [line(m, "connection_refused") for m in range(5, 10)]
        + [line(m, "auth_failure", http_status=401, detail="HTTP 401") for m in range(10, 15)]
        + [line(m, "ok", http_status=200) for m in (15, 16)]
    )


def count(engine: Engine, model: type) -> int:
    with engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(model)).scalar_one())


def test_last_weeks_outage_comes_out_as_it_would_have_then(db_engine: Engine) -> None:
    specs = setup(db_engine, "a", extra=WINDOW)
    shuffled = list(reversed(outage()))  # the file's order does not matter: time does
    report = backfill(db_engine, shuffled, specs, Policy(), NOW)
    assert report.stored == 12 and len(report.opened) == 1 and len(report.resolved) == 1
    with db_engine.connect() as c:
        (incident,) = c.execute(select(Incident)).all()
        flags = c.execute(
            select(CheckResultRow.maintenance).order_by(CheckResultRow.started_at)
        ).scalars()
        assert [bool(f) for f in flags] == [True] * 5 + [False] * 7
    assert incident.family == "auth"
    assert incident.first_seen == T0 + timedelta(minutes=10)  # not the window's outage
    assert incident.opened_at == T0 + timedelta(minutes=12)  # the clock was the result's
    assert incident.resolved_at == T0 + timedelta(minutes=16)
    assert count(db_engine, Ticket) == 1
    # Nothing about last week goes to anybody now.
    with db_engine.connect() as c:
        targets = c.execute(select(OutboxMessage.target)).scalars().all()
    assert not [t for t in targets if t.startswith("notify:")]


def test_one_bad_line_refuses_the_whole_file_naming_every_bad_line(db_engine: Engine) -> None:
    specs = setup(db_engine, "a")
    lines = [
        *outage()[:3],
        "{not json",
        line(20, "on_fire"),
        line(21, "ok", check="nope"),
        "",
        line(22, "ok").replace('"a"', '"zz"'),
        line(60 * 24 * 30, "ok"),  # in the future
    ]
    with pytest.raises(BackfillError) as refused:
        backfill(db_engine, lines, specs, Policy(), NOW)
    problems = dict(refused.value.problems)
    assert sorted(problems) == [4, 5], problems  # the parse stage stops the file first
    assert "not JSON" in problems[4] and problems[5].startswith("outcome:")
    assert count(db_engine, CheckResultRow) == 0

    with pytest.raises(BackfillError) as refused:
        backfill(db_engine, [lines[i] for i in (0, 1, 5, 7, 8)], specs, Policy(), NOW)
    problems = dict(refused.value.problems)
    assert problems[3] == "check: a has no check 'nope'"
    assert problems[4] == "integration: 'zz' is not registered"
    assert "is in the future" in problems[5]
    assert count(db_engine, CheckResultRow) == 0


def test_a_checks_history_only_moves_forward(db_engine: Engine) -> None:
    specs = setup(db_engine, "a")
    feed(db_engine, specs, [Outcome.OK], start=30)
    with pytest.raises(BackfillError) as refused:
        backfill(db_engine, [line(29, "ok"), line(31, "ok")], specs, Policy(), NOW)
    assert refused.value.problems[0][0] == 1
    assert "already has results up to" in refused.value.problems[0][1]
    assert backfill(db_engine, [line(31, "ok")], specs, Policy(), NOW).stored == 1


def test_the_command_line_reads_a_file_or_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.settings import get_settings
    from intmon.cli import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("INTMON_DATABASE_URL", url)
    monkeypatch.delenv("INTMON_REDIS_URL", raising=False)
    get_settings.cache_clear()
    from core import db
    from intmon.migrations import upgrade

    engine = db.make_engine(url)
    upgrade(engine)
    setup(engine, "a")
    runner = CliRunner()
    bad = runner.invoke(app, ["results", "import", "-", "--json"], input="{}\n")
    assert bad.exit_code == 2
    assert json.loads(bad.stdout)["problems"][0]["line"] == 1
    assert "-:1: integration: Field required" in bad.stderr
    path = tmp_path / "outage.jsonl"
    path.write_text("\n".join(outage()) + "\n")
    good = runner.invoke(app, ["results", "import", str(path), "--json"])
    assert good.exit_code == 0, good.output
    assert json.loads(good.stdout)["stored"] == 12
    get_settings.cache_clear()


def test_support_imports_over_http_clients_may_not(tmp_path: Path) -> None:
    from core import db
    from core.settings import Settings
    from intmon.api.auth import create_token
    from intmon.app import create_app
    from intmon.migrations import upgrade

    engine = db.make_engine(f"sqlite:///{tmp_path / 'api.db'}")
    upgrade(engine)
    setup(engine, "a")
    _, support = create_token(engine, role="support", now=NOW)
    _, client = create_token(engine, role="client", client="acme", now=NOW)
    http = TestClient(create_app(engine, Settings(database_url=str(engine.url))))
    body = "\n".join(outage())
    denied = http.post(
        "/api/results/import", content=body, headers={"Authorization": f"Bearer {client}"}
    )
    assert denied.status_code == 403
    refused = http.post(
        "/api/results/import",
        content=body + "\n{oops",
        headers={"Authorization": f"Bearer {support}"},
    )
    assert refused.status_code == 422 and refused.json()["problems"][0]["line"] == 13
    done = http.post(
        "/api/results/import", content=body, headers={"Authorization": f"Bearer {support}"}
    )
    assert done.status_code == 201 and done.json()["stored"] == 12
