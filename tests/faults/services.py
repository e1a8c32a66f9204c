"""Private Redis and PostgreSQL servers owned by the fault tests, restartable at will.

The shared servers on 127.0.0.1:6379 and :5432 serve everybody's tests, so the
fault suite never restarts them: it starts its own on free ports and restarts
those. Redis runs without persistence (`--save "" --appendonly no`), so a
restart loses every queue, claim and lock, the worst case a deployment without
AOF would see (the full mode also restarts one with AOF, as production runs).
PostgreSQL is a throw-away cluster made by `initdb`; a restart is an immediate
shutdown (what a crash or an OOM kill does) and a start, with crash recovery
from the WAL. initdb and postgres refuse to run as root, so when the tests run
as root both run as the `postgres` user in a directory it owns.
"""

from __future__ import annotations

import ctypes
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import redis

START_TIMEOUT_S = 30.0
PR_SET_PDEATHSIG = 1
ROOT_PREFIX = "intmon-faults-pg-"


class ServiceUnavailable(RuntimeError):
    """The binaries for a private server are missing or it would not start."""


def die_with_parent() -> None:
    """In a child before exec: be killed when the test run dies, even by kill -9
    (Linux; elsewhere the fixtures' teardown is all there is)."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(ready: Callable[[], bool], timeout: float, what: str, log: Path | None) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise ServiceUnavailable(f"{what} did not come up within {timeout:g} s\n{tail}")
        time.sleep(0.1)


class PrivateRedis:
    """`redis-server` on a free port, as a child process of the test run; with
    `aof`, persisted as the README tells production to run it."""

    def __init__(self, workdir: Path, *, aof: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceUnavailable("redis-server is not installed")
        self.binary = binary
        self.port = free_port()
        self.workdir = workdir
        self.aof = aof
        self.log = workdir / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--daemonize", "no", "--dir", str(self.workdir)]
        persistence = ["--appendonly", "yes", "--appendfsync", "everysec"]
        args += persistence if self.aof else ["--appendonly", "no"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
            )
        wait_until(self.ping, START_TIMEOUT_S, "the private redis-server", self.log)

    def ping(self) -> bool:
        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def stop(self) -> None:
        """Kill it (SIGKILL: a crash, not a shutdown that could save anything)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self, down_s: float) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()

    def ensure_running(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.start()


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    on_path = shutil.which("initdb")
    if found:
        return Path(found[-1]).parent
    if on_path:
        return Path(on_path).parent
    raise ServiceUnavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on a free port, trusting local connections."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.port = free_port()
        # Not under pytest's tmp_path: as root those directories are closed to
        # the postgres user, who must own the data directory.
        self.root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        # pg_ctl detaches the server: a run killed before its teardown leaves it
        # behind, and the next run stops it (`sweep_leftovers`).
        (self.root / "owner.pid").write_text(str(os.getpid()))
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]

    def sweep_leftovers(self) -> None:
        """Stop and remove the clusters of earlier runs that died without teardown."""
        for root in Path(tempfile.gettempdir()).glob(ROOT_PREFIX + "*"):
            owner = root / "owner.pid"
            if root == self.root or not owner.exists() or _alive(int(owner.read_text())):
                continue
            if (root / "data" / "postmaster.pid").exists():
                pg_ctl = [str(self.bin / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate"]
                subprocess.run([*self._as_user, *pg_ctl, "stop"], capture_output=True, timeout=60)
            shutil.rmtree(root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        command = [*self._as_user, *args]
        done = subprocess.run(command, capture_output=True, timeout=120, check=False)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")[-2000:]
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise ServiceUnavailable(f"{' '.join(args[:2])} failed:\n{output}\n{log}")

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
            "-A", "trust", "-E", "UTF8", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        # fsync off: an immediate shutdown kills processes, not the machine, so
        # the OS still holds every committed page; synchronous_commit stays on.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
            "-o", options, "-w", "-t", str(int(START_TIMEOUT_S)), "start",
        )  # fmt: skip

    def stop(self, mode: str = "immediate") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, down_s: float) -> None:
        self.stop("immediate")
        time.sleep(down_s)
        self.start()

    def ensure_running(self) -> None:
        if not (self.data / "postmaster.pid").exists():
            self.start()

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database (a copy of `template`, e.g. one already migrated)."""
        copy = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def remove(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
