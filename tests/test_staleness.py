"""Stale checks (issue 21): a check without a result for two intervals is `stale`,
with the reason, wherever check state is shown. The rule is a table; the reasons
come from the scheduler (in flight) and the workers (budget) through `check_skips`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from core.settings import Settings
from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.apply import apply
from integrations.loader import load_text
from integrations.results import record_results
from integrations.skips import SkipLog
from integrations.staleness import (
    Freshness,
    QuietReason,
    Skip,
    check_freshness,
    freshness,
)
from intmon import metrics
from intmon.cli import app
from tests.conftest import Partner
from worker.batch import Batch, BatchItem
from worker.coordination import claim_value
from worker.coordination.memory import MemoryCoordinator
from worker.pipeline import run_batch
from worker.runtime import Runtime, build_runtime
from worker.scheduler import Scheduler

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
MINUTE = 60.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- the rule: (last result, interval, now, skip) → freshness ------------------------

ROWS = [
    # name, seconds since the last result, skip (reason, seconds after it), stale, reason
    ("a fresh check", 60, None, False, None),
    ("one interval late is not yet stale", 119, None, False, None),
    ("two intervals without a result", 120, None, True, QuietReason.NO_WORKER),
    ("skipped by the budget since", 300, (QuietReason.BUDGET, 250), True, QuietReason.BUDGET),
    ("skipped while in flight", 300, (QuietReason.IN_FLIGHT, 290), True, QuietReason.IN_FLIGHT),
    ("a skip before the last result is history", 300, (QuietReason.BUDGET, -5), True,
     QuietReason.NO_WORKER),
    ("a recent skip does not make a fresh check stale", 30, (QuietReason.BUDGET, 20), False,
     None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "age", "skip", "stale", "reason"), ROWS, ids=[row[0] for row in ROWS]
)
def test_freshness(
    name: str,
    age: float,
    skip: tuple[QuietReason, float] | None,
    stale: bool,
    reason: QuietReason | None,
) -> None:
    last = T0
    recorded = Skip(skip[0], last + timedelta(seconds=skip[1])) if skip else None
    found = freshness(last, MINUTE, last + timedelta(seconds=age), recorded)
    assert found == Freshness(stale, age, reason)


# --- where the reasons come from -----------------------------------------------------

CONFIG = """version: 1
integrations:
  - id: slowbroker
    name: Slow Broker
    kind: broker
    client: acme
    base_url: {url}
    interval_s: 60
    checks: [{{name: a, path: /health}}, {{name: b, path: /health}}, {{name: c, path: /health}}]
    delivery:
      path: /leads
      body: {{email: "{{{{ lead.email }}}}"}}
      rate_limit_rps: 1
      checks_share: 0.5
  - id: calm
    name: Calm Broker
    kind: broker
    client: acme
    base_url: {url}
    interval_s: 60
    checks: [{{name: health, path: /health}}]
