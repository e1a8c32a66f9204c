"""The fault suite's harness: intmon processes, receivers that count, slot arithmetic.

- `Fleet` runs `intmon scheduler` / `intmon worker` as real processes (each in
  its own process group, so `kill` is a kill -9 of the worker and its children)
  and every wait it offers has a deadline and fails with the tails of their logs.
- `Target` is the partner the checks call: it counts requests per check key,
  with the time of each, so a run twice in one interval shows at the receiver.
- `Inbox` receives notifications by webhook and SMTP and counts them per
  idempotency key (the `Idempotency-Key` header, the e-mail's Message-ID); a
  hook lets a test kill a process at the exact moment a message arrived.
- `tests/faults/slots.py` holds the slot arithmetic and the assertions on it.

Adding a scenario for lead deliveries (the ledger's issue): a `Target` route
that counts deliveries per lead id, and the same assertions as `Inbox` (every
lead arrives, a repeat carries the same idempotency key and the same body).
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from integrations.apply import apply
from integrations.loader import load_text
from tests.alerts.servers import serving
from tests.faults.services import die_with_parent, free_port
from tests.faults.slots import stored_runs

# CI runs the quick mode; INTMON_FAULTS_FULL=1 (make test-faults-full) runs more rounds.
FULL = os.environ.get("INTMON_FAULTS_FULL") == "1"
TAIL_LINES = 25
WORKER = ("worker", "--processes", "2", "--threads", "4")


class Fleet:
    """intmon processes of one scenario; logs in `logs`, appended across restarts."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self._log_starts: dict[str, int] = {}  # where the running process's output begins

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        path = self.logs / f"{name}.log"
        self._log_starts[name] = path.stat().st_size if path.exists() else 0
        with path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "intmon", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        self.running[name] = process
        return process

    def kill(self, name: str) -> None:
        """kill -9 the process and its children (dramatiq's worker processes)."""
        process = self.running[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def alive(self, name: str) -> bool:
        return self.running[name].poll() is None

    def log(self, name: str) -> str:
        """What the process now running under `name` has written."""
        path = self.logs / f"{name}.log"
        if not path.exists():
            return ""
        with path.open("rb") as log:
            log.seek(self._log_starts.get(name, 0))
            return log.read().decode(errors="replace")

    def tails(self) -> str:
        parts = []
        for name, process in self.running.items():
            path = self.logs / f"{name}.log"  # every process that ran as `name`
            lines = path.read_text(errors="replace").splitlines()[-TAIL_LINES:]
            state = "running" if process.poll() is None else f"exited {process.returncode}"
            parts.append(f"--- {name} ({state}), last {len(lines)} lines:\n" + "\n".join(lines))
        return "\n".join(parts)

    def wait(self, condition: Callable[[], bool], timeout: float, what: str) -> float:
        """Poll until `condition()`; the seconds it took, or fail with the logs' tails."""
        started = time.monotonic()
        while not condition():
            if time.monotonic() - started > timeout:
                raise AssertionError(
                    f"timed out after {timeout:g} s waiting for {what}\n{self.tails()}"
                )
            time.sleep(0.1)
        return time.monotonic() - started

    def require_alive(self, *names: str) -> None:
        dead = [name for name in names if not self.alive(name)]
        assert not dead, f"{dead} exited (a crash, not a reconnect)\n{self.tails()}"

    def stop_all(self) -> None:
        """kill -9 whatever still runs: the scenario is over, and a graceful stop
        of a worker waits for its messages, which would only slow the suite down."""
        for name, process in self.running.items():
            if process.poll() is None:
                self.kill(name)


def fleet_env(database_url: str, redis_url: str, namespace: str, metrics: Path) -> dict[str, str]:
    return {
        **os.environ,
        "INTMON_DATABASE_URL": database_url,
        "INTMON_REDIS_URL": redis_url,
        "INTMON_NAMESPACE": namespace,
        "INTMON_LEADER_TTL_S": "1.5",
        "INTMON_REGISTRY_REFRESH_S": "1",
        "INTMON_HOUSEKEEPING_INTERVAL_S": "1",
        # Every partner of a scenario is one local server: no per-host queueing.
        "INTMON_MAX_CONNECTIONS_PER_HOST": "256",
        "INTMON_LOG_LEVEL": "INFO",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
    }


# --- the partner the checks call -------------------------------------------------------


class Target:
    """A partner API answering `GET /{integration}/{check}`, counting hits per check key."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self._hits: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()
        self.in_progress = 0  # requests received and not yet answered

    def app(self) -> web.Application:
        async def check(request: web.Request) -> web.Response:
            key = f"{request.match_info['integration']}/{request.match_info['check']}"
            with self._lock:
                self._hits[key].append(time.time())
                self.in_progress += 1
            try:
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                return web.json_response({"status": "ok"})
            finally:
                with self._lock:
                    self.in_progress -= 1

        app = web.Application()
        app.router.add_get("/{integration}/{check}", check)
        return app

    def hits(self) -> dict[str, list[float]]:
        with self._lock:
            return {key: list(times) for key, times in self._hits.items()}


# --- the receivers of notifications -------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    channel: str  # "webhook" | "email"
    key: str  # Idempotency-Key, or the Message-ID's left part
    content: str  # what a person reads: the same on every resend of one message
    at: float


class Inbox:
    """A webhook receiver and an SMTP server on 127.0.0.1 that keep every arrival.

    `on_arrival(count)` runs with the running total before the answer goes out,
    so a test can kill the sender between the receipt and its acknowledgement.
    """

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.on_arrival: Callable[[int], None] | None = None
        self._receipts: list[Receipt] = []
        self._lock = threading.Lock()
        self.smtp_port = free_port()
        self.webhook_url = ""

    def _arrived(self, receipt: Receipt) -> None:
        with self._lock:
            self._receipts.append(receipt)
            count = len(self._receipts)
        if self.on_arrival is not None:
            self.on_arrival(count)

    def receipts(self) -> list[Receipt]:
        with self._lock:
            return list(self._receipts)

    def app(self) -> web.Application:
        async def hook(request: web.Request) -> web.Response:
            body = await request.json()
            content = f"{body['subject']}\n{body['text']}"
            self._arrived(Receipt("webhook", request.headers["Idempotency-Key"], content, _now()))
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            return web.json_response({"ok": True})

        app = web.Application()
        app.router.add_post("/hook/{contact}", hook)
        return app

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        key = str(message["Message-ID"]).strip("<>").split("@", 1)[0]
        body = message.get_body(preferencelist=("plain",))
        text_part = body.get_content() if body is not None else ""
        self._arrived(Receipt("email", key, f"{message['Subject']}\n{text_part}", _now()))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return "250 OK"

    @contextmanager
    def serving(self) -> Iterator[Inbox]:
        controller = Controller(self, hostname="127.0.0.1", port=self.smtp_port)
        controller.start()
        try:
            with serving(self.app()) as url:
                self.webhook_url = url
                yield self
        finally:
            controller.stop()


def _now() -> float:
    return time.time()


def duplicates(receipts: list[Receipt]) -> dict[tuple[str, str], int]:
    """(channel, key) → arrivals, for keys that arrived more than once."""
    counts = Counter((r.channel, r.key) for r in receipts)
    return {key: n for key, n in counts.items() if n > 1}


def checks_yaml(count: int, base_url: str, interval_s: float, timeout_s: float) -> str:
    """`count` integrations with one check each on `base_url`; no retries, so one
    run is one request at the target."""
    body = "\n".join(
        f"""  - id: p{i:03d}
    name: Partner {i}
    kind: broker
    client: acme
    base_url: {base_url}
    interval_s: {interval_s}
    timeout_s: {timeout_s}
    retries: 0
    checks: [{{name: health, path: /p{i:03d}/health, expect: {{json: ['$.status == "ok"']}}}}]"""
        for i in range(count)
    )
    return f"version: 1\nintegrations:\n{body}\n"


@contextmanager
def checking(
    fleet: Fleet,
    engine: Engine,
    count: int,
    interval_s: float,
    timeout_s: float,
    *,
    delay_s: float = 0.0,
    schedulers: tuple[str, ...] = ("scheduler",),
) -> Iterator[Target]:
    """A target, `count` checks on it, the schedulers and a worker, running until
    every check has stored a first result."""
    target = Target(delay_s)
    with serving(target.app()) as url:
        apply(engine, load_text(checks_yaml(count, url, interval_s, timeout_s)))
        for name in schedulers:
            fleet.start(name, "scheduler")
        fleet.start("worker", *WORKER)
        fleet.wait(
            lambda: len(stored_runs(engine)) == count,
            interval_s + 30,
            "a first result of every check",
        )
        yield target
