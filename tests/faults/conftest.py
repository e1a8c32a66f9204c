"""Fixtures of the fault suite: a private Redis and a private PostgreSQL cluster for
the whole session (restartable, unlike the shared ones), a fresh database per
scenario in that cluster, and the scenario's fleet of intmon processes."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.db import make_engine
from intmon.migrations import upgrade
from tests.conftest import unavailable
from tests.faults.harness import Fleet, fleet_env
from tests.faults.services import PrivatePostgres, PrivateRedis, ServiceUnavailable


@pytest.fixture(scope="session")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    try:
        server = PrivateRedis(tmp_path_factory.mktemp("redis"))
        server.start()
    except (ServiceUnavailable, OSError) as error:
        unavailable("a private redis-server", error)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def private_pg() -> Iterator[PrivatePostgres]:
    try:
        cluster = PrivatePostgres()
    except (ServiceUnavailable, OSError) as error:
        unavailable("a private PostgreSQL cluster", error)
    try:
        cluster.sweep_leftovers()
        cluster.init()
        cluster.start()
    except (ServiceUnavailable, OSError) as error:
        cluster.remove()
        unavailable("a private PostgreSQL cluster", error)
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="session")
def migrated_template(private_pg: PrivatePostgres) -> str:
    """A database migrated once; each scenario gets a copy (faster than migrating)."""
    name = "faults_template"
    engine = make_engine(private_pg.create_database(name))
    upgrade(engine)
    engine.dispose()
    return name


@pytest.fixture
def fault_db(
    private_pg: PrivatePostgres, private_redis: PrivateRedis, migrated_template: str
) -> Iterator[Engine]:
    """A new, migrated database in the private cluster (both servers up, whatever
    the previous scenario did to them)."""
    private_pg.ensure_running()
    private_redis.ensure_running()
    url = private_pg.create_database(f"faults_{secrets.token_hex(4)}", migrated_template)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def fleet(fault_db: Engine, private_redis: PrivateRedis, tmp_path: Path) -> Iterator[Fleet]:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    url = fault_db.url.render_as_string(hide_password=False)
    namespace = f"faults-{secrets.token_hex(4)}"
    processes = Fleet(fleet_env(url, private_redis.url, namespace, metrics), tmp_path)
    try:
        yield processes
    finally:
        processes.stop_all()
