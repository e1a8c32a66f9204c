"""What one batch message does: run its checks concurrently, store the results.

The actor is a shell around `run_batch`; claims and metrics are handled by
middleware (`worker/middleware/`) from the `BatchOutcome` returned here.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from alerts.intake import ingest
from checks.outcomes import CheckResult
from integrations.config import CheckSpec, IntegrationSpec
from worker.batch import Batch, BatchItem, check_key
from worker.runtime import Runtime

log = logging.getLogger(__name__)


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
    # A check whose claim would expire before it could finish is stale: the
    # scheduler may already have claimed its next run, so running it now could
    # run the same check twice at once.
    fresh = [item for item in batch.items if now <= batch.deadline - item.budget_s]
    if len(fresh) < len(batch.items):
        skipped["stale"] = len(batch.items) - len(fresh)

    specs = rt.specs.get_many({item.integration_id: item.revision for item in fresh})
    work: list[tuple[IntegrationSpec, CheckSpec, datetime | None]] = []
    for item in fresh:
        spec = specs.get(item.integration_id)
        check = spec.check(item.check_name) if spec is not None else None
        if spec is None or check is None:
            skipped["removed"] = skipped.get("removed", 0) + 1
            continue
        work.append((spec, check, datetime.fromtimestamp(item.due, UTC)))

    results: list[CheckResult] = []
    changed = False
    if work:
        results = rt.probes.run_batch(work, timeout=batch_timeout(fresh, rt))
        specs_by_id = {spec.id: spec for spec, _, _ in work}
        changed = bool(ingest(rt.db, results, specs_by_id, rt.settings.policy()))

    finished = time.time()
    not_before = {
        check_key(r.integration_id, r.check_name): finished + r.retry_after_s
        for r in results
        if r.retry_after_s
    }
    return BatchOutcome(batch, results, not_before, skipped, changed)


# dramatiq runs before_process_message, the actor and after_process_message in
# one worker thread; the actor leaves its outcome here for the middleware
# (returning it would make dramatiq warn that no result backend stores it).
_slot = threading.local()


def reset_outcome() -> None:
    _slot.outcome = None


def publish_outcome(outcome: BatchOutcome) -> None:
    _slot.outcome = outcome


def published_outcome() -> BatchOutcome | None:
    return getattr(_slot, "outcome", None)


def batch_timeout(items: list[BatchItem], rt: Runtime) -> float:
    """The longest a batch may take: checks of one partner host beyond the
    per-host connection limit wait for a slot before their own timeout starts."""
    per_host = rt.settings.max_connections_per_host
    waves = -(-len(items) // per_host)  # ceil: worst case, every check on one host
    return max(item.budget_s for item in items) * waves + 5.0
