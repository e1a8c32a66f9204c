"""What one batch message does: run its checks concurrently, store the results.

The actor is a shell around `run_batch`. Before probing, `start_runs` extends
each check's claim for the run (see `worker.coordination`). The batch waits
`batch_wait_s` for its checks, stores those that ended and hands the others to
the process's late-result writer (`worker.late`, stored by `store_late`), so a
partner that never answers holds its own check, not a dramatiq thread.
Releasing claims and metrics are handled by middleware (`worker/middleware/`)
from the `BatchOutcome` returned here.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from alerts.intake import ingest
from alerts.policy import policy_of
from checks import metrics
from core.vocabulary.outcomes import CheckResult
from integrations.config import CheckSpec, IntegrationSpec
from integrations.partner_budget import PartnerBudget
from integrations.staleness import QuietReason
from worker.batch import HOUSEKEEPING_QUEUE, SEND_ACTOR, Batch, BatchItem, check_key
from worker.coordination import claim_value
from worker.enqueue import send_now
from worker.late import LateBatch, LateCheck, UpGroup

if TYPE_CHECKING:
    from worker.runtime import Runtime

log = logging.getLogger(__name__)
Runnable = tuple[BatchItem, IntegrationSpec, CheckSpec]


@dataclass
class BatchOutcome:
    batch: Batch
    results: list[CheckResult]
    # Check key → Unix time before which it must not run again (Retry-After).
    not_before: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    # Incidents opened, reopened or resolved: there are messages to send now.
    changed: bool = False
    # Integrations with checks still running when the batch stopped waiting
    # (`worker.late`): their up gauge is set when those end.
    late_integrations: set[str] = field(default_factory=set)


def run_batch(rt: Runtime, payload: dict[str, Any]) -> BatchOutcome:
    batch = Batch.from_payload(payload)
    now = time.time()
    skipped: dict[str, int] = {}
    # A batch that waited in the queue past its claims' deadline is stale: the
    # scheduler may already have claimed the next runs of its checks.
    fresh = batch.items if now <= batch.deadline else []
    specs = rt.specs.get_many({item.integration_id: item.revision for item in fresh})
    runnable: list[Runnable] = []
    for item in fresh:
        spec = specs.get(item.integration_id)
        check = spec.check(item.check_name) if spec is not None else None
        if spec is None or check is None:
            skipped["removed"] = skipped.get("removed", 0) + 1
            continue
        runnable.append((item, spec, check))
    wanted = runnable
    runnable, over_budget = within_budget(rt.budget, runnable, now)
    if over_budget:
        skipped["budget"] = over_budget
        ran = {item.key for item, _, _ in runnable}
        left_out = [(i.integration_id, i.check_name) for i, _, _ in wanted if i.key not in ran]
        rt.skips.note(left_out, QuietReason.BUDGET, now)
    flush_skips(rt, now)
    runnable, until = start_runs(rt, batch, runnable, now)
    stale = len(batch.items) - skipped.get("removed", 0) - over_budget - len(runnable)
    if stale:
        skipped["stale"] = stale

    work = [(spec, check, datetime.fromtimestamp(item.due, UTC)) for item, spec, check in runnable]
    results: list[CheckResult] = []
    late: list[LateCheck] = []
    changed = False
    if work:
        futures = rt.probes.start_batch(work)
        _wait(rt, futures, until)
        results, late = _take_done(rt, runnable, futures, until)
        specs_by_id = {spec.id: spec for spec, _, _ in work}
        changed = bool(ingest(rt.db, results, specs_by_id, policy_of(rt.settings)))

    late_ids = {check.spec.id for check in late}
    return BatchOutcome(batch, results, _not_before(results), skipped, changed, late_ids)


def _wait(rt: Runtime, futures: list[concurrent.futures.Future[CheckResult]], until: float) -> None:
    """Wait `batch_wait_s` for the batch; longer, up to the claims' end, while the
    process already keeps `late_checks_max` stragglers running (backpressure)."""
    _, running = concurrent.futures.wait(futures, timeout=rt.settings.batch_wait_s)
    if running and rt.late.pending + len(running) > rt.settings.late_checks_max:
        concurrent.futures.wait(running, timeout=max(0.0, until - time.time()))


def _take_done(
    rt: Runtime,
    runnable: list[Runnable],
    futures: list[concurrent.futures.Future[CheckResult]],
    until: float,
) -> tuple[list[CheckResult], list[LateCheck]]:
    """The results in so far, in batch order; the checks still running go to the
    process's late-result writer with their claims (`worker.late`)."""
    results: list[CheckResult] = []
    running: list[tuple[Runnable, concurrent.futures.Future[CheckResult]]] = []
    for entry, future in zip(runnable, futures, strict=True):
        if future.done():
            results.append(future.result())  # run_check never raises; a bug should
        else:
            running.append((entry, future))
    if not running:
        return results, []
    up = metrics.up_by_integration(results)
    groups: dict[str, UpGroup] = {}
    for (_, spec, _), _ in running:
        group = groups.setdefault(spec.id, UpGroup(up.get(spec.id, True), 0))
        group.remaining += 1
    started = started_claims()
    late = [
        LateCheck(item, spec, future, started[item.key], until, groups[spec.id])
        for (item, spec, _), future in running
    ]
    # Recorded before handing over: whatever happens to this message now, the
    # middleware must leave these claims to the late writer.
    _slot.late = {check.item.key for check in late}
    rt.late.adopt(late)
    return results, late


