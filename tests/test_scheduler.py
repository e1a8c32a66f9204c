"""The scheduler with a controlled clock: phases, batching, in-flight guard, Retry-After."""

from __future__ import annotations

import itertools

import pytest
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import Engine

from integrations.apply import apply
from tests.test_registry import config
from worker.batch import Batch
from worker.coordination import claim_value
from worker.coordination.memory import MemoryCoordinator
from worker.phases import first_due, phase
from worker.scheduler import Scheduler


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def sent(broker: StubBroker) -> list[Batch]:
    queue = broker.queues["checks"]
    batches = []
    while not queue.empty():
        message = Message.decode(queue.get_nowait())
        batches.append(Batch.from_payload(message.args[0]))
    return batches


@pytest.fixture
def setup(sqlite_engine: Engine):  # type: ignore[no-untyped-def]
    apply(sqlite_engine, config(*[f"p{i:03d}" for i in range(120)], interval=30))
    broker = StubBroker()
    clock = Clock()
    coordinator = MemoryCoordinator()
    scheduler = Scheduler(sqlite_engine, broker, coordinator, batch_size=50, clock=clock)
    scheduler.refresh()
    yield scheduler, broker, clock, coordinator
    broker.close()


def test_phase_is_stable_and_spread() -> None:
    assert phase("a/health", 30, 1.0) == phase("a/health", 30, 1.0)
    offsets = sorted(phase(f"p{i}/health", 30, 1.0) for i in range(1000))
    assert 0 <= offsets[0] < 1 and 29 < offsets[-1] < 30  # the whole interval is used
    assert first_due("a/health", 30, 1.0, now=100.0) >= 100.0
    assert first_due("a/health", 30, 1.0, now=100.0) - 100.0 < 30


def test_every_check_runs_once_per_interval_in_batches(setup) -> None:  # type: ignore[no-untyped-def]
    scheduler, broker, clock, coordinator = setup
    seen: list[str] = []
    for _ in range(300):  # 30 s in 0.1 s ticks
        clock.now += 0.1
        scheduler.tick()
        for batch in sent(broker):
            assert len(batch.items) <= 50
            seen += [item.key for item in batch.items]
            # Finish the run at once so the next interval can claim it again.
            coordinator.release(batch.claims(), {})
    assert sorted(seen) == sorted(f"p{i:03d}/health" for i in range(120))


def test_due_time_is_carried_to_the_worker(setup) -> None:  # type: ignore[no-untyped-def]
    scheduler, broker, clock, _ = setup
    clock.now += 30
    scheduler.tick()
    items = [item for batch in sent(broker) for item in batch.items]
    assert len(items) == 120
    assert all(clock.now - 30 <= item.due <= clock.now for item in items)


def started(coordinator: MemoryCoordinator, batches: list[Batch], now: float) -> dict[str, str]:
    """What a worker does first: extend the claims for the run's budget (10 s × 2 + 5)."""
    for batch in batches:
        assert coordinator.start(batch.claims(), now + 25) == [i.key for i in batch.items]
    return {item.key: claim_value(now + 25) for batch in batches for item in batch.items}


def test_check_in_flight_is_not_sent_again(setup) -> None:  # type: ignore[no-untyped-def]
    scheduler, broker, clock, coordinator = setup
    clock.now += 30
    scheduler.tick()
    first = sent(broker)
    assert sum(len(b.items) for b in first) == 120
    clock.now += 10  # a run may start late in its interval and take its whole budget
    running = started(coordinator, first, clock.now)
    clock.now += 20  # the next interval: still running, so not sent again
    scheduler.tick()
    assert sent(broker) == []
    coordinator.release(running, {})
    clock.now += 30
    scheduler.tick()
    assert sum(len(b.items) for b in sent(broker)) == 120


def test_a_lost_batch_frees_its_checks_for_their_next_run(setup) -> None:  # type: ignore[no-untyped-def]
    scheduler, broker, clock, _ = setup
    clock.now += 30
    scheduler.tick()
    batches = sent(broker)
    # Nobody started it (its worker was killed first): the claim lasts one interval.
    assert batches[0].deadline == pytest.approx(clock.now + 30)
    clock.now += 30
    scheduler.tick()
    assert sum(len(b.items) for b in sent(broker)) == 120