"""


@pytest.fixture
def runtime(tmp_path: Path, partner: Partner) -> Iterator[Runtime]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'quiet.db'}", redis_url=None)
    rt = build_runtime(settings)
    from intmon.migrations import upgrade

    upgrade(rt.db)
    apply(rt.db, load_text(CONFIG.format(url=partner.url)), now=datetime.now(UTC))
    assert rt.coordinator.ensure_leadership()
    yield rt
    rt.close()
    rt.db.dispose()


def one_batch(rt: Runtime, checks: list[tuple[str, str]]) -> Batch:
    now = time.time()
    deadline = now + 60
    keys = [f"{i}/{c}" for i, c in checks]
    assert rt.coordinator.claim(keys, now, deadline) == keys
    items = [BatchItem(i, 1, c, now, 15.0) for i, c in checks]
    return Batch(rt.coordinator.fence, claim_value(deadline), deadline, items)


def test_checks_the_budget_skips_go_stale_for_budget(runtime: Runtime) -> None:
    rt = runtime
    batch = one_batch(rt, [("slowbroker", "a"), ("slowbroker", "b"), ("slowbroker", "c")])
    outcome = run_batch(rt, batch.to_payload())
    # One request a second, half of it for checks: one check runs, two are skipped.
    assert len(outcome.results) == 1 and outcome.skipped == {"budget": 2}
    ran = outcome.results[0].check_name
    later = datetime.now(UTC) + timedelta(minutes=2, seconds=1)
    fresh = check_freshness(rt.db, later, "slowbroker")
    assert {name: f.reason for (_, name), f in fresh.items()} == {
        name: QuietReason.NO_WORKER if name == ran else QuietReason.BUDGET for name in "abc"
    }
    # Within two intervals nothing is stale yet.
    assert not any(f.stale for f in check_freshness(rt.db, datetime.now(UTC)).values())


def sent(broker: StubBroker) -> list[Batch]:
    queue = broker.queues["checks"]
    batches = []
    while not queue.empty():
        batches.append(Batch.from_payload(Message.decode(queue.get_nowait()).args[0]))
    return batches


@pytest.mark.parametrize(
    ("workers_start_runs", "reason"),
    [(True, QuietReason.IN_FLIGHT), (False, QuietReason.NO_WORKER)],
    ids=["runs-that-never-end", "runs-nobody-takes"],
)
def test_the_scheduler_tells_a_run_in_flight_from_one_no_worker_took(
    sqlite_engine: Engine, workers_start_runs: bool, reason: QuietReason
) -> None:
    apply(sqlite_engine, load_text(CONFIG.format(url="http://127.0.0.1:9")), now=T0)
    now = [T0.timestamp()]
    broker = StubBroker()
    coordinator = MemoryCoordinator()
    scheduler = Scheduler(sqlite_engine, broker, coordinator, clock=lambda: now[0])
    scheduler.refresh()
    for _ in range(3 * 60 * 10):  # three minutes of 0.1 s ticks; no run ever ends
        now[0] += 0.1
        scheduler.tick()
        for batch in sent(broker):
            if workers_start_runs:  # a worker takes the batch; its runs hang
                assert coordinator.start(batch.claims(), now[0] + 3600)
    broker.close()
    fresh = check_freshness(sqlite_engine, datetime.fromtimestamp(now[0], UTC))
    assert len(fresh) == 4 and all(f.stale for f in fresh.values())
    assert {f.reason for f in fresh.values()} == {reason}


def test_a_disabled_or_unconfigured_check_is_never_stale(sqlite_engine: Engine) -> None:
    text = CONFIG.format(url="http://127.0.0.1:9").replace(
        "    interval_s: 60\n    checks: [{name: health",
        "    enabled: false\n    checks: [{name: health",
    )
    apply(sqlite_engine, load_text(text), now=T0)
    fresh = check_freshness(sqlite_engine, at(3600))
    assert ("calm", "health") not in fresh
    assert sorted(fresh) == [("slowbroker", "a"), ("slowbroker", "b"), ("slowbroker", "c")]


def test_the_skip_log_writes_the_latest_skip_per_check_in_batches(db_engine: Engine) -> None:
    from intmon.migrations import upgrade

    upgrade(db_engine)
    apply(db_engine, load_text(CONFIG.format(url="http://127.0.0.1:9")), now=T0)
    log = SkipLog(flush_s=5.0)
    log.note([("slowbroker", "a")], QuietReason.IN_FLIGHT, at(10).timestamp())
    assert log.flush(db_engine, at(10).timestamp()) == 1
    log.note([("slowbroker", "a")], QuietReason.BUDGET, at(12).timestamp())
    assert log.flush(db_engine, at(12).timestamp()) == 0  # within 5 s of the last write
    assert log.flush(db_engine, at(15).timestamp()) == 1
    fresh = check_freshness(db_engine, at(200), "slowbroker")
    assert fresh[("slowbroker", "a")].reason is QuietReason.BUDGET
    assert fresh[("slowbroker", "b")].reason is QuietReason.NO_WORKER


# --- where it is shown ---------------------------------------------------------------


@pytest.fixture
def quiet_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """slowbroker/a skipped by the budget for 10 minutes; calm/health ran just now."""
    from core.db import engine_for
    from intmon.migrations import upgrade

    url = f"sqlite:///{tmp_path / 'status.db'}"
    monkeypatch.setenv("INTMON_DATABASE_URL", url)
    from core.settings import get_settings

    get_settings.cache_clear()
    engine = engine_for(url)
    upgrade(engine)
    now = datetime.now(UTC)
    apply(engine, load_text(CONFIG.format(url="http://127.0.0.1:9")), now=now - timedelta(hours=1))
    ok = [
        CheckResult("slowbroker", name, Outcome.OK, now - timedelta(minutes=10), 0.01)
        for name in "abc"
    ]
    record_results(engine, [*ok, CheckResult("calm", "health", Outcome.OK, now, 0.01)])
    log = SkipLog()
    log.note([("slowbroker", "a")], QuietReason.BUDGET, (now - timedelta(seconds=30)).timestamp())
    log.flush(engine, now.timestamp())
    yield engine
    get_settings.cache_clear()


def test_status_shows_stale_checks_and_why(quiet_world: Engine) -> None:
    result = CliRunner().invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["platform_outage"] is None
    rows = {(r["integration_id"], r["check_name"]): r for r in report["checks"]}
    a = rows[("slowbroker", "a")]
    assert (a["outcome"], a["stale"], a["stale_reason"]) == ("ok", True, "budget")
    assert 590 <= a["seconds_since_result"] < 700
    assert rows[("slowbroker", "b")]["stale_reason"] == "no_worker"
    assert rows[("calm", "health")]["stale"] is False
    table = CliRunner().invoke(app, ["status"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    line = next(row for row in table.output.splitlines() if "slowbroker" in row and " a " in row)
    assert "stale 10m: budget" in line


def test_the_api_shows_stale_checks_and_why(quiet_world: Engine) -> None:
    from intmon.api.auth import create_token
    from intmon.app import create_app

    _, token = create_token(quiet_world, role="support", now=datetime.now(UTC))
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(quiet_world, Settings(redis_url=None))) as client:
        detail = client.get("/api/integrations/slowbroker", headers=headers)
        assert detail.status_code == 200, detail.text
        states = {s["check_name"]: s for s in detail.json()["states"]}
        assert (states["a"]["stale"], states["a"]["stale_reason"]) == (True, "budget")
        assert states["b"]["stale_reason"] == "no_worker"
        listed = client.get("/api/integrations", headers=headers).json()
    calm = next(i for i in listed if i["id"] == "calm")
    assert calm["states"][0]["stale"] is False


def test_the_metrics_page_shows_stale_checks(quiet_world: Engine) -> None:
    registry = metrics.aggregate_registry(engine=quiet_world)
    value = registry.get_sample_value
    assert value("intmon_check_stale", {"integration": "slowbroker", "check": "a"}) == 1
    assert value("intmon_check_stale", {"integration": "calm", "check": "health"}) == 0
    assert value("intmon_checks_stale", {"reason": "budget"}) == 1
    assert value("intmon_checks_stale", {"reason": "no_worker"}) == 2
    age = value("intmon_check_last_result_age_seconds", {"integration": "slowbroker", "check": "a"})
    assert age is not None and 590 <= age < 700
