"""What one batch message does: run its checks concurrently, store the results.

The actor is a shell around `run_batch`. Before probing, `start_runs` extends
each check's claim for the run (see `worker.coordination`); releasing claims
and metrics are handled by middleware (`worker/middleware/`) from the
`BatchOutcome` returned here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from alerts.intake import ingest
from checks.outcomes import CheckResult
from integrations.config import CheckSpec, IntegrationSpec
from integrations.leads.budget import PartnerBudget
from worker.batch import Batch, BatchItem, check_key
from worker.coordination import claim_value
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
    runnable, over_budget = within_budget(rt.budget, runnable, now)
    if over_budget:
        skipped["budget"] = over_budget
    runnable = start_runs(rt, batch, runnable, now)
    stale = len(batch.items) - skipped.get("removed", 0) - over_budget - len(runnable)
    if stale:
        skipped["stale"] = stale

    work = [(spec, check, datetime.fromtimestamp(item.due, UTC)) for item, spec, check in runnable]
    results: list[CheckResult] = []
    changed = False
    if work:
        items = [item for item, _, _ in runnable]
        results = rt.probes.run_batch(work, timeout=batch_timeout(items, rt))
        specs_by_id = {spec.id: spec for spec, _, _ in work}
        changed = bool(ingest(rt.db, results, specs_by_id, rt.settings.policy()))

    finished = time.time()
    not_before = {
        check_key(r.integration_id, r.check_name): finished + r.retry_after_s
        for r in results
        if r.retry_after_s
    }
    return BatchOutcome(batch, results, not_before, skipped, changed)


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


def _rate(spec: IntegrationSpec) -> float | None:
    return spec.delivery.rate_limit_rps if spec.delivery is not None else None


def start_runs(
    rt: Runtime,
    batch: Batch,
    runnable: list[tuple[BatchItem, IntegrationSpec, CheckSpec]],
    now: float,
) -> list[tuple[BatchItem, IntegrationSpec, CheckSpec]]:
    """Extend the claims of the checks about to run to the longest the runs may
    take, and keep those still claimed by this batch (a lapsed claim may have
    been taken again: that check must not run twice at once)."""
    if not runnable:
        return []
    per_host = Counter(urlsplit(spec.base_url).netloc for _, spec, _ in runnable)
    waves = max(-(-count // rt.settings.max_connections_per_host) for count in per_host.values())
    until = now + max(item.budget_s for item, _, _ in runnable) * waves
    started = set(rt.coordinator.start({item.key: batch.claim for item, _, _ in runnable}, until))
    _slot.started = {key: claim_value(until) for key in started}
    return [entry for entry in runnable if entry[0].key in started]


# dramatiq runs before_process_message, the actor and after_process_message in
# one worker thread; the actor leaves its outcome here for the middleware
# (returning it would make dramatiq warn that no result backend stores it).
_slot = threading.local()


def reset_outcome() -> None:
    _slot.outcome = None
    _slot.started = {}


def publish_outcome(outcome: BatchOutcome) -> None:
    _slot.outcome = outcome


def published_outcome() -> BatchOutcome | None:
    return getattr(_slot, "outcome", None)


def started_claims() -> dict[str, str]:
    """Check key → the claim value its run was started with, for this message."""
    started: dict[str, str] = getattr(_slot, "started", {})
    return started


def batch_timeout(items: list[BatchItem], rt: Runtime) -> float:
    """The longest a batch may take: checks of one partner host beyond the
    per-host connection limit wait for a slot before their own timeout starts."""
    per_host = rt.settings.max_connections_per_host
    waves = -(-len(items) // per_host)  # ceil: worst case, every check on one host
    return max(item.budget_s for item in items) * waves + 5.0
