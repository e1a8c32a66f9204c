"""Serving the API and console (`intmon.app`): `intmon api`'s processes, and a
background thread on a free local port.

`intmon api --workers N` runs N processes on one port (one per core is the
production setting: the ping and postback endpoints take thousands of requests a
second). uvicorn starts each worker from an import string (`APP_FACTORY`), so
each builds its own app from the environment, with its own engine pool and
group-commit writers, and then tunes its garbage collector (`core.gc_tuning`) as
workers and schedulers do. The default thresholds ran a full collection every
few requests of a large page, each walking every module, template and cached
spec: on the board at 1,000 integrations that was a 115 ms pause in one request
of five, the whole of its p99 (docs/benchmarks.md, issue 23).

Each of those processes listens on a socket of its own on the same port
(`SO_REUSEPORT`, `serve_processes`), so the kernel spreads new connections over
them evenly. Under uvicorn's own `--workers` they shared one listening socket and
whichever process woke first took every connection waiting: 128 connections
opened at once came to 82 and 46, 64 to 53 and 11 (bench/postbacks.py), and with
clients that each send at their own pace the busier process saturated while the
other idled (postbacks paced at 2,600/s: 1,360 taken, p99 244 ms).

`ConsoleServer`: `intmon demo` shows the console while its story runs, and the
browser test drives a real Chromium against it, from a thread.
"""

from __future__ import annotations

import logging
import multiprocessing
import secrets
import signal
import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType

from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine

from core import db
from core.settings import Settings

APP_FACTORY = "intmon.serve:app_from_environment"


def app_from_environment() -> FastAPI:
    from core.db import engine_for
    from core.gc_tuning import tune_gc
    from core.settings import get_settings
    from intmon.app import create_app

    settings = get_settings()
    app = create_app(engine_for(settings.database_url), settings)
    tune_gc()  # after the app is built: what start-up made is frozen out of the collector's way
    return app


log = logging.getLogger(__name__)
# A worker that dies this soon after it started will not start on a retry either
# (a bad setting, a port taken): the server stops rather than restarting it forever.
STARTUP_S = 10.0


def shared_socket(host: str, port: int) -> socket.socket:
    """A socket bound to `host`:`port` that other processes of this user may bind too
    (SO_REUSEPORT: the kernel hands each new connection to one of those listening).
    Not listening yet: uvicorn listens once its app is built, so no connection is
    handed to a process still starting (they queued there for seconds)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    bound = socket.socket(family, socket.SOCK_STREAM)
    try:
        bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        bound.bind((host, port))
    except OSError:
        bound.close()
        raise
    return bound


def serve_one(host: str, port: int) -> None:
    """One `intmon api` process: its own socket on the shared port, the app built
    from the environment (`APP_FACTORY`), as uvicorn's own workers build it."""
    import uvicorn

    from core.logs import setup_logging
    from core.settings import get_settings

    level = get_settings().log_level
    setup_logging(level)
    # X-Forwarded-For is judged by the app (INTMON_TRUSTED_PROXIES), not by uvicorn;
    # no access log: a ping's path is its secret key.
    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        proxy_headers=False,
        access_log=False,
        log_level=level.lower(),
    )
    uvicorn.Server(config).run(sockets=[shared_socket(host, port)])


def serve_processes(host: str, port: int, workers: int) -> int:
    """`intmon api --workers N`: N processes serving one port until SIGINT or SIGTERM,
    a worker that dies restarted; the exit code (1: a worker could not start)."""
    shared_socket(host, port).close()  # the port is free (or ours): say so now
    spawn = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    def start() -> tuple[multiprocessing.process.BaseProcess, float]:
        process = spawn.Process(target=serve_one, args=(host, port), name="intmon-api")
        process.start()
        return process, time.monotonic()

    def stop(signum: int, _frame: object) -> None:
        stopping.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    running = [start() for _ in range(workers)]
    code = 0
    while not stopping.wait(0.5):
        for n, (process, started) in enumerate(running):
            if process.is_alive():
                continue
            if time.monotonic() - started < STARTUP_S:
                log.error("an API process exited with %s as it started", process.exitcode)
                code = 1
                stopping.set()
                break
            log.warning("an API process exited with %s; starting another", process.exitcode)
            running[n] = start()
    for process, _ in running:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
    for process, _ in running:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
    return code


class ConsoleServer:
    """uvicorn in a daemon thread on `host`:`port` (0: a free port); a context manager."""

    def __init__(
        self, engine: Engine, settings: Settings, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        import uvicorn

        from intmon.app import create_app

        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        config = uvicorn.Config(
            create_app(engine, settings),
            log_level="warning",
            access_log=False,
            lifespan="off",
            proxy_headers=False,  # X-Forwarded-For is judged by the app (INTMON_TRUSTED_PROXIES)
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True, name="web"
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> ConsoleServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the web console did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._socket.close()

    def wait(self) -> None:
        """Serve in the background until Ctrl-C."""
        try:
            while self._thread.is_alive():
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass

    def __enter__(self) -> ConsoleServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True, slots=True)
class Login:
    role: str
    username: str
    password: str
    client: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "role": self.role,
            "username": self.username,
            "password": self.password,
            "client": self.client,
        }


def describe(url: str, logins: list[Login]) -> str:
    """The console's address and logins, as the demo prints them (once)."""
    lines = [f"web console {url}  (log in as:)"]
    lines += [
        f"  {login.role}{f' of {login.client}' if login.client else ''}: "
        f"{login.username} / {login.password}"
        for login in logins
    ]
    return "\n".join(lines)


def demo_console(
    engine: Engine, settings: Settings, client: str
) -> tuple[ConsoleServer, list[Login]]:
    """A started console on a free port, with a support and a `client` login made up
    for this run (random passwords, shown once by the demo)."""
    from intmon.web.users import create_user

    logins = [
        Login("support", "support", secrets.token_urlsafe(12)),
        Login("client", client, secrets.token_urlsafe(12), client),
    ]
    for login in logins:
        create_user(
            engine,
            login.username,
            role=login.role,
            client=login.client,
            password=login.password,
            now=db.utcnow(),
        )
    # Sessions need not outlive the demo: a key of its own, without the warning. It
    # is served on plain http (127.0.0.1), so its cookie cannot be Secure-only.
    own = settings.model_copy(
        update={
            "session_secret": SecretStr(secrets.token_urlsafe(48)),
            "session_https_only": False,
        }
    )
    return ConsoleServer(engine, own).start(), logins
