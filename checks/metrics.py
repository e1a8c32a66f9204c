"""The check metrics one batch of results updates (counts, durations, up, lag).

The worker's metrics middleware and `intmon run-now` record results through
these, so a check run by hand counts exactly like a scheduled one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from checks.outcomes import CheckResult
from core.metrics import (
    certificate_expiry,
    check_duration,
    check_results,
    checks_skipped,
    integration_up,
    schedule_lag,
)


def observe_results(
    results: Sequence[CheckResult],
    *,
    every_check: bool = True,
    up_unknown: Collection[str] = (),
) -> None:
    """Update the check metrics for one batch of results.

    The up gauge is set from the batch's results: the scheduler keeps an
    integration's checks in one batch, so it sees all of them at once. A batch
    of some of an integration's checks (`every_check=False`) leaves it alone,
    and so do the integrations in `up_unknown` (some of their checks are still
    running).
    """
    for result in results:
        labels = (result.integration_id, result.check_name, result.outcome.value)
        check_results.labels(*labels).inc()
        check_duration.labels(*labels).observe(result.duration_s)
        if result.certificate_expires_at is not None:
            certificate_expiry.labels(result.integration_id).set(result.certificate_expires_at)
    if not every_check:
        return
    for integration, is_up in up_by_integration(results).items():
        if integration not in up_unknown:
            integration_up.labels(integration).set(1 if is_up else 0)


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
        integration_up.labels(integration).set(1 if is_up else 0)
    for check in results:
        if check.scheduled_at is not None:
            lag = (check.started_at - check.scheduled_at).total_seconds()
            schedule_lag.observe(max(0.0, lag))
    for reason, count in (skipped or {}).items():
        checks_skipped.labels(reason=reason).inc(count)
