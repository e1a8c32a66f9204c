"""Check metrics updated per batch equal the same metrics updated per check.

`intmon.metrics.observe_checks` counts a batch per label set before it writes
(one `inc` per series, one histogram write per bucket hit) and looks each child
up once; this pins its samples against plain per-check `inc`/`observe`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, Metric

from checks import metrics
from core import metrics as process_metrics
from core.vocabulary.outcomes import CheckResult, Outcome

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


Key = tuple[str, tuple[tuple[str, str], ...]]


def samples(
    families: Iterable[Metric], names: set[str], integrations: set[str]
) -> dict[Key, float]:
    """(sample name, labels) → value, for the named families and our integrations."""
    out: dict[Key, float] = {}
    for family in families:
        for sample in family.samples:
            if family.name not in names:
                continue
            if integrations and sample.labels.get("integration") not in integrations:
                continue
            if sample.name.endswith("_created"):
                continue
            key = (sample.name, tuple(sorted(sample.labels.items())))
            out[key] = sample.value
    return out


def batch(ids: list[str]) -> list[CheckResult]:
    """Several checks per integration, a check twice with one outcome, durations on
    bucket bounds and between them, certificates read twice."""
    rows = []
    durations = [0.05, 0.07, 0.1, 5.0, 7.5, 0.0, 0.25, 1.0, 2.4, 0.05]
    outcomes = [Outcome.OK, Outcome.OK, Outcome.SLOW, Outcome.TIMEOUT, Outcome.OK]
    for n, duration in enumerate(durations):
        integration = ids[n % len(ids)]
        rows.append(
            CheckResult(
                integration_id=integration,
                check_name="health" if n % 3 else "orders",
                outcome=outcomes[n % len(outcomes)],
                started_at=T0 + timedelta(seconds=n),
                scheduled_at=T0 + timedelta(seconds=n) - timedelta(seconds=0.01 * n),
                duration_s=duration,
                certificate_expires_at=1.9e9 + n if n % 4 == 0 else None,
            )
        )
    return rows


def reference(results: list[CheckResult]) -> CollectorRegistry:
    """The same metrics, written per check as before batches were counted."""
    registry = CollectorRegistry()
    labels = ["integration", "check", "outcome"]
    durations = Histogram(
        "intmon_check_duration_seconds",
        "d",
        labels,
        buckets=process_metrics.DURATION_BUCKETS,
        registry=registry,
    )
    counts = Counter("intmon_check_results", "c", labels, registry=registry)
    for result in results:
        key = (result.integration_id, result.check_name, result.outcome.value)
        counts.labels(*key).inc()
        durations.labels(*key).observe(result.duration_s)
    return registry


def test_batch_metrics_equal_per_check_counts() -> None:
    ids = [f"mb-{secrets.token_hex(3)}" for _ in range(3)]
    results = batch(ids)
    names = {"intmon_check_results", "intmon_check_duration_seconds"}

    metrics.observe_checks(results, skipped={"stale": 2})
    metrics.observe_checks(results[:4])  # a second batch adds to the same children

    got = samples(REGISTRY.collect(), names, set(ids))
    expected = samples(reference(results + results[:4]).collect(), names, set(ids))
    assert got.keys() == expected.keys() and got
    for key, value in expected.items():
        assert got[key] == pytest.approx(value), key

    value = REGISTRY.get_sample_value
    for integration in ids:
        ups = [r.outcome.is_up for r in results[:4] if r.integration_id == integration]
        assert value("intmon_integration_up", {"integration": integration}) == float(all(ups))
    # The last certificate read of an integration in a batch is the one kept.
    assert value("intmon_tls_certificate_expiry_timestamp_seconds", {"integration": ids[0]}) == (
        1.9e9 + 0
    )
    assert value("intmon_tls_certificate_expiry_timestamp_seconds", {"integration": ids[2]}) == (
        1.9e9 + 8
    )


@pytest.mark.parametrize(
    "amounts",
    [
        [],
        [0.0, -1.0, 0.01, 0.025, 0.0251, 60.0, 61.0, 1e9],
        [0.1] * 50 + [2.5, 2.5000001, 10, 30, 29.99],
    ],
)
def test_observe_many_equals_observe_each(amounts: list[float]) -> None:
    registry = CollectorRegistry()
    each = Histogram("each", "e", buckets=process_metrics.LAG_BUCKETS, registry=registry)
    many = Histogram("many", "m", buckets=process_metrics.LAG_BUCKETS, registry=registry)
    for amount in amounts:
        each.observe(amount)
    metrics.observe_many(many, amounts)
    by_name: dict[str, dict[str, float]] = {"each": {}, "many": {}}
    for family in registry.collect():
        for sample in family.samples:
            if not sample.name.endswith("_created"):
                key = sample.name.split("_", 1)[1] + repr(sorted(sample.labels.items()))
                by_name[family.name][key] = sample.value
    assert by_name["many"].keys() == by_name["each"].keys()
    for key, value in by_name["each"].items():
        assert by_name["many"][key] == pytest.approx(value), key


def test_the_process_identifier_is_renewed_in_a_forked_child() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what prometheus-client would be told
        os.write(write, process_metrics.process_identifier().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 256).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child == process_metrics.process_identifier(pid)
    assert (
        process_metrics.process_identifier()
        == process_metrics.process_identifier(os.getpid())
        != child
    )
