"""`intmon e2e load`: the open-loop rate, the caps, the budget, the percentiles."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from checks.budget import SharedBudget, TokenBucket
from checks.engine import ProbeEngine, ProbeSettings
from checks.load import LoadPlan, percentile, run_load
from core.vocabulary.outcomes import CheckResult, Outcome
from intmon.cli import app
from tests.e2e.conftest import ENVIRON, Served, lead_flow, spec_of


def result(outcome: Outcome = Outcome.OK, seconds: float = 0.01) -> CheckResult:
    return CheckResult("acme", "ping", outcome, datetime.now(UTC), seconds)


@pytest.fixture
def partner_process() -> Iterator[str]:
    """The fake partner in its own process: what a load test measures is ours alone."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.partner"],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)
    process.stdout.close()


@pytest.mark.slow
def test_the_asked_rate_is_reached_within_ten_percent_on_loopback(partner_process: str) -> None:
    spec = spec_of(lead_flow(partner_process))
    check = spec.checks[0]

    async def scenario():  # type: ignore[no-untyped-def]
        engine = ProbeEngine(ProbeSettings(max_connections=64, max_connections_per_host=64))
        try:
            plan = LoadPlan(rps=200, duration_s=3, max_concurrency=64)
            return await run_load(lambda: engine.run_check(spec, check, environ=ENVIRON), plan)
        finally:
            await engine.aclose()

    report = asyncio.run(scenario())
    assert report.planned == 600
    assert abs(report.achieved_rps - 200) <= 20, report.as_dict()
    assert report.completed == report.sent
    assert report.outcomes == {"ok": report.sent}, report.as_dict()
    latency = report.latency_ms()
    assert latency["p50"] is not None and latency["p99"] is not None
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]  # type: ignore[operator]


def test_a_partner_budget_holds_the_rate_down_and_says_how_much_was_not_sent() -> None:
    sent: list[float] = []

    async def send() -> CheckResult:
        sent.append(0)
        return result()

    plan = LoadPlan(rps=200, duration_s=0.5)
    budget = TokenBucket(rate_per_s=40, burst=1)
    report = asyncio.run(run_load(send, plan, budget=budget))
    assert report.sent == len(sent)
    assert 15 <= report.sent <= 25  # about 40/s for half a second
    assert report.not_sent["budget"] == 100 - report.sent
    assert report.budget == "40/s, burst 1"


def test_requests_beyond_the_concurrency_bound_are_not_sent_and_counted() -> None:
    async def slow() -> CheckResult:
        await asyncio.sleep(0.5)
        return result(Outcome.TIMEOUT, 0.5)

    report = asyncio.run(run_load(slow, LoadPlan(rps=100, duration_s=0.3, max_concurrency=5)))
    assert report.sent == 5 and report.completed == 5
    assert report.not_sent["concurrency"] == 25
    assert report.errors() == {"timeout": 5}


def test_errors_are_counted_by_outcome_class() -> None:
    outcomes = iter([Outcome.OK, Outcome.SERVER_ERROR, Outcome.RATE_LIMITED, Outcome.SERVER_ERROR])

    async def send() -> CheckResult:
        return result(next(outcomes))

    report = asyncio.run(run_load(send, LoadPlan(rps=100, duration_s=0.04)))
    assert report.outcomes == {"ok": 1, "server_error": 2, "rate_limited": 1}
    assert report.errors() == {"rate_limited": 1, "server_error": 2}


@pytest.mark.parametrize(
    ("q", "expected"), [(50, 5.0), (90, 9.0), (99, 10.0), (100, 10.0), (1, 1.0)]
)
def test_percentile_is_the_nearest_rank(q: float, expected: float) -> None:
    assert percentile([float(v) for v in range(1, 11)], q) == expected


def test_a_shared_budget_spends_the_given_share_of_the_partners_rate() -> None:
    calls: list[tuple[str, int, float, float, float]] = []

    class Budget:
        def take(self, key: str, want: int, rate: float, share: float, now: float) -> int:
            calls.append((key, want, rate, share, now))
            return 0 if len(calls) > 2 else want

    shared = SharedBudget(Budget(), "acme", 50, 0.2, wall_clock=lambda: 1234.5)
    assert [shared.try_acquire(0.0) for _ in range(3)] == [True, True, False]
    assert calls[0] == ("acme", 1, 50, 0.2, 1234.5)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "integrations.yaml"
    path.write_text(text)
    return path


def test_the_command_reports_json_and_refuses_what_exceeds_the_caps(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    path = write(tmp_path, lead_flow(served.url))
    runner = CliRunner()
    ok = runner.invoke(
        app, ["e2e", "load", "acme", "-f", str(path), "--rps", "50", "--duration", "0.4", "--json"]
    )
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.stdout)
    assert report["request"] == "ping" and report["sent"] == 20 and report["errors"] == {}
    assert set(report["latency_ms"]) == {"p50", "p90", "p99", "max"}

    too_fast = runner.invoke(
        app, ["e2e", "load", "acme", "-f", str(path), "--rps", "100000", "--duration", "1"]
    )
    assert too_fast.exit_code == 2 and "INTMON_E2E_LOAD_MAX_RPS" in too_fast.output
    too_long = runner.invoke(
        app, ["e2e", "load", "acme", "-f", str(path), "--rps", "1", "--duration", "9999"]
    )
    assert too_long.exit_code == 2


def test_a_step_can_be_loaded_unless_it_needs_a_value_from_an_earlier_answer(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    path = write(tmp_path, lead_flow(served.url))
    runner = CliRunner()
    args = ["e2e", "load", "acme", "-f", str(path), "--rps", "20", "--duration", "0.25"]
    submit = runner.invoke(app, [*args, "--step", "submit", "--json"])
    assert submit.exit_code == 0, submit.output
    assert json.loads(submit.stdout)["outcomes"] == {"ok": 5}
    assert len(served.partner.leads) == 5
    assert all(lead["test"] is True for lead in served.partner.leads.values())  # still marked

    status = runner.invoke(app, [*args, "--step", "status"])
    assert status.exit_code == 2
    assert "lead_id" in status.output
    postback = runner.invoke(app, [*args, "--step", "postback"])
    assert postback.exit_code == 2 and "waits for a callback" in postback.output
