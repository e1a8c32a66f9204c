"""Scheduled scenarios: sent on the scheduler's ticks, one in flight, and a failing one
opens an incident of family `e2e` with its ticket; passing again resolves it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import Engine

from alerts.policy import policy_of
from alerts.queries import list_incidents, list_tickets
from core.settings import Settings
from integrations.apply import apply
from integrations.e2e_store import list_runs
from integrations.loader import load_text
from integrations.results import current_states
from tests.e2e.conftest import ENVIRON, T0, Served, lead_flow
from worker.coordination.memory import MemoryCoordinator
from worker.e2e import E2E_QUEUE, Job, Standalone, claim_key, run_job
from worker.phases import first_due
from worker.scheduler import Scheduler


def scheduled(url: str, period: int = 60) -> str:
    # Quick polls and a short wait for the postback: these runs use the real clock.
    text = (
        lead_flow(url, callback_timeout=1)
        .replace("every_s: 1,", "every_s: 0.2,")
        .replace(
            "      - name: lead-flow\n",
            f"      - name: lead-flow\n        schedule_s: {period}\n",
        )
    )
    return text.replace(
        "    checks: [",
        "    thresholds: {failure_threshold: 2, success_threshold: 2}\n    checks: [",
    )


class Clock:
    def __init__(self, now: float = 2_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def jobs(broker: StubBroker) -> list[Job]:
    queue = broker.queues[E2E_QUEUE]
    found = []
    while not queue.empty():
        found.append(Job.from_payload(Message.decode(queue.get_nowait()).args[0]))
    return found


@pytest.fixture
def engine(
    served: Served, sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    apply(sqlite_engine, load_text(scheduled(served.url)), T0)
    yield sqlite_engine


def test_the_scheduler_sends_a_scheduled_scenario_once_per_period_one_at_a_time(
    engine: Engine,
) -> None:
    broker, clock, coordinator = StubBroker(), Clock(), MemoryCoordinator()
    scheduler = Scheduler(engine, broker, coordinator, clock=clock)
    scheduler.refresh()
    key = claim_key("acme", "lead-flow")
    due = first_due(key, 60, 1.0, clock.now)

    clock.now = due - 0.05
    scheduler.tick()
    assert jobs(broker) == []
    clock.now = due
    scheduler.tick()
    (job,) = jobs(broker)
    assert (job.integration_id, job.scenario, job.trigger, job.due) == (
        "acme",
        "lead-flow",
        "schedule",
        due,
    )
    assert job.claim is not None and not job.stale(clock.now)

    clock.now = due + 60  # the next period, but the first run still holds its claim
    scheduler.tick()
    assert jobs(broker) == []
    coordinator.release({key: job.claim}, {})
    clock.now = due + 120
    scheduler.tick()
    assert [j.due for j in jobs(broker)] == [due + 120]
    broker.close()


def test_a_run_that_waited_past_its_period_is_skipped(engine: Engine) -> None:
    job = Job("acme", "lead-flow", "schedule", claim="100.0", budget_s=30.0, due=10.0)
    assert job.stale(71.0) and not job.stale(69.0)
    report, changed = run_job(Standalone(engine, Settings(redis_url=None)), job.to_payload())
    assert report is None and not changed
    assert list_runs(engine) == []


def run_scheduled(engine: Engine, coordinator: MemoryCoordinator) -> tuple[Any, bool]:
    import time

    now = time.time()
    deadline = now + 600
    key = claim_key("acme", "lead-flow")
    assert coordinator.ensure_leadership() and coordinator.claim([key], now, deadline) == [key]
    from worker.coordination import claim_value

    job = Job("acme", "lead-flow", "schedule", due=now, claim=claim_value(deadline), budget_s=60)
    runtime = Standalone(engine, Settings(redis_url=None), coordinator)
    result = run_job(runtime, job.to_payload())
    assert coordinator.in_flight(now) == 0  # the claim was released
    return result


def test_failing_scheduled_runs_open_an_e2e_incident_and_passing_ones_resolve_it(
    engine: Engine, served: Served
) -> None:
    coordinator = MemoryCoordinator()
    served.partner.postback = False  # the broker accepts, but never calls back

    _report, changed = run_scheduled(engine, coordinator)
    assert not changed  # one failure: under the threshold of 2
    _report, changed = run_scheduled(engine, coordinator)
    assert changed

    (incident,) = list_incidents(engine)
    assert (incident.family, incident.state, incident.integration_id) == ("e2e", "open", "acme")
    assert incident.last_outcome == "timeout"
    (ticket,) = list_tickets(engine)
    assert ticket.topic == "End-to-end scenario failing"
    (state,) = [s for s in current_states(engine, "acme") if s.check_name == "e2e:lead-flow"]
    assert not state.up and "callback 'accepted' did not arrive" in state.detail
    assert "intmon e2e show" in state.detail
    runs = list_runs(engine)
    assert [r["trigger"] for r in runs] == ["schedule", "schedule"]
    assert {r["status"] for r in runs} == {"failed"}

    served.partner.postback = True
    run_scheduled(engine, coordinator)
    assert list_incidents(engine)[0].state == "open"  # one pass: under success_threshold
    run_scheduled(engine, coordinator)
    assert list_incidents(engine)[0].state == "resolved"


def test_an_ordinary_checks_batch_does_not_resolve_an_e2e_incident(
    engine: Engine, served: Served
) -> None:
    """Incidents wait for every check that failed in them; `e2e:<name>` is one of them."""
    from datetime import UTC, datetime

    from alerts.intake import ingest
    from core.vocabulary.outcomes import CheckResult, Outcome
    from integrations.registry import load_specs

    coordinator = MemoryCoordinator()
    served.partner.postback = False
    run_scheduled(engine, coordinator)
    run_scheduled(engine, coordinator)
    spec = load_specs(engine, ["acme"])["acme"].spec
    ping = CheckResult("acme", "ping", Outcome.OK, datetime.now(UTC), 0.01)
    for _ in range(3):
        ingest(engine, [ping], {"acme": spec}, policy_of(Settings(redis_url=None)))
    assert list_incidents(engine)[0].state == "open"
