"""Shared fixtures: real PostgreSQL and Redis, isolated per run, and local HTTP targets.

With INTMON_REQUIRE_SERVICES=1 (CI sets it) a service that cannot be reached
fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text

import alerts.models  # noqa: F401  (registers the tables to truncate)
import core.outbox  # noqa: F401  (the outbox table)
import integrations.e2e_models
import integrations.heartbeats.models
import integrations.leads.models
import integrations.models
import integrations.postbacks.models  # noqa: F401
import intmon.api.models
import intmon.web.models  # noqa: F401
from core.db import Base, make_engine
from intmon.migrations import upgrade

# Every test server listens on 127.0.0.1, which the egress policy refuses by
# default: the tests allow loopback explicitly, as an operator monitoring an
# internal partner would (tests/checks/test_egress.py runs without it).
os.environ.setdefault("INTMON_EGRESS_ALLOW", "127.0.0.0/8")

PG_ADMIN_URL = os.environ.get(
    "INTMON_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("INTMON_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("INTMON_REQUIRE_SERVICES") == "1"

# In CI hypothesis is derandomized: a red run is the code's doing, reproducible from the
# same commit, never the luck of the draw. Locally it explores (and keeps its example
# database in .hypothesis/, so a failure found once is replayed first next time).
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
hypothesis_settings.register_profile("dev")
hypothesis_settings.load_profile(
    "ci"
    if REQUIRE_SERVICES or os.environ.get("CI")
    else os.environ.get("HYPOTHESIS_PROFILE", "dev")
)


def unavailable(what: str, error: Exception) -> None:
    message = f"{what} is not reachable: {error}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (INTMON_REQUIRE_SERVICES=1: service-backed tests must run)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    name = f"intmon_test_{secrets.token_hex(4)}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        unavailable("PostgreSQL", error)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    """The session database, migrated and emptied for this test."""
    engine = make_engine(pg_url)
    upgrade(engine)
    with engine.begin() as connection:
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'core.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_engine(request) -> Engine:  # type: ignore[no-untyped-def]
    """Each database test runs on both backends."""
    fixture = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(fixture)


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except Exception as error:
        unavailable("Redis", error)
    yield client
    client.close()


@pytest.fixture
def namespace(redis_client: redis.Redis) -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    name = f"intmon-test-{secrets.token_hex(4)}"
    yield name
    for key in redis_client.scan_iter(f"{name}*"):
        redis_client.delete(key)


class Partner:
    """A tiny partner API on 127.0.0.1 that answers `status` with `body` (and any
    extra `headers`), counting hits."""

    def __init__(self, status: int = 200, body: bytes = b'{"status": "ok"}') -> None:
        self.status = status
        self.body = body
        self.headers: dict[str, str] = {}
        self.hits = 0
        self._lock = threading.Lock()
        partner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with partner._lock:
                    partner.hits += 1
                self.send_response(partner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(partner.body)))
                for name, value in partner.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(partner.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Partner:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def partner() -> Iterator[Partner]:
    with Partner() as server:
        yield server


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI nothing may be skipped: a skipped service-backed test fails the run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if REQUIRE_SERVICES and skipped and session.exitstatus == 0:
        reporter.write_line(f"INTMON_REQUIRE_SERVICES=1 but {skipped} test(s) skipped", red=True)
        session.exitstatus = 1
