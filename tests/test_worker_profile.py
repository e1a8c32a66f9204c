"""The py-spy breakdown of `bench/checks.py --profile` puts samples where they belong."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = "/srv/intmon"
SPEC = importlib.util.spec_from_file_location(
    "worker_profile", Path(__file__).resolve().parent.parent / "bench" / "worker_profile.py"
)
assert SPEC is not None and SPEC.loader is not None
worker_profile = importlib.util.module_from_spec(SPEC)
sys.modules["worker_profile"] = worker_profile
SPEC.loader.exec_module(worker_profile)


def frame(function: str, path: str, line: int = 1) -> str:
    return f"{function} ({path}:{line})"


def test_samples_go_to_the_innermost_intmon_frame_or_their_library() -> None:
    venv = f"{ROOT}/.venv/lib/python3.11/site-packages"
    consume = frame("run", f"{venv}/dramatiq/worker.py")
    actor = frame("run_batch", f"{ROOT}/worker/pipeline.py")
    intake = frame("ingest", f"{ROOT}/alerts/intake.py")
    state = frame("_write", f"{ROOT}/integrations/results.py")
    psycopg = frame("execute", f"{venv}/psycopg/cursor.py")
    raw = [
        # The state upsert's psycopg call is the state upsert's.
        ";".join([consume, actor, intake, state, psycopg]) + " 30",
        ";".join([consume, actor, intake, frame("process", f"{ROOT}/alerts/incidents.py")]) + " 10",
        ";".join([consume, actor, frame("observe_checks", f"{ROOT}/checks/metrics.py")]) + " 5",
        ";".join([consume, frame("_fetch", f"{venv}/redis/client.py")]) + " 4",
        ";".join([frame("<module>", "<frozen runpy>")]) + " 1",
        "not a stack line",
    ]
    counts = worker_profile.breakdown(raw, ROOT)
    assert counts == {
        "results COPY + check_state upsert": 30,
        "incident intake": 10,
        "metrics": 5,
        "dramatiq (consume, ack, Redis consumer)": 4,
        "other (interpreter, GC, threads)": 1,
    }
    rows = worker_profile.table(counts, cpu_us_per_check=500.0)
    assert rows[0][0] == "results COPY + check_state upsert"
    assert round(sum(us for _, _, us in rows), 6) == 500.0
    assert round(sum(share for _, share, _ in rows), 6) == 100.0
