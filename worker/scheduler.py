"""The scheduler: decides which checks are due and sends them to workers in batches.

Each check has a fixed period (`interval_s`) and a stable phase inside it, taken
from a hash of its key, so ten thousand checks with the same interval spread
evenly instead of firing together, and a restarted scheduler keeps the rhythm.

Every tick the leader pops the due checks, claims them (a check whose previous
run is still queued or running is not claimed, so not sent again), and enqueues
them as messages of up to `batch_size` checks. One message per check would cap
the pipeline at dramatiq's per-message cost; see issue 10 and bench/checks.py.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import dramatiq
from dramatiq import Message
from sqlalchemy import Engine

from core import metrics
from integrations.config import IntegrationSpec
from integrations.registry import active_revisions, load_specs
from integrations.skips import SkipLog
from integrations.staleness import QuietReason
from worker.batch import (
    ACTOR_NAME,
    CHECKS_QUEUE,
    HEARTBEATS_ACTOR,
    HOUSEKEEPING_ACTOR,
    HOUSEKEEPING_QUEUE,
    LEADS_ACTOR,
    LEADS_QUEUE,
    POSTBACKS_ACTOR,
    Batch,
    BatchItem,
    check_key,
    timeout_budget,
)
from worker.coordination import Coordinator, claim_value
from worker.e2e import ScenarioSchedule
from worker.phases import first_due

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ScheduledCheck:
    key: str
    integration_id: str
    check_name: str
    revision: int
    interval_s: float
    budget_s: float
    next_due: float
    generation: int
    # The claim value of its latest run sent: still the claim later means no worker
    # ever started that run (a started run's claim is extended to a new value).
    claim: str = ""


class Scheduler:
    def __init__(
        self,
        engine: Engine,
        broker: dramatiq.Broker,
        coordinator: Coordinator,
        *,
        queue_name: str = CHECKS_QUEUE,
        batch_size: int = 50,
        spread: float = 1.0,
        takeover_lookback_s: float = 5.0,
        housekeeping_s: float | None = None,
        sync_every: int = 6,
        leads_s: float | None = None,
        heartbeats_s: float | None = None,
        postbacks_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.broker = broker
        self.coordinator = coordinator
        self.queue_name = queue_name
        self.batch_size = batch_size
        self.spread = spread
        self.takeover_lookback_s = takeover_lookback_s
        self.clock = clock
        self._checks: dict[str, ScheduledCheck] = {}
        self._keys_of: dict[str, list[str]] = {}  # integration id → its check keys
        self._revisions: dict[str, int] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._generation = 0
        # None until the first tick; False while another scheduler leads.
        self._leading: bool | None = None
        # The alerts job (SLA sweep, auto-close, outbox, sync-back) is sent by
        # the leader only; every `sync_every`-th run also polls the ticket sinks.
        self.housekeeping_s = housekeeping_s
        self.sync_every = sync_every
        self._next_housekeeping = 0.0
        self._housekeeping_runs = 0
        # The lead queue's dispatcher: retries, holds released, replays (new leads
        # are sent at once by whoever submitted them).
        self.leads_s = leads_s
        self._next_leads = 0.0
        # The heartbeat detector (alerts/heartbeat_watch.py): a miss is recorded
        # within `heartbeats_s` (plus its queue wait) of a heartbeat's grace running out.
        self.heartbeats_s = heartbeats_s
        self._next_heartbeats = 0.0
        # The postback monitors (alerts/postback_watch.py): each broker's window is
        # judged every `postbacks_s`.
        self.postbacks_s = postbacks_s
        self._next_postbacks = 0.0
        broker.declare_queue(queue_name)
        # Scheduled end-to-end scenarios (worker/e2e.py) ride on the same ticks.
        self.scenarios = ScenarioSchedule(broker, coordinator, spread=spread)
        # Checks skipped because their previous run is still in flight, written in
        # batches: `intmon status` names the reason once they go stale.
        self.skips = SkipLog()
        if housekeeping_s is not None or heartbeats_s is not None or postbacks_s is not None:
            broker.declare_queue(HOUSEKEEPING_QUEUE)
        if leads_s is not None:
            broker.declare_queue(LEADS_QUEUE)

    # --- the registry --------------------------------------------------------

    def refresh(self) -> None:
        """Pick up integrations added, changed or removed by `intmon apply`."""
        revisions = active_revisions(self.engine)
        stale = [i for i, rev in revisions.items() if self._revisions.get(i) != rev]
        gone = [i for i in self._revisions if i not in revisions]
        for integration_id in gone:
            self._drop(integration_id)
        if stale:
            for registered in load_specs(self.engine, stale).values():
                self._drop(registered.spec.id)
                self._add(registered.spec, registered.revision)
        self._revisions = revisions

    def _add(self, spec: IntegrationSpec, revision: int) -> None:
        now = self.clock()
        self._keys_of[spec.id] = [check_key(spec.id, check.name) for check in spec.checks]
        self.scenarios.add(spec, revision, now)
        for check in spec.checks:
            key = check_key(spec.id, check.name)
            self._generation += 1
            entry = ScheduledCheck(
                key=key,
                integration_id=spec.id,
                check_name=check.name,
                revision=revision,
                interval_s=spec.interval_s,
                budget_s=timeout_budget(spec),
                next_due=first_due(key, spec.interval_s, self.spread, now),
                generation=self._generation,
            )
            self._checks[key] = entry
            heapq.heappush(self._heap, (entry.next_due, entry.generation, key))

    def _drop(self, integration_id: str) -> None:
        # Heap entries of dropped checks are skipped lazily by their generation.
        self.scenarios.drop(integration_id)
        for key in self._keys_of.pop(integration_id, []):
            self._checks.pop(key, None)

    @property
    def check_count(self) -> int:
        return len(self._checks)

    def _fast_forward(self, now: float) -> None:
        """On taking the lead, continue every check on its phase without a burst.

        While standing by, the heap kept the due times of when this scheduler
        started; the old leader ran those checks on the same phases (they are a
        hash of the key), so they are not run again. The old leader's last
        renewal was about one lock TTL (`takeover_lookback_s`) ago: a run that
        fell due since then was likely run by nobody, and runs now, unless the
        next regular run is less than half an interval away, in which case
        that one serves (two runs back to back would be a run twice in one
        interval).
        """
        self._heap = []
        for entry in self._checks.values():
            upcoming = first_due(entry.key, entry.interval_s, self.spread, now)
            missed = upcoming - entry.interval_s
            catch_up = (
                missed >= now - self.takeover_lookback_s and upcoming - now >= entry.interval_s / 2
            )
            self._generation += 1
            entry.generation = self._generation
            entry.next_due = missed if catch_up else upcoming
            self._heap.append((entry.next_due, entry.generation, entry.key))
        heapq.heapify(self._heap)
        self.scenarios.restart(now)

    # --- one tick ------------------------------------------------------------

    def due(self, now: float) -> list[tuple[float, ScheduledCheck]]:
        """Pop every check due by `now` (with the time it was due) and push its next run."""
        out: list[tuple[float, ScheduledCheck]] = []
        while self._heap and self._heap[0][0] <= now:
            due, generation, key = heapq.heappop(self._heap)
            entry = self._checks.get(key)
            if entry is None or entry.generation != generation:
                continue
            out.append((due, entry))
            next_due = due + entry.interval_s
            if next_due <= now:
                # Far behind (e.g. after a pause): skip the missed runs, keep the phase.
                missed = int((now - next_due) // entry.interval_s) + 1
                metrics.checks_skipped.labels(reason="behind").inc(missed)
                next_due += missed * entry.interval_s
            entry.next_due = next_due
            heapq.heappush(self._heap, (next_due, generation, key))
        return out

    def tick(self) -> int:
        """Claim and enqueue what is due; return the number of checks sent."""
        if not self.coordinator.ensure_leadership():
            self._leading = False
            return 0
        now = self.clock()
        if self._leading is False:  # was standing by: take over without a burst
            self._fast_forward(now)
        self._leading = True
        self._maybe_housekeep(now)
        self.scenarios.dispatch(now)
        self._maybe_dispatch_leads(now)
        self._maybe_watch_heartbeats(now)
        self._maybe_watch_postbacks(now)
        sent = 0
        for group in _by_budget(self.due(now)):
            sent += self._dispatch(group, now)
        self._flush_skips(now)
        return sent

    def _flush_skips(self, now: float) -> None:
        try:
            self.skips.flush(self.engine, now)
        except Exception:
            # Only the reason shown for stale checks waits; the checks must not.
            log.exception("could not record skipped checks; will retry")

    def _dispatch(self, due: list[tuple[float, ScheduledCheck]], now: float) -> int:
        # A claim first lasts one interval, the longest its batch may wait in
        # the queue: a check not started by then is stale and skipped by the
        # worker, which otherwise extends the claim by the run's budget. So the
        # checks of a batch lost with a killed worker are claimed again at
        # their next due time, not an interval and a budget later.
        first = due[0][1]
        deadline = now + first.interval_s
        claimed = self.coordinator.claim([c.key for _, c in due], now, deadline)
        if claimed is None:
            log.warning("lost the scheduler lock; not sending %d due checks", len(due))
            return 0
        claimed_keys = set(claimed)
        skipped = [c for _, c in due if c.key not in claimed_keys]
        if skipped:
            metrics.checks_skipped.labels(reason="in_flight").inc(len(skipped))
            self._note_skipped(skipped, now)
        ready = [(when, c) for when, c in due if c.key in claimed_keys]
        # Keep an integration's checks together: they share a partner host and its connections.
        ready.sort(key=lambda pair: pair[1].integration_id)
        claim = claim_value(deadline)
        for _, entry in ready:
            entry.claim = claim
        for start in range(0, len(ready), self.batch_size):
            chunk = ready[start : start + self.batch_size]
            batch = Batch(
                fence=self.coordinator.fence,
                claim=claim,
                deadline=deadline,
                items=[
                    BatchItem(c.integration_id, c.revision, c.check_name, when, c.budget_s)
                    for when, c in chunk
                ],
            )
            self.broker.enqueue(
                Message(
                    queue_name=self.queue_name,
                    actor_name=ACTOR_NAME,
                    args=(batch.to_payload(),),
                    kwargs={},
                    options={},
                )
            )
        metrics.checks_scheduled.inc(len(ready))
        return len(ready)

    def _note_skipped(self, skipped: list[ScheduledCheck], now: float) -> None:
        """Record why each still-claimed check was skipped: a run a worker started is
        in flight; a claim still as this scheduler set it is a run no worker took."""
        held = self.coordinator.held([c.key for c in skipped])
        never_started = {c.key for c in skipped if c.claim and held.get(c.key) == c.claim}
        waiting = [c for c in skipped if c.key in never_started]
        running = [c for c in skipped if c.key not in never_started]
        for checks, reason in ((running, QuietReason.IN_FLIGHT), (waiting, QuietReason.NO_WORKER)):
            self.skips.note([(c.integration_id, c.check_name) for c in checks], reason, now)

    def _maybe_housekeep(self, now: float) -> None:
        if self.housekeeping_s is None or now < self._next_housekeeping:
            return
        self._next_housekeeping = now + self.housekeeping_s
        sync = self._housekeeping_runs % self.sync_every == 0
        self._housekeeping_runs += 1
        self.broker.enqueue(
            Message(
                queue_name=HOUSEKEEPING_QUEUE,
                actor_name=HOUSEKEEPING_ACTOR,
                args=(),
                kwargs={"sync": sync},
                options={},
            )
        )

    def _maybe_dispatch_leads(self, now: float) -> None:
        if self.leads_s is None or now < self._next_leads:
            return
        self._next_leads = now + self.leads_s
        self.broker.enqueue(
            Message(queue_name=LEADS_QUEUE, actor_name=LEADS_ACTOR, args=(), kwargs={}, options={})
        )

    def _maybe_watch_heartbeats(self, now: float) -> None:
        if self.heartbeats_s is None or now < self._next_heartbeats:
            return
        self._next_heartbeats = now + self.heartbeats_s
        self.broker.enqueue(
            Message(
                queue_name=HOUSEKEEPING_QUEUE,
                actor_name=HEARTBEATS_ACTOR,
                args=(),
                kwargs={},
                options={},
            )
        )

    def _maybe_watch_postbacks(self, now: float) -> None:
        if self.postbacks_s is None or now < self._next_postbacks:
            return
        self._next_postbacks = now + self.postbacks_s
        self.broker.enqueue(
            Message(
                queue_name=HOUSEKEEPING_QUEUE,
                actor_name=POSTBACKS_ACTOR,
                args=(),
                kwargs={},
                options={},
            )
        )

    # --- running -------------------------------------------------------------

    def run(self, stop: threading.Event, tick_s: float = 0.1, refresh_s: float = 5.0) -> None:
        """Tick until `stop` is set; re-read the registry every `refresh_s`."""
        last_refresh = 0.0
        leading = False
        while not stop.is_set():
            started = time.monotonic()
            try:
                if started - last_refresh >= refresh_s:
                    self.refresh()
                    last_refresh = started
                self.tick()
                is_leader = self.coordinator.fence > 0
                if is_leader != leading:
                    log.info(
                        "scheduler %s leadership (fence %d)",
                        "took" if is_leader else "lost",
                        self.coordinator.fence,
                    )
                    leading = is_leader
                metrics.scheduler_leader.set(1 if is_leader else 0)
            except Exception:
                # A database or Redis hiccup must not kill the scheduler; the
                # next tick tries again and the claims keep the rest consistent.
                log.exception("scheduler tick failed")
                stop.wait(1.0)
            stop.wait(max(0.0, tick_s - (time.monotonic() - started)))
        self.coordinator.resign()
        metrics.scheduler_leader.set(0)


def _by_budget(
    due: Iterable[tuple[float, ScheduledCheck]],
) -> list[list[tuple[float, ScheduledCheck]]]:
    """Group by (interval, budget) so each message shares one claim deadline and budget."""
    groups: dict[tuple[float, float], list[tuple[float, ScheduledCheck]]] = {}
    for when, entry in due:
        groups.setdefault((entry.interval_s, entry.budget_s), []).append((when, entry))
    return list(groups.values())
