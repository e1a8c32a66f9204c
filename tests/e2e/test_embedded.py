"""`intmon run` (scheduler, worker threads, in-process broker) runs a scheduled scenario."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.db import make_engine
from integrations.e2e_store import list_runs
from integrations.results import current_states
from tests.e2e.conftest import ENVIRON, Served, lead_flow


@pytest.mark.slow
def test_the_embedded_mode_runs_a_scheduled_scenario_and_records_it(
    served: Served, tmp_path: Path
) -> None:
    text = lead_flow(served.url, callback_timeout=5).replace(
        "      - name: lead-flow\n", "      - name: lead-flow\n        schedule_s: 10\n"
    )
    path = tmp_path / "integrations.yaml"
    path.write_text(text.replace("every_s: 1,", "every_s: 0.2,"))
    url = f"sqlite:///{tmp_path / 'run.db'}"
    env = {
        **os.environ,
        **ENVIRON,
        "INTMON_DATABASE_URL": url,
        "INTMON_PHASE_SPREAD": "0",  # due on the next multiple of 10 s
        "INTMON_METRICS_DIR": str(tmp_path / "metrics"),
    }
    env.pop("INTMON_REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "intmon", "run", str(path), "--metrics-port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    engine = make_engine(url)
    try:
        runs: list[dict[str, object]] = []
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                runs = [r for r in list_runs(engine) if r["status"] not in ("queued", "running")]
            except Exception:  # the schema is not there yet
                continue
            if runs:
                break
        assert runs, "no scheduled run finished within 40 s"
        assert (runs[0]["trigger"], runs[0]["status"]) == ("schedule", "passed"), runs[0]
        states = {s.check_name: s for s in current_states(engine, "acme")}
        assert states["e2e:lead-flow"].up
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
        engine.dispose()
    assert b"Traceback" not in stderr, stderr.decode(errors="replace")[-2000:]
