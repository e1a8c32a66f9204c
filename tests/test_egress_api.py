"""The SSRF reproduction, through the API a client holds a token for.

The partner (127.0.0.2, allow-listed) answers `302 Location: http://127.0.0.1:PORT/metrics`;
a client runs its integration's checks now with `POST
/api/integrations/ID/checks/run`. Before the egress policy the internal answer
came back as the excerpt; now the hop is refused before anything is sent, the
results say so, and the ticket the failures open shows the whole chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from core import db
from core.settings import Settings
from integrations.apply import apply
from integrations.loader import load_text
from intmon.app import create_app
from intmon.migrations import upgrade
from tests.alerts.helpers import T0
from tests.egress_servers import INTERNAL_BODY, Server, internal_server, outside_partner  # noqa: F401  (fixtures)
from tests.test_api import Api
from tests.test_api_ops import tokens


@pytest.fixture
def engine(tmp_path: Path, outside: Server, internal: Server) -> Iterator[Engine]:
    target = quote(f"http://127.0.0.1:{internal.port}/metrics", safe="")
    config = f"""version: 1
integrations:
  - id: a
    name: A Broker
    kind: broker
    client: acme
    base_url: {outside.url}
    interval_s: 60
    timeout_s: 2
    retries: 0
    thresholds: {{failure_threshold: 1}}
    checks:
      - {{name: health, path: "/go?to={target}"}}
"""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'egress.db'}")
    upgrade(engine)
    apply(engine, load_text(config), T0)
    yield engine
    engine.dispose()


@pytest.fixture
def api(engine: Engine) -> Iterator[Api]:
    # The operator allow-listed its internal partner's address, and only that one.
    settings = Settings(redis_url=None, egress_allow="127.0.0.2/32")
    with TestClient(create_app(engine, settings)) as client:
        yield Api(client, tokens(engine))


def test_a_partners_redirect_inside_is_refused_and_nothing_internal_is_shown(
    api: Api, internal: Server, outside: Server
) -> None:
    response = api.post("/api/integrations/a/checks/run", as_="acme")
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    assert result["outcome"] == "egress_denied"
    hop = f"http://127.0.0.1:{internal.port}/metrics"
    assert result["detail"].startswith(f"redirect 1 to {hop} → 127.0.0.1 is loopback")
    assert result["response_excerpt"] == ""
    assert internal.hits == []  # nothing was sent to the internal address
    assert len(outside.hits) == 1
    stored = api.get("/api/integrations/a/results", as_="acme").json()
    assert [r["outcome"] for r in stored] == ["egress_denied"]
    # The ticket the failure opened shows every hop, the partner's first.
    (ticket,) = api.get("/api/tickets", as_="acme").json()
    shown = api.get(f"/api/tickets/{ticket['number']}", as_="acme").text
    assert f"redirects: 302 {outside.url}/go?to=" in shown
    assert f"no answer from {hop}" in shown
    assert INTERNAL_BODY.decode() not in "".join(api.seen)
