"""The check metrics one batch of results updates (counts, durations, up, lag).

The worker's metrics middleware and `intmon run-now` record results through
these, so a check run by hand counts exactly like a scheduled one. A batch is
counted per label set first, then written once per series it touched: in
multiprocess mode every write is a lock, a fork check and an mmap update.

The per-integration metrics (results, durations, up, certificate expiry) are,
in multiprocess mode, lean series (`core.series`): prometheus-client's objects
for them took ~100 MB of a worker at 10,000 integrations. Same files, same
samples; without a multiprocess dir (embedded mode, tests) they are the
prometheus-client metrics of `core.metrics`.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from core.metrics import (
    MULTIPROCESS,
    certificate_expiry,
    check_duration,
    check_results,
    checks_skipped,
    integration_up,
    schedule_lag,
)
from core.series import CounterSeries, HistogramSeries, MostRecentGaugeSeries
from core.vocabulary.outcomes import CheckResult


class Children:
    """A labelled metric's children, looked up by `labels()` once per label set.

    `labels()` takes a lock and turns every value into a string on each call; the
    hot path asks for the same few thousand label sets in every batch. A child
    stays valid as long as nothing removes it from its metric (intmon never does).
    """

    def __init__(self, metric: Any) -> None:
        self.metric = metric
        self.known: dict[tuple[str, ...], Any] = {}

    def __call__(self, *labels: str) -> Any:
        child = self.known.get(labels)
        if child is None:
            child = self.known[labels] = self.metric.labels(*labels)
        return child


class _Classic:
    """The per-integration metrics as prometheus-client children (one process)."""

    def __init__(self) -> None:
        self._results_of = Children(check_results)
        self._durations_of = Children(check_duration)
        self._up_of = Children(integration_up)
        self._expiry_of = Children(certificate_expiry)

    def count(self, labels: tuple[str, str, str], amounts: Sequence[float]) -> None:
        self._results_of(*labels).inc(len(amounts))
        observe_many(self._durations_of(*labels), amounts)

    def set_up(self, integration: str, up: float) -> None:
        self._up_of(integration).set(up)

    def set_expiry(self, integration: str, expires_at: float) -> None:
        self._expiry_of(integration).set(expires_at)


class _Lean:
    """The same metrics as lean series in multiprocess files (`core.series`)."""

    def __init__(self) -> None:
        def named(metric: Any) -> tuple[str, str, tuple[str, ...]]:
            return metric._name, metric._documentation, metric._labelnames

        self._results = CounterSeries(*named(check_results))
        self._durations = HistogramSeries(*named(check_duration), check_duration._upper_bounds)
        self._up = MostRecentGaugeSeries(*named(integration_up))
        self._expiry = MostRecentGaugeSeries(*named(certificate_expiry))

    def count(self, labels: tuple[str, str, str], amounts: Sequence[float]) -> None:
        self._results.inc(labels, len(amounts))
        hits, total = bucket_hits(self._durations.bounds, amounts)
        self._durations.add(labels, hits, total)

    def set_up(self, integration: str, up: float) -> None:
        self._up.set((integration,), up)

    def set_expiry(self, integration: str, expires_at: float) -> None:
        self._expiry.set((integration,), expires_at)


_per_integration = _Lean() if MULTIPROCESS else _Classic()
_skipped_of = Children(checks_skipped)


def bucket_hits(bounds: Sequence[float], amounts: Sequence[float]) -> tuple[list[int], float]:
    """Per bucket (upper bounds, +Inf last) how many of `amounts` fall in it, and
    their sum: what `observe()` of each would add."""
    hits = [0] * len(bounds)
    for amount in amounts:
        if amount == amount:  # observe() puts a NaN in no bucket, only in the sum
            hits[bisect_left(bounds, amount)] += 1
    return hits, math.fsum(amounts)


def observe_many(histogram: Any, amounts: Sequence[float]) -> None:
    """Observe `amounts` on one histogram (or child) with one write per bucket hit
    and one for the sum, the same samples as `observe()` for each: in multiprocess
    mode every write is a lock, a fork check and an mmap update. Reaches into
    prometheus-client's histogram (`_upper_bounds`, `_buckets`, `_sum`; pinned in
    constraints.txt, and tests/test_metrics_batch.py compares with `observe`)."""
    if not amounts:
        return
    hits, total = bucket_hits(histogram._upper_bounds, amounts)
    histogram._sum.inc(total)
    for index, count in enumerate(hits):
        if count:
            histogram._buckets[index].inc(count)


def observe_results(
    results: Sequence[CheckResult],
    *,
    every_check: bool = True,
    up_unknown: Collection[str] = (),
) -> None:
    """Update the check metrics for one batch of results, counted per label set
    first: one write per series touched, not per result.

    The up gauge is set from the batch's results: the scheduler keeps an
    integration's checks in one batch, so it sees all of them at once. A batch
    of some of an integration's checks (`every_check=False`) leaves it alone,
    and so do the integrations in `up_unknown` (some of their checks are still
    running).
    """
    durations: dict[tuple[str, str, str], list[float]] = {}
    expiry: dict[str, float] = {}
    for result in results:
        labels = (result.integration_id, result.check_name, result.outcome.value)
        durations.setdefault(labels, []).append(result.duration_s)
        if result.certificate_expires_at is not None:
            expiry[result.integration_id] = result.certificate_expires_at  # the last one wins
    for labels, amounts in durations.items():
        _per_integration.count(labels, amounts)
    for integration, expires_at in expiry.items():
        _per_integration.set_expiry(integration, expires_at)
    if not every_check:
        return
    for integration, is_up in up_by_integration(results).items():
        if integration not in up_unknown:
            _per_integration.set_up(integration, 1 if is_up else 0)


def up_by_integration(results: Iterable[CheckResult]) -> dict[str, bool]:
    """Integration id → whether every one of its results here is up."""
    up: dict[str, bool] = {}
    for result in results:
        up[result.integration_id] = up.get(result.integration_id, True) and result.outcome.is_up
    return up


def observe_checks(
    results: Sequence[CheckResult],
    *,
    skipped: Mapping[str, int] | None = None,
    up_unknown: Collection[str] = (),
    up: Mapping[str, bool] | None = None,
) -> None:
    """What a worker records for results it stored: counts, durations, schedule
    lag, skips, and the up gauge (from the results, or `up` where known better)."""
    observe_results(results, up_unknown=up_unknown)
    for integration, is_up in (up or {}).items():
        _per_integration.set_up(integration, 1 if is_up else 0)
    lags = [
        max(0.0, (check.started_at - check.scheduled_at).total_seconds())
        for check in results
        if check.scheduled_at is not None
    ]
    observe_many(schedule_lag, lags)
    for reason, count in (skipped or {}).items():
        _skipped_of(reason).inc(count)
