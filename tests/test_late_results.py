"""A batch never waits for its slowest partner: stragglers are stored when they end."""

from __future__ import annotations

import concurrent.futures
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from dramatiq import Message
from prometheus_client import REGISTRY

from core.db import engine_for
from core.settings import Settings
from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.apply import apply
from integrations.config import IntegrationSpec
from integrations.loader import load_text
from integrations.results import current_states
from intmon.migrations import upgrade
from tests.conftest import Partner
from worker.batch import ACTOR_NAME, CHECKS_QUEUE, Batch, BatchItem
from worker.broker import build_broker, get_broker, install_broker
from worker.coordination import claim_value
from worker.late import LateBatch, LateCheck, LateResults, UpGroup
from worker.runtime import Runtime, build_runtime, current_runtime, install

DEAD_TIMEOUT_S = 2.0


def wait_for(condition: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# --- the late writer on its own --------------------------------------------------


def result(
    integration_id: str, check: str = "health", outcome: Outcome = Outcome.OK
) -> CheckResult:
    return CheckResult(
        integration_id=integration_id,
        check_name=check,
        outcome=outcome,
        started_at=datetime.now(UTC),
        duration_s=0.01,
    )


def late_check(
    integration_id: str, group: UpGroup, check: str = "health", cancel_at: float | None = None
) -> LateCheck:
    spec = IntegrationSpec.model_validate(
        {
            "id": integration_id,
            "name": integration_id,
            "kind": "broker",
            "client": "acme",
            "base_url": "http://127.0.0.1:9",
            "checks": [{"name": check, "path": "/"}],
        }
    )
    item = BatchItem(integration_id, 1, check, time.time(), 10.0)
    future: concurrent.futures.Future[CheckResult] = concurrent.futures.Future()
    return LateCheck(item, spec, future, "claim", cancel_at or time.time() + 60, group)


class Stored:
    def __init__(self, fail_first: bool = False) -> None:
        self.batches: list[LateBatch] = []
        self.fail_first = fail_first
        self.event = threading.Event()

    def __call__(self, batch: LateBatch) -> None:
        self.batches.append(batch)
        self.event.set()
        if self.fail_first and len(self.batches) == 1:
            raise RuntimeError("database down")


def test_up_is_known_only_once_every_late_check_of_an_integration_ended() -> None:
    stored = Stored()
    writer = LateResults(stored, gather_s=0.01)
    group = UpGroup(up=True, remaining=2)  # its other checks ended in time, up
    first, second = late_check("a", group, "one"), late_check("a", group, "two")
    writer.adopt([first, second])

    first.future.set_result(result("a", "one"))
    assert wait_for(lambda: len(stored.batches) == 1, 2)
    assert stored.batches[0].up == {}  # "two" is still running
    assert writer.pending == 1

    second.future.set_result(result("a", "two", Outcome.TIMEOUT))
    assert wait_for(lambda: len(stored.batches) == 2, 2)
    assert [r.check_name for r in stored.batches[1].results] == ["two"]
    assert stored.batches[1].up == {"a": False}
    assert writer.pending == 0
    writer.close()


def test_stragglers_that_end_together_are_stored_together() -> None:
    stored = Stored()
    writer = LateResults(stored, gather_s=0.2)
    checks = [late_check(f"p{i}", UpGroup(True, 1)) for i in range(20)]
    writer.adopt(checks)

    for check in checks:
        check.future.set_result(result(check.spec.id))

    assert wait_for(lambda: sum(len(b.results) for b in stored.batches) == 20, 2)
    assert len(stored.batches) < 5
    writer.close()


def test_a_check_still_running_when_its_claim_runs_out_is_cancelled() -> None:
    stored = Stored()
    writer = LateResults(stored, gather_s=0.01)
    check = late_check("a", UpGroup(True, 1), cancel_at=time.time() + 0.3)
    writer.adopt([check])

    assert wait_for(lambda: len(stored.batches) == 1, 3)
    assert check.future.cancelled()
    assert stored.batches[0].checks == [check]  # its claim is released ...
    assert stored.batches[0].results == []  # ... and nothing is stored for it
    assert stored.batches[0].up == {"a": False}
    writer.close()


def test_a_failed_store_does_not_stop_the_writer() -> None:
    stored = Stored(fail_first=True)
    writer = LateResults(stored, gather_s=0.01)
    first, second = late_check("a", UpGroup(True, 1)), late_check("b", UpGroup(True, 1))
    writer.adopt([first, second])

    first.future.set_result(result("a"))
    assert wait_for(lambda: len(stored.batches) == 1, 2)
    second.future.set_result(result("b"))
    assert wait_for(lambda: len(stored.batches) == 2, 2)
    writer.close()


def test_close_waits_for_the_stragglers_then_cancels_the_rest() -> None:
    stored = Stored()
    writer = LateResults(stored, gather_s=0.01)
    ending, hanging = late_check("a", UpGroup(True, 1)), late_check("b", UpGroup(True, 1))
    writer.adopt([ending, hanging])
    threading.Timer(0.2, lambda: ending.future.set_result(result("a"))).start()

    started = time.monotonic()
    writer.close(timeout=1.0)

    assert 0.9 <= time.monotonic() - started < 3
    assert hanging.future.cancelled()
    stored_ids = [c.spec.id for b in stored.batches for c in b.checks]
    assert sorted(stored_ids) == ["a", "b"]


# --- through the check actor, on one dramatiq thread --------------------------------


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A partner that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture(params=[512])
def pipeline(
    request: pytest.FixtureRequest, tmp_path: Path, partner: Partner, blackhole: str
) -> Iterator[Runtime]:
    """A worker with one dramatiq thread; the param is `late_checks_max`."""
    fast = "\n".join(
        f"""  - id: fast{i}
    name: Fast {i}
    kind: broker
    client: acme
    base_url: {partner.url}
    checks: [{{name: health, path: /health}}]"""
        for i in range(10)
    )
    text = f"""version: 1
integrations:
  - id: dead
    name: Dead
    kind: broker
    client: acme
    base_url: {blackhole}
    timeout_s: {DEAD_TIMEOUT_S}
    retries: 0
    checks: [{{name: health, path: /health}}, {{name: second, path: /second}}]
{fast}
"""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'late.db'}",
        redis_url=None,
        batch_wait_s=0.3,
        late_checks_max=request.param,
    )
    db = engine_for(settings.database_url)
    upgrade(db)
    apply(db, load_text(text))
    rt = build_runtime(settings)
    install(rt)
    broker = build_broker(settings)
    install_broker(broker)
    import worker.actors

    if worker.actors.run_checks_actor.broker is not broker:  # as intmon.embedded does
        worker.actors.declare(broker)
    assert rt.coordinator.ensure_leadership()
    worker = dramatiq.Worker(broker, worker_threads=1, queues={CHECKS_QUEUE})
    worker.start()
    try:
        yield rt
    finally:
        worker.stop()
        rt.close()
        db.dispose()


