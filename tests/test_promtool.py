"""Prometheus's own tool on intmon's files and on a real metrics page.

    promtool check rules    deploy/prometheus/rules/intmon.yml
    promtool test rules     deploy/prometheus/rules/intmon.test.yml (each alert fires
                            on its series and stays silent otherwise)
    promtool check config   deploy/prometheus/prometheus.yml (its rule files resolve)
    promtool check metrics  /metrics of the API built on fixture data (results of
                            several outcomes, incidents, tickets, outbox rows), and
                            the multiprocess page `intmon metrics` serves

promtool comes with Debian's `prometheus` package (.ci/run installs it). Without
it these tests skip, and fail under INTMON_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, update

from checks.metrics import observe_results
from core import db, metrics, outbox
from core.outbox import OutboxMessage
from core.settings import Settings
from core.vocabulary.outcomes import CheckResult, Outcome
from intmon.app import create_app
from intmon.migrations import upgrade
from tests.alerts.helpers import T0, feed, setup
from tests.conftest import unavailable
from tests.test_compose import exposed_metric_names, metric_names

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS_DIR / "rules" / "intmon.yml"
RULE_TESTS = PROMETHEUS_DIR / "rules" / "intmon.test.yml"
# What the issue asks the rules to watch, by alert name.
REQUIRED_ALERTS = {
    "IntmonIntegrationDown",
    "IntmonHighFailureRate",
    "IntmonSchedulerNoLeader",
    "IntmonScheduleLagHigh",
    "IntmonChecksSkippedInFlight",
    "IntmonIncidentsOpen",
    "IntmonTicketSLABreached",
    "IntmonOutboxDeadLetters",
    "IntmonOutboxBacklog",
    "IntmonTLSCertificateExpiring",
    "IntmonPlatformLiableLeadFailures",
    "IntmonPlatformOutage",
}


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        unavailable("promtool", FileNotFoundError("install Debian's `prometheus` package"))
    assert found is not None
    return found


def run(promtool: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


# --- the rules ----------------------------------------------------------------------


def test_the_rules_are_valid(promtool: str) -> None:
    checked = run(promtool, "check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules())} rules found" in checked.stdout


def test_the_rules_unit_tests_pass(promtool: str) -> None:
    tested = run(promtool, "test", "rules", str(RULE_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_is_labelled_annotated_and_unit_tested() -> None:
    alerts = {rule["alert"]: rule for rule in rules()}
    assert set(alerts) >= REQUIRED_ALERTS, sorted(REQUIRED_ALERTS - set(alerts))
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
    cases = [
        case
        for test in yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]
        for case in test["alert_rule_test"]
    ]
    firing = {case["alertname"] for case in cases if case["exp_alerts"]}
    assert firing == set(alerts), f"never shown firing: {sorted(set(alerts) - firing)}"


def test_the_rules_use_only_metrics_intmon_exposes() -> None:
    exposed = exposed_metric_names() | {"up"}  # `up`: Prometheus's own, per scrape target
    for rule in rules():
        names = metric_names(rule["expr"])
        assert names and names <= exposed, f"{rule['alert']}: unknown {names - exposed}"


def test_the_prometheus_config_and_its_rule_files_are_valid(promtool: str) -> None:
    checked = run(promtool, "check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 rule files found" in checked.stdout


# --- the metrics pages ----------------------------------------------------------------


def results(at: datetime) -> list[CheckResult]:
    outcomes = [Outcome.OK, Outcome.SLOW, Outcome.SERVER_ERROR, Outcome.TIMEOUT]
    return [
        CheckResult(
            integration_id=("a", "b")[i % 2],
            check_name="health",
            outcome=outcome,
            started_at=at,
            duration_s=0.05 * (i + 1),
            scheduled_at=at - timedelta(seconds=0.2),
            certificate_expires_at=at.timestamp() + 30 * 86400,
        )
        for i, outcome in enumerate(outcomes)
    ]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """Two integrations with incidents and tickets (one resolved), and outbox rows:
    pending for two targets, one given up on."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'metrics.db'}")
    upgrade(engine)
    specs = setup(engine, "a", "b")
    feed(engine, specs, [Outcome.AUTH_FAILURE] * 3)
    feed(engine, specs, [Outcome.TIMEOUT] * 3 + [Outcome.OK] * 2, integration="b")
    with engine.begin() as connection:
        for target in ("escalation", "hook", "hook"):
            outbox.enqueue(connection, target=target, kind="x", aggregate="t:1", payload={}, now=T0)
        connection.execute(
            update(OutboxMessage).where(OutboxMessage.id == 3).values(dead_at=T0, last_error="x")
        )
    yield engine
    engine.dispose()


def check_metrics(promtool: str, page: str) -> None:
    checked = run(promtool, "check", "metrics", stdin=page)
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, ""), page


def test_the_api_metrics_page_passes_promtool(promtool: str, engine: Engine) -> None:
    observe_results(results(datetime.now(UTC)))
    metrics.schedule_lag.observe(0.2)
    metrics.checks_skipped.labels(reason="in_flight").inc()
    settings = Settings(redis_url=None, api_metrics_token=SecretStr("promtool-metrics-token"))
    with TestClient(create_app(engine, settings)) as client:
        page = client.get(
            "/metrics", headers={"Authorization": "Bearer promtool-metrics-token"}
        ).text
    for sample in (
        'intmon_check_results_total{check="health",integration="b",outcome="timeout"}',
        'intmon_incidents_open{family="auth",flapping="false"} 1.0',
        'intmon_tickets{status="closed"} 1.0',
        'intmon_outbox_pending{target="hook"} 1.0',
        'intmon_outbox_dead{target="hook"} 1.0',
        "intmon_schedule_lag_seconds_bucket",
    ):
        assert sample in page, sample
    check_metrics(promtool, page)


# `intmon metrics` in production: samples summed from the processes' files.
MULTIPROCESS_PAGE = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime

    from prometheus_client import generate_latest

    from checks.metrics import observe_results
    from core.vocabulary.outcomes import CheckResult, Outcome
    from core import metrics
    from core.db import make_engine
    from intmon.metrics import aggregate_registry

    now = datetime.now(UTC)
    observe_results(
        [
            CheckResult("a", "health", Outcome.OK, now, 0.05, certificate_expires_at=2e9),
            CheckResult("b", "health", Outcome.SLOW, now, 0.9),
            CheckResult("b", "orders", Outcome.TIMEOUT, now, 5.0),
        ]
    )
    metrics.schedule_lag.observe(0.2)
    metrics.checks_scheduled.inc(3)
    metrics.checks_skipped.labels(reason="stale").inc()
    metrics.scheduler_leader.set(1)
    registry = aggregate_registry(lambda: {"checks": 3}, make_engine(sys.argv[1]))
    sys.stdout.write(generate_latest(registry).decode())
    """
)


def test_the_multiprocess_metrics_page_passes_promtool(
    promtool: str, engine: Engine, tmp_path: Path
) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {**os.environ, metrics.MULTIPROC_ENV: str(directory)}
    made = subprocess.run(
        [sys.executable, "-c", MULTIPROCESS_PAGE, str(engine.url)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    page = made.stdout
    for sample in (
        'intmon_check_results_total{check="health",integration="b",outcome="slow"} 1.0',
        'intmon_integration_up{integration="b"} 0.0',
        'intmon_queue_depth{queue="checks"} 3.0',
        "intmon_scheduler_leader 1.0",
        'intmon_incidents_open{family="auth",flapping="false"} 1.0',
    ):
        assert sample in page, sample
    check_metrics(promtool, page)