def test_a_run_killed_midway_frees_its_check_after_its_budget(setup) -> None:  # type: ignore[no-untyped-def]
    scheduler, broker, clock, coordinator = setup
    clock.now += 30
    scheduler.tick()
    batches = sent(broker)
    started(coordinator, batches, clock.now)  # and then the worker died
    clock.now += 30  # the budget (25 s) has passed by the next due time
    scheduler.tick()
    again = sent(broker)
    assert sum(len(b.items) for b in again) == 120
    # The dead run's batch, delivered late to another worker, cannot start any more.
    assert coordinator.start(batches[0].claims(), clock.now + 25) == []


def test_retry_after_parks_the_check(setup) -> None:  # type: ignore[no-untyped-def]
    scheduler, broker, clock, coordinator = setup
    clock.now += 30
    scheduler.tick()
    batches = sent(broker)
    parked = batches[0].items[0].key
    for batch in batches:
        coordinator.release(batch.claims(), {parked: clock.now + 45})
    clock.now += 30
    scheduler.tick()
    keys = {item.key for b in sent(broker) for item in b.items}
    assert parked not in keys and len(keys) == 119
    clock.now += 30
    scheduler.tick()
    assert parked in {item.key for b in sent(broker) for item in b.items}


def test_registry_changes_are_picked_up(setup, sqlite_engine: Engine) -> None:  # type: ignore[no-untyped-def]
    scheduler, broker, clock, _ = setup
    apply(sqlite_engine, config("p000", "new-one", interval=10))
    scheduler.refresh()
    assert scheduler.check_count == 2
    clock.now += 10
    scheduler.tick()
    batches = sent(broker)
    assert {item.key for b in batches for item in b.items} == {"p000/health", "new-one/health"}
    assert {
        item.revision for b in batches for item in b.items if item.integration_id == "p000"
    } == {2}


def test_far_behind_skips_missed_runs_keeping_the_phase(setup) -> None:  # type: ignore[no-untyped-def]
    scheduler, broker, clock, coordinator = setup
    clock.now += 30
    scheduler.tick()
    for batch in sent(broker):
        coordinator.release(batch.claims(), {})
    clock.now += 300  # paused ten intervals
    scheduler.tick()
    assert sum(len(b.items) for b in sent(broker)) == 120  # once, not ten times


def test_not_leader_sends_nothing(setup) -> None:  # type: ignore[no-untyped-def]
    scheduler, broker, clock, coordinator = setup
    coordinator.resign()
    coordinator.ensure_leadership = lambda: False  # another scheduler holds the lock
    clock.now += 30
    assert scheduler.tick() == 0
    assert sent(broker) == []


def test_default_settings_spread_checks_over_the_whole_interval(sqlite_engine: Engine) -> None:
    """Regression: a default that spread phases over a tenth of the interval made
    10,000 checks fire within 3 s of every 30 s and lag by seconds."""
    from core.settings import Settings

    apply(sqlite_engine, config(*[f"p{i:03d}" for i in range(300)], interval=30))
    broker = StubBroker()
    clock = Clock()
    scheduler = Scheduler(
        sqlite_engine, broker, MemoryCoordinator(), clock=clock, spread=Settings().phase_spread
    )
    scheduler.refresh()
    per_second = [0] * 30
    for second in range(30):
        clock.now += 1
        scheduler.tick()
        per_second[second] = sum(len(b.items) for b in sent(broker))
    broker.close()
    assert sum(per_second) == 300
    assert max(per_second) <= 25  # ~10 a second, never a burst


def test_taking_over_does_not_rerun_what_the_old_leader_just_ran(setup) -> None:  # type: ignore[no-untyped-def]
    scheduler, broker, clock, coordinator = setup
    assert coordinator.ensure_leadership()  # holds a fence, so claims work once it leads
    leading = {"now": False}
    coordinator.ensure_leadership = lambda: leading["now"]  # another scheduler leads
    clock.now += 75  # two and a half intervals on standby
    assert scheduler.tick() == 0
    leading["now"] = True  # the leader died; this one takes over
    took_over = clock.now
    runs: dict[str, list[float]] = {}
    for _ in range(300):
        scheduler.tick()
        for batch in sent(broker):
            for item in batch.items:
                runs.setdefault(item.key, []).append(item.due)
                # Only what fell due within one lock TTL before the take-over is caught up.
                assert item.due > took_over - 5.0
            coordinator.release(batch.claims(), {})
        clock.now += 0.1
    # Every check runs, at its own phase, once per interval: not a burst of
    # everything the standby's heap held since it started.
    assert len(runs) == 120
    for dues in runs.values():
        assert all(
            later - earlier == pytest.approx(30) for earlier, later in itertools.pairwise(dues)
        )