def send(rt: Runtime, checks: list[tuple[str, str]]) -> None:
    """What the scheduler does: claim the checks for one interval, enqueue one batch."""
    now = time.time()
    deadline = now + 30
    keys = [f"{i}/{c}" for i, c in checks]
    assert rt.coordinator.claim(keys, now, deadline) == keys
    batch = Batch(
        fence=rt.coordinator.fence,
        claim=claim_value(deadline),
        deadline=deadline,
        items=[BatchItem(i, 1, c, now, DEAD_TIMEOUT_S + 5) for i, c in checks],
    )
    get_broker().enqueue(
        Message(
            queue_name=CHECKS_QUEUE,
            actor_name=ACTOR_NAME,
            args=(batch.to_payload(),),
            kwargs={},
            options={},
        )
    )


def stored(rt: Runtime) -> dict[str, Any]:
    return {f"{s.integration_id}/{s.check_name}": s for s in current_states(rt.db)}


def in_flight(rt: Runtime, key: str) -> bool:
    """Whether the scheduler would find the check still claimed (and not send it)."""
    now = time.time()
    claimed = rt.coordinator.claim([key], now, now + 0.001)
    return claimed == []


def up(integration: str) -> float | None:
    return REGISTRY.get_sample_value("intmon_integration_up", {"integration": integration})


@pytest.mark.slow
def test_a_batch_with_a_dead_partner_frees_its_thread_and_stores_the_rest_on_time(
    pipeline: Runtime,
) -> None:
    rt = pipeline
    started = time.monotonic()
    # One dramatiq thread: the second batch can only run once the first lets go.
    send(rt, [("dead", "health"), ("dead", "second")] + [(f"fast{i}", "health") for i in range(5)])
    send(rt, [(f"fast{i}", "health") for i in range(5, 10)])

    assert wait_for(lambda: len(stored(rt)) == 10, DEAD_TIMEOUT_S - 0.5), stored(rt)
    assert time.monotonic() - started < DEAD_TIMEOUT_S - 0.5
    assert all(state.outcome is Outcome.OK for state in stored(rt).values())
    # The dead partner's checks are still running: still in flight, not stored,
    # and its up gauge is not guessed from the checks that were not its.
    assert in_flight(rt, "dead/health") and in_flight(rt, "dead/second")
    assert not in_flight(rt, "fast0/health")
    assert rt.late.pending == 2
    assert up("fast0") == 1.0

    assert wait_for(lambda: len(stored(rt)) == 12, DEAD_TIMEOUT_S + 3)
    states = stored(rt)
    assert states["dead/health"].outcome is Outcome.TIMEOUT
    assert states["dead/second"].outcome is Outcome.TIMEOUT
    assert wait_for(lambda: not in_flight(rt, "dead/health"), 2)
    assert not in_flight(rt, "dead/second")
    assert up("dead") == 0.0
    assert current_runtime() is rt


@pytest.mark.slow
@pytest.mark.parametrize("pipeline", [1], indirect=True)
def test_a_process_full_of_stragglers_waits_for_its_own_checks(pipeline: Runtime) -> None:
    rt = pipeline
    started = time.monotonic()
    # Two dead checks, and room for one straggler: the batch waits for its own.
    send(rt, [("dead", "health"), ("dead", "second"), ("fast0", "health")])
    send(rt, [("fast1", "health")])

    assert wait_for(lambda: "fast1/health" in stored(rt), DEAD_TIMEOUT_S + 3)
    assert time.monotonic() - started >= DEAD_TIMEOUT_S - 0.1
    assert stored(rt)["dead/health"].outcome is Outcome.TIMEOUT
    assert rt.late.pending == 0
