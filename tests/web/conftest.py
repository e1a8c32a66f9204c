"""Fixtures of the web console tests: the API's two clients, their logins, and browsers.

A SQLite file in tmp_path, migrated with Alembic; acme owns integration `a`,
orbit owns `o`, each with a ticket opened by three authentication failures
(INC-000001 for acme, INC-000002 for orbit). People: `sup` (support), `ann`
(acme) and `oli` (orbit). The console's clock (`core.db.utcnow`) is fixed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from core import db
from core.settings import Settings
from core.vocabulary.outcomes import Outcome
from integrations.apply import apply
from integrations.loader import load_text
from integrations.registry import load_specs
from intmon.app import create_app
from intmon.migrations import upgrade
from intmon.web.users import create_user
from tests.alerts.helpers import T0, feed
from tests.test_api import CONFIG, NOW, PARTNER_SECRET  # the API tests' two clients

PASSWORD = "correct horse battery"
SESSION_SECRET = "a-test-session-secret-of-enough-length-0123456789"

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("PARTNER_TOKEN", PARTNER_SECRET)
    monkeypatch.setattr(db, "utcnow", lambda: NOW)
    engine = db.make_engine(f"sqlite:///{tmp_path / 'web.db'}")
    upgrade(engine)
    a_world(engine)
    yield engine
    engine.dispose()


def a_world(engine: Engine) -> None:
    """The two clients' integrations, their two tickets and the three people, in a
    migrated, empty database (SQLite here, PostgreSQL where a test needs it)."""
    apply(engine, load_text(CONFIG), T0)
    specs = {i: r.spec for i, r in load_specs(engine).items()}
    feed(engine, specs, [Outcome.AUTH_FAILURE] * 3, integration="a")  # INC-000001, acme
    feed(engine, specs, [Outcome.AUTH_FAILURE] * 3, integration="o")  # INC-000002, orbit
    for username, role, client in (("sup", "support", None), ("ann", "client", "acme")):
        create_user(engine, username, role=role, client=client, password=PASSWORD, now=T0)
    create_user(engine, "oli", role="client", client="orbit", password=PASSWORD, now=T0)


def settings(**changes: Any) -> Settings:
    return Settings(redis_url=None, session_secret=SecretStr(SESSION_SECRET), **changes)


@pytest.fixture
def clock(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The console's clock, as a one-item list a test moves forward."""
    now = [NOW]
    monkeypatch.setattr(db, "utcnow", lambda: now[0])
    return now


@pytest.fixture
def app(engine: Engine) -> FastAPI:
    return create_app(engine, settings())


class Browser:
    """A TestClient with its own cookies that keeps the CSRF token of the last page
    and every page it saw (to look for leaked secrets and unescaped markup)."""

    def __init__(self, app: FastAPI, seen: list[str], address: str = "10.0.0.1") -> None:
        # HTTPS: by default the session cookie is Secure, as a browser would see it.
        self.client = TestClient(app, base_url="https://console.test", client=(address, 50000))
        self.token = ""
        self.seen = seen

    def _keep(self, response: httpx.Response) -> httpx.Response:
        self.seen.append(response.text)
        found = CSRF.search(response.text)
        if found:
            self.token = found.group(1)
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._keep(self.client.get(url, **kwargs))

    def post(
        self, url: str, data: dict[str, str] | None = None, csrf: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        if not self.token:
            self.get("/login")
        form = {"csrf": self.token if csrf is None else csrf, **(data or {})}
        kwargs.setdefault("follow_redirects", True)
        return self._keep(self.client.post(url, data=form, **kwargs))

    def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        self.get("/login")
        return self.post("/login", {"username": username, "password": password})


@pytest.fixture
def seen() -> Iterator[list[str]]:
    pages: list[str] = []
    yield pages
    # Nothing the console showed anyone holds the partner's secret.
    assert pages and not [text for text in pages if PARTNER_SECRET in text]


@pytest.fixture
def browser(app: FastAPI, seen: list[str]) -> Iterator[Any]:
    """browser("sup") → a Browser logged in as that user (a fresh one per call),
    coming from 10.0.0.1 unless `address` says otherwise."""
    made: list[Browser] = []

    def make(username: str | None = None, address: str = "10.0.0.1") -> Browser:
        new = Browser(app, seen, address)
        made.append(new)
        if username is not None:
            response = new.login(username)
            assert response.status_code == 200, response.text
        return new

    yield make
    for one in made:
        one.client.close()