def test_take_over_never_runs_a_check_twice_in_half_an_interval(sqlite_engine: Engine) -> None:
    """Regression (seen in the real-process fail-over test): a missed run caught up
    just before the next regular one made two runs 0.1 s apart. The lock TTL
    (look-back) exceeds half the interval here, as it did in that test."""
    apply(sqlite_engine, config(*[f"q{i:03d}" for i in range(200)], interval=10))
    broker = StubBroker()
    clock = Clock()
    coordinator = MemoryCoordinator()
    assert coordinator.ensure_leadership()
    scheduler = Scheduler(sqlite_engine, broker, coordinator, clock=clock, takeover_lookback_s=8.0)
    scheduler.refresh()
    leading = {"now": False}
    coordinator.ensure_leadership = lambda: leading["now"]  # type: ignore[method-assign]
    clock.now += 57.3  # standing by
    scheduler.tick()
    leading["now"] = True
    took_over = clock.now
    dispatched: dict[str, list[float]] = {}
    for _ in range(400):  # 40 s after the take-over
        scheduler.tick()
        for batch in sent(broker):
            for item in batch.items:
                dispatched.setdefault(item.key, []).append(clock.now)
            coordinator.release(batch.claims(), {})
        clock.now += 0.1
    broker.close()
    assert len(dispatched) == 200
    for key, times in dispatched.items():
        assert times[0] - took_over <= 10.0 + 0.11, key  # nothing waits beyond one interval
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert min(gaps) >= 5.0 - 1e-6, (key, gaps)  # never twice in half an interval


def test_the_leader_sends_housekeeping_on_its_interval(sqlite_engine: Engine) -> None:
    apply(sqlite_engine, config("a"))
    broker = StubBroker()
    clock = Clock()
    leader = Scheduler(
        sqlite_engine,
        broker,
        MemoryCoordinator(),
        housekeeping_s=10,
        sync_every=3,
        clock=clock,
    )
    leader.refresh()

    def housekeeping() -> list[bool]:
        queue = broker.queues["alerts"]
        out = []
        while not queue.empty():
            message = Message.decode(queue.get_nowait())
            assert message.actor_name == "housekeep"
            out.append(message.kwargs["sync"])
        return out

    syncs = []
    for _ in range(400):  # 40 s in 0.1 s ticks
        leader.tick()
        syncs += housekeeping()
        clock.now += 0.1
    # Every 10 s; every third one also polls the ticket sinks.
    assert syncs == [True, False, False, True]

    # A standby (another scheduler without the lock) sends none.
    standby = Scheduler(sqlite_engine, broker, _Deposed(), housekeeping_s=10, clock=clock)
    standby.tick()
    assert housekeeping() == []
    broker.close()


class _Deposed(MemoryCoordinator):
    def ensure_leadership(self) -> bool:
        return False


def test_the_leader_asks_for_the_heartbeat_detector_on_its_interval(sqlite_engine: Engine) -> None:
    apply(sqlite_engine, config("a"))
    broker = StubBroker()
    clock = Clock()
    leader = Scheduler(sqlite_engine, broker, MemoryCoordinator(), heartbeats_s=2, clock=clock)
    leader.refresh()
    sent = 0
    for _ in range(100):  # 10 s in 0.1 s ticks
        leader.tick()
        queue = broker.queues["alerts"]
        while not queue.empty():
            assert Message.decode(queue.get_nowait()).actor_name == "watch_heartbeats"
            sent += 1
        clock.now += 0.1
    assert sent == 5  # every 2 s: a miss is recorded within 2 s of its grace running out
    standby = Scheduler(sqlite_engine, broker, _Deposed(), heartbeats_s=2, clock=clock)
    standby.tick()
    assert broker.queues["alerts"].empty()
    broker.close()


def test_the_leader_asks_for_the_postback_monitors_on_their_interval(sqlite_engine: Engine) -> None:
    apply(sqlite_engine, config("a"))
    broker = StubBroker()
    clock = Clock()
    leader = Scheduler(sqlite_engine, broker, MemoryCoordinator(), postbacks_s=60, clock=clock)
    leader.refresh()
    sent = 0
    for _ in range(300):  # 300 s in 1 s ticks
        leader.tick()
        queue = broker.queues["alerts"]
        while not queue.empty():
            assert Message.decode(queue.get_nowait()).actor_name == "watch_postbacks"
            sent += 1
        clock.now += 1
    assert sent == 5  # every 60 s
    standby = Scheduler(sqlite_engine, broker, _Deposed(), postbacks_s=60, clock=clock)
    standby.tick()
    assert broker.queues["alerts"].empty()
    broker.close()
