"""Lean per-integration series (core.series) read exactly as prometheus-client's own.

In multiprocess mode the worker writes the per-integration check metrics straight
into multiprocess files instead of through prometheus-client's child objects
(issue 27 item 5: ~100 MB a worker at 10,000 integrations). A Prometheus scrape
must not tell the difference: the same batches written both ways, in processes of
their own (the value class is chosen at import), give the same samples through
prometheus-client's `MultiProcessCollector`, also across a fork.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector

from core.series import SeriesFile

ROOT = Path(__file__).resolve().parent.parent

# Writes two batches (the second in a forked child as well) with the lean series
# or, given "classic", with prometheus-client's children as before.
WRITER = """
import os, sys
from datetime import UTC, datetime, timedelta
from checks import metrics
from core.vocabulary.outcomes import CheckResult, Outcome
if sys.argv[1] == "classic":
    metrics._per_integration = metrics._Classic()
T0 = datetime(2026, 12, 7, tzinfo=UTC)
outcomes = [Outcome.OK, Outcome.SLOW, Outcome.TIMEOUT, Outcome.OK, Outcome.AUTH_FAILURE]
durations = [0.05, 0.07, 0.1, 5.0, 7.5, 0.0, 0.25, 1.0, 2.4, 0.05, float("nan"), 60.0]
def batch(shift):
    return [
        CheckResult(
            integration_id=f"i{n % 4}", check_name="health" if n % 3 else "orders",
            outcome=outcomes[(n + shift) % len(outcomes)],
            started_at=T0 + timedelta(seconds=n), scheduled_at=T0,
            duration_s=d, certificate_expires_at=1.9e9 + n if n % 5 == 0 else None,
        )
        for n, d in enumerate(durations)
    ]
metrics.observe_checks(batch(0))
metrics.observe_checks(batch(1), up_unknown={"i1"})
pid = os.fork()
if pid == 0:
    metrics.observe_checks(batch(2), up={"i3": False})
    os._exit(0)
os.waitpid(pid, 0)
"""


def write(mode: str, directory: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", WRITER, mode], env=env, check=True, cwd=ROOT)


def scraped(directory: Path) -> dict[tuple[str, str], float]:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    out = {}
    for family in registry.collect():
        if family.name == "intmon_schedule_lag_seconds" or "skipped" in family.name:
            continue
        for sample in family.samples:
            labels = json.dumps(sorted(sample.labels.items()))
            out[(sample.name, labels)] = sample.value
    return out


def test_lean_series_scrape_as_prometheus_client_writes_them(tmp_path: Path) -> None:
    (tmp_path / "lean").mkdir()
    (tmp_path / "classic").mkdir()
    write("lean", tmp_path / "lean")
    write("classic", tmp_path / "classic")
    assert any(p.name.endswith("-series.db") for p in (tmp_path / "lean").iterdir())
    assert not any(p.name.endswith("-series.db") for p in (tmp_path / "classic").iterdir())

    lean, classic = scraped(tmp_path / "lean"), scraped(tmp_path / "classic")
    assert lean.keys() == classic.keys()
    names = {name for name, _ in lean}
    assert {
        "intmon_check_results_total",
        "intmon_check_duration_seconds_bucket",
        "intmon_check_duration_seconds_count",
        "intmon_check_duration_seconds_sum",
        "intmon_integration_up",
        "intmon_tls_certificate_expiry_timestamp_seconds",
    } <= names
    for key, value in classic.items():
        if value != value:  # a NaN duration makes a NaN sum both ways
            assert lean[key] != lean[key], key
        else:
            assert lean[key] == pytest.approx(value), key
    # The forked child's batch is counted on top of its parent's two.
    total = sum(v for (n, _), v in lean.items() if n == "intmon_check_results_total")
    assert total == 3 * 12


def test_a_file_reopened_by_the_same_process_id_appends_no_key_twice(tmp_path: Path) -> None:
    path = str(tmp_path / "counter_host-1-series.db")
    first = SeriesFile(path)
    offset = first.offset('["m", "m_total", {"a": "1"}, "h"]')
    first.add(offset, 2.0)
    first.close()
    again = SeriesFile(path)
    assert again.offset('["m", "m_total", {"a": "1"}, "h"]') == offset
    again.add(offset, 3.0)
    other = again.offset('["m", "m_total", {"a": "2"}, "h"]')
    again.close()
    entries = list(MmapedDict.read_all_values_from_file(path))
    assert [(key, value) for key, value, _, _ in entries] == [
        ('["m", "m_total", {"a": "1"}, "h"]', 5.0),
        ('["m", "m_total", {"a": "2"}, "h"]', 0.0),
    ]
    assert other > offset


def test_a_file_grows_past_its_first_mapping(tmp_path: Path) -> None:
    file = SeriesFile(str(tmp_path / "counter_host-2-series.db"))
    offsets = [file.offset(f'["m", "m_total", {{"i": "{n:06d}"}}, "h"]') for n in range(3000)]
    for n, offset in enumerate(offsets):
        file.add(offset, n)
    assert [file.value(o) for o in offsets] == [float(n) for n in range(3000)]
    file.close()
    assert os.path.getsize(tmp_path / "counter_host-2-series.db") > 1 << 16