def _not_before(results: list[CheckResult]) -> dict[str, float]:
    """Check key → Unix time before which it must not run again (Retry-After)."""
    finished = time.time()
    return {
        check_key(r.integration_id, r.check_name): finished + r.retry_after_s
        for r in results
        if r.retry_after_s
    }


def store_late(rt: Runtime, late: LateBatch) -> None:
    """Store checks that ended after their batch moved on (`worker.late`): the
    same ingest, metrics and claim release a batch message gets."""
    try:
        specs_by_id = {check.spec.id: check.spec for check in late.checks}
        changed = bool(ingest(rt.db, late.results, specs_by_id, policy_of(rt.settings)))
        metrics.observe_checks(late.results, up_unknown=specs_by_id.keys(), up=late.up)
    finally:
        claims = {check.item.key: check.claim for check in late.checks}
        rt.coordinator.release(claims, _not_before(late.results))
    if changed:
        # As the check actor does after a batch.
        send_now(HOUSEKEEPING_QUEUE, SEND_ACTOR)


def within_budget(
    budget: PartnerBudget, runnable: list[Runnable], now: float
) -> tuple[list[Runnable], int]:
    """Checks of a partner with a request budget (`delivery.rate_limit_rps`) spend
    only their share of it, so monitoring never eats the quota real leads need;
    the rest wait for their next interval. Returns (kept, how many were not)."""
    wanted = Counter(spec.id for _, spec, _ in runnable if _rate(spec) is not None)
    if not wanted:
        return runnable, 0
    granted: dict[str, int] = {}
    for integration_id, count in wanted.items():
        spec = next(spec for _, spec, _ in runnable if spec.id == integration_id)
        assert spec.delivery is not None and spec.delivery.rate_limit_rps is not None
        rate, share = spec.delivery.rate_limit_rps, spec.delivery.checks_share
        granted[integration_id] = budget.take(integration_id, count, rate, share, now)
    kept: list[Runnable] = []
    for entry in runnable:
        spec = entry[1]
        if spec.id in granted:
            if granted[spec.id] <= 0:
                continue
            granted[spec.id] -= 1
        kept.append(entry)
    return kept, len(runnable) - len(kept)


def flush_skips(rt: Runtime, now: float) -> None:
    """Write the budget skips noted lately (at most every few seconds; a no-op
    otherwise), so checks the budget keeps skipping show as stale for `budget`."""
    try:
        rt.skips.flush(rt.db, now)
    except Exception:
        # The checks that fit the budget still run; the reasons are written next time.
        log.exception("could not record checks skipped by the budget; will retry")


def _rate(spec: IntegrationSpec) -> float | None:
    return spec.delivery.rate_limit_rps if spec.delivery is not None else None


def start_runs(
    rt: Runtime,
    batch: Batch,
    runnable: list[Runnable],
    now: float,
) -> tuple[list[Runnable], float]:
    """Extend the claims of the checks about to run to the longest the runs may
    take, and keep those still claimed by this batch (a lapsed claim may have
    been taken again: that check must not run twice at once). Returns them and
    the Unix time their extended claims run out."""
    if not runnable:
        return [], now
    per_host = Counter(urlsplit(spec.base_url).netloc for _, spec, _ in runnable)
    waves = max(-(-count // rt.settings.max_connections_per_host) for count in per_host.values())
    until = now + max(item.budget_s for item, _, _ in runnable) * waves
    started = set(rt.coordinator.start({item.key: batch.claim for item, _, _ in runnable}, until))
    _slot.started = {key: claim_value(until) for key in started}
    return [entry for entry in runnable if entry[0].key in started], until


# dramatiq runs before_process_message, the actor and after_process_message in
# one worker thread; the actor leaves its outcome here for the middleware
# (returning it would make dramatiq warn that no result backend stores it).
_slot = threading.local()


def reset_outcome() -> None:
    _slot.outcome = None
    _slot.started = {}
    _slot.late = set()


def publish_outcome(outcome: BatchOutcome) -> None:
    _slot.outcome = outcome


def published_outcome() -> BatchOutcome | None:
    return getattr(_slot, "outcome", None)


def started_claims() -> dict[str, str]:
    """Check key → the claim value its run was started with, for this message."""
    started: dict[str, str] = getattr(_slot, "started", {})
    return started


def late_claims() -> set[str]:
    """Keys of this message's checks handed to the late writer: not ours to release."""
    late: set[str] = getattr(_slot, "late", set())
    return late
