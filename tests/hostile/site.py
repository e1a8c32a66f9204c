"""A whole intmon site for hostile tests: a migrated database (SQLite or the real
PostgreSQL) with two integrations of client acme and a ticket of each
(INC-000001, INC-000002), an API token per role, a support login for the console,
and the app served in-process by FastAPI's TestClient.

`Site.fresh(...)` builds it once per module and backend; the TestClient answers a
server error as a 500 (not by raising), as a real client would see it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, text

from core import db
from core.settings import Settings
from core.vocabulary.outcomes import Outcome
from integrations.apply import apply
from integrations.loader import load_text
from integrations.registry import load_specs
from intmon.api.auth import create_token
from intmon.app import create_app
from intmon.migrations import upgrade
from intmon.web.users import create_user
from tests.alerts.helpers import T0, config_text, feed
from tests.conftest import PG_ADMIN_URL, unavailable

PASSWORD = "correct horse battery"
SESSION_SECRET = "a-hostile-session-secret-of-enough-length-0123456789"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
# Both integrations take leads (the report and the lead-deliveries endpoints).
DELIVERY = (
    '    delivery: {path: /leads, required_fields: [email], body: {email: "{{ lead.email }}"}}\n'
)


class Site:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.app = create_app(engine, settings)
        self.client = TestClient(self.app, raise_server_exceptions=False)
        self.tokens = {
            "support": create_token(engine, role="support", now=T0)[1],
            "client": create_token(engine, role="client", client="acme", now=T0)[1],
            "tester": create_token(engine, role="tester", now=T0)[1],
        }
        self.console = TestClient(
            self.app, base_url="https://console.test", raise_server_exceptions=False
        )
        self.csrf = ""

    def headers(self, caller: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[caller]}"}

    def log_in(self) -> None:
        """The console's support user logs in; keeps the form's CSRF token."""
        page = self.console.get("/login")
        self.csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        form = {"csrf": self.csrf, "username": "sup", "password": PASSWORD}
        answer = self.console.post("/login", data=form, follow_redirects=True)
        assert answer.status_code == 200, answer.text
        self.csrf = CSRF.search(answer.text).group(1)  # type: ignore[union-attr]

    def close(self) -> None:
        self.client.close()
        self.console.close()


def populate(engine: Engine) -> None:
    upgrade(engine)
    apply(engine, load_text(config_text("a", "b", extra=DELIVERY)), T0)
    specs = {i: r.spec for i, r in load_specs(engine).items()}
    feed(engine, specs, [Outcome.AUTH_FAILURE] * 3, integration="a")  # INC-000001
    feed(engine, specs, [Outcome.SERVER_ERROR] * 3, integration="b")  # INC-000002
    create_user(engine, "sup", role="support", client=None, password=PASSWORD, now=T0)


def settings(**changes: Any) -> Settings:
    return Settings(redis_url=None, session_secret=SecretStr(SESSION_SECRET), **changes)


@contextmanager
def database(backend: str, directory: Path) -> Iterator[Engine]:
    """A migrated, populated database of its own on `backend` (dropped afterwards)."""
    if backend == "sqlite":
        engine = db.make_engine(f"sqlite:///{directory / 'site.db'}")
        populate(engine)
        yield engine
        engine.dispose()
        return
    name = f"intmon_hostile_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        unavailable("PostgreSQL", error)
    engine = db.make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        populate(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
