"""`intmon api`: the app each server process builds, several processes on one port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from core.gc_tuning import THRESHOLDS
from tests.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parent.parent

# In a child process: tune_gc() freezes the collector's view of its process.
_BUILD_THE_APP = """
import gc, json
from intmon.serve import app_from_environment
before = gc.get_threshold()
app = app_from_environment()
print(json.dumps({"before": before, "after": gc.get_threshold(),
                  "frozen": gc.get_freeze_count(), "title": app.title}))
"""


def _env(database_url: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "INTMON_DATABASE_URL": database_url, "INTMON_LOG_LEVEL": "WARNING"}
    env["INTMON_SESSION_SECRET"] = "server-test-session-secret-0123456789"
    env.pop("INTMON_REDIS_URL", None)
    return {**env, **extra}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def listening_sockets(port: int) -> set[str]:
    """Inodes of the sockets listening on `port` (IPv4)."""
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return {row[9] for row in rows if int(row[1].split(":")[1], 16) == port and row[3] == "0A"}


def socket_inodes(pid: int) -> set[str]:
    links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
    return {link[8:-1] for link in links if link.startswith("socket:[")}


def test_each_server_process_builds_its_app_and_tunes_its_collector(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    subprocess.run([sys.executable, "-m", "intmon", "migrate"], env=_env(url), check=True)
    child = subprocess.run(
        [sys.executable, "-c", _BUILD_THE_APP],
        env=_env(url),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    assert figures["title"] == "intmon"
    assert tuple(figures["before"]) != THRESHOLDS
    assert tuple(figures["after"]) == THRESHOLDS
    assert figures["frozen"] > 10_000


def test_several_processes_need_redis(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "intmon", "api", "--workers", "2", "--port", str(_free_port())],
        env=_env(url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "--workers above 1 needs INTMON_REDIS_URL" in done.stdout + done.stderr


def test_two_server_processes_answer_on_one_port(
    pg_url: str, namespace: str, tmp_path: Path
) -> None:
    env = _env(pg_url, INTMON_REDIS_URL=REDIS_URL, INTMON_NAMESPACE=namespace)
    subprocess.run([sys.executable, "-m", "intmon", "migrate"], env=env, check=True)
    port = _free_port()
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "intmon", "api", "--workers", "2", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "intmon api did not start in 60 s"
                time.sleep(0.2)
        assert answer.status_code == 200
        key = "Kx" + "7" * 30  # a ping key's shape: its path is the secret
        assert httpx.get(f"http://127.0.0.1:{port}/ping/{key}", timeout=5).status_code == 404
        # One child per worker, each listening on a socket of its own (SO_REUSEPORT),
        # so the kernel spreads connections over them rather than the first awake
        # taking all that wait.
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        workers = [
            int(pid)
            for pid in children
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(workers) == 2
        # Each listens once its app is built; the other may still be building.
        while len(listening := listening_sockets(port)) < 2:
            assert time.monotonic() < deadline, "the second process did not listen in 60 s"
            time.sleep(0.2)
        held = [listening & socket_inodes(pid) for pid in workers]
        assert all(len(sockets) == 1 for sockets in held), held
        assert held[0] != held[1] and len(listening) == 2
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0
    assert key not in log.read_text()  # no access log


def test_a_taken_port_is_a_clear_refusal(pg_url: str, namespace: str) -> None:
    env = _env(pg_url, INTMON_REDIS_URL=REDIS_URL, INTMON_NAMESPACE=namespace)
    subprocess.run([sys.executable, "-m", "intmon", "migrate"], env=env, check=True)
    with socket.socket() as taken:  # another program's listener, without SO_REUSEPORT
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "intmon", "api", "--workers", "2", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
