"""The production topology as real processes on the real Redis and PostgreSQL.

Two `intmon scheduler` processes (one leads), `intmon worker` with several
processes, and `intmon metrics`; a partner on 127.0.0.1. Proves that results
flow, no check runs twice per interval, killing the leader hands over within
seconds, and the metrics of all worker processes are aggregated.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from core.db import make_engine
from integrations.apply import apply
from integrations.loader import load_text
from intmon.migrations import upgrade
from tests.conftest import REDIS_URL, Partner

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

INTEGRATIONS = 12
INTERVAL_S = 1.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


class Processes:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "intmon", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def kill(self, name: str) -> None:
        os.killpg(self.running[name].pid, signal.SIGKILL)
        self.running[name].wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


@pytest.fixture
def topology(
    pg_url: str, namespace: str, tmp_path: Path
) -> Iterator[tuple[Processes, Partner, int]]:
    engine = make_engine(pg_url)
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE check_results, check_state, integrations CASCADE"))
    with Partner() as partner:
        body = "\n".join(
            f"""  - id: p{i:02d}
    name: Partner {i}
    kind: broker
    client: acme
    base_url: {partner.url}
    interval_s: {INTERVAL_S}
    timeout_s: 1
    checks: [{{name: health, path: /health, expect: {{json: ['$.status == "ok"']}}}}]"""
            for i in range(INTEGRATIONS)
        )
        apply(engine, load_text(f"version: 1\nintegrations:\n{body}\n"))
        metrics_dir = tmp_path / "metrics"
        metrics_dir.mkdir()
        env = {
            **os.environ,
            "INTMON_DATABASE_URL": pg_url,
            "INTMON_REDIS_URL": REDIS_URL,
            "INTMON_NAMESPACE": namespace,
            "INTMON_LEADER_TTL_S": "1.5",
            "INTMON_REGISTRY_REFRESH_S": "1",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        }
        processes = Processes(env, tmp_path)
        metrics_port = free_port()
        try:
            processes.start("worker", "worker", "--processes", "2", "--threads", "4")
            processes.start("scheduler-a", "scheduler")
            processes.start("scheduler-b", "scheduler")
            processes.start(
                "metrics", "metrics", "--port", str(metrics_port), "--host", "127.0.0.1"
            )
            yield processes, partner, metrics_port
        finally:
            processes.stop_all()
            engine.dispose()


def result_times(pg_url: str, column: str = "started_at") -> dict[str, list[float]]:
    engine = make_engine(pg_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(f"SELECT integration_id, {column}, outcome FROM check_results ORDER BY {column}")
        ).all()
    engine.dispose()
    times: dict[str, list[float]] = defaultdict(list)
    for integration_id, started_at, outcome in rows:
        assert outcome == "ok", (integration_id, outcome)
        times[integration_id].append(started_at.timestamp())
    return times


def leader(processes: Processes) -> str:
    took = {
        name: processes.log(name).count("took leadership")
        for name in ("scheduler-a", "scheduler-b")
        if name in processes.running and processes.running[name].poll() is None
    }
    leaders = [name for name, count in took.items() if count]
    assert len(leaders) == 1, {name: processes.log(name)[-2000:] for name in took}
    return leaders[0]


def test_processes_check_store_fail_over_and_aggregate_metrics(topology, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    processes, partner, metrics_port = topology

    wait_for(
        lambda: (
            len(result_times(pg_url)) == INTEGRATIONS
            and min(len(t) for t in result_times(pg_url).values()) >= 3
        ),
        timeout=40,
        what="three results per integration",
    )
    first_leader = leader(processes)

    processes.kill(first_leader)  # kill -9: no chance to release the lock
    killed_at = time.time()
    wait_for(
        lambda: all(t[-1] > killed_at + 1.0 for t in result_times(pg_url).values()),
        timeout=15,
        what="checks to continue after the leader was killed",
    )
    standby = "scheduler-b" if first_leader == "scheduler-a" else "scheduler-a"
    assert "took leadership" in processes.log(standby)

    # Never twice in one interval: consecutive runs of a check were scheduled about
    # an interval apart (allowing for jitter in when each tick lands). Scheduled,
    # not started: a first run that waited for the worker processes to boot
    # starts late, and the on-time second one then starts less than an interval after it.
    for integration_id, times in result_times(pg_url, "scheduled_at").items():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) > INTERVAL_S * 0.5, (integration_id, gaps)

    page = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    counted = sum(
        float(value)
        for value in re.findall(
            r'^intmon_check_results_total\{[^}]*outcome="ok"[^}]*\} (\S+)$', page, re.M
        )
    )
    stored = sum(len(t) for t in result_times(pg_url).values())
    # Samples from both worker processes are summed; a batch in flight may not be stored yet.
    assert 0.9 * stored <= counted <= stored + INTEGRATIONS
    assert re.search(r'^intmon_queue_depth\{queue="checks"\} \d', page, re.M)
    assert "intmon_schedule_lag_seconds_bucket" in page
    assert re.search(r'^intmon_integration_up\{integration="p00"\} 1\.0$', page, re.M)
    assert httpx.get(f"http://127.0.0.1:{metrics_port}/healthz", timeout=5).text == "ok\n"
    assert partner.hits >= stored
