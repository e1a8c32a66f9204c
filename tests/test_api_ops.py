"""The API's operations surface: run checks now, /readyz with Redis, ticket pages, OpenAPI.

A partner on 127.0.0.1 echoes the request headers it receives (the bearer
token and an `X-Key` header both carry the partner's secret) into its answer,
so a leak anywhere between the probe and the JSON the API returns would show.
Every role meets each endpoint: support, a client on its own integration and
on another's (404, like a missing one), and a tester.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from alerts.models import Ticket
from core import db
from core.settings import Settings
from integrations.apply import apply
from integrations.loader import load_text
from intmon.api.auth import create_token
from intmon.app import create_app
from intmon.migrations import upgrade
from tests.alerts.helpers import T0
from tests.conftest import REDIS_URL
from tests.test_api import API_SETTINGS, METRICS_TOKEN, Api

PARTNER_SECRET = "echoed-partner-secret-77"
REDIS_PASSWORD = "redis-password-not-for-output"


class EchoPartner:
    """Answers every path with the status set for it (200 by default) and a JSON
    body that repeats the request's headers: whatever the probe sent comes back."""

    def __init__(self) -> None:
        self.statuses: dict[str, int] = {}
        self.hits: list[str] = []
        partner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                partner.hits.append(path)
                body = json.dumps({"status": "ok", "headers": dict(self.headers)}).encode()
                self.send_response(partner.statuses.get(path, 200))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def config(url: str) -> str:
    entries = [("a", "acme", "true"), ("o", "orbit", "true"), ("d", "acme", "false")]
    return "version: 1\nintegrations:\n" + "".join(
        f"""  - id: {integration}
    name: {integration.upper()} Broker
    kind: broker
    client: {client}
    enabled: {enabled}
    base_url: {url}/{integration}
    auth: {{type: bearer, token: "${{PARTNER_TOKEN}}"}}
    interval_s: 60
    timeout_s: 2
    retries: 0
    checks:
      - {{name: health, path: /health, headers: {{X-Key: "${{PARTNER_TOKEN}}"}}}}
      - {{name: orders, path: /orders}}
"""
        for integration, client, enabled in entries
    )


@pytest.fixture
def partner() -> Iterator[EchoPartner]:
    server = EchoPartner()
    yield server
    server.close()


@pytest.fixture
def engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, partner: EchoPartner
) -> Iterator[Engine]:
    monkeypatch.setenv("PARTNER_TOKEN", PARTNER_SECRET)
    engine = db.make_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    upgrade(engine)
    apply(engine, load_text(config(partner.url)), T0)
    yield engine
    engine.dispose()


def tokens(engine: Engine) -> dict[str, str]:
    made = {
        role if client is None else client: create_token(engine, role=role, client=client, now=T0)[
            1
        ]
        for role, client in (("support", None), ("client", "acme"), ("client", "orbit"))
    }
    made["tester"] = create_token(engine, role="tester", now=T0)[1]
    return made


@pytest.fixture
def api(engine: Engine) -> Iterator[Api]:
    with TestClient(create_app(engine, API_SETTINGS)) as client:
        api = Api(client, {**tokens(engine), "metrics": METRICS_TOKEN})
        yield api
    leaked = [text for text in api.seen if PARTNER_SECRET in text]
    assert not leaked, "the partner's secret appeared in an API answer"


def run(api: Api, integration: str, as_: str | None = "support", **params: str) -> Any:
    return api.post(f"/api/integrations/{integration}/checks/run", as_=as_, params=params)


# --- run checks now -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["support", "tester", "acme"])
def test_support_a_tester_and_the_owning_client_run_checks_now(
    api: Api, partner: EchoPartner, role: str
) -> None:
    response = run(api, "a", as_=role)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["integration"] == "a"
    assert [(r["check"], r["outcome"], r["http_status"]) for r in body["results"]] == [
        ("health", "ok", 200),
        ("orders", "ok", 200),
    ]
    assert sorted(partner.hits) == ["/a/health", "/a/orders"]
    stored = api.get("/api/integrations/a/results").json()
    assert sorted(r["check_name"] for r in stored) == ["health", "orders"]


def test_the_partner_secret_is_redacted_in_the_results(api: Api) -> None:
    body = run(api, "a").json()
    excerpts = " ".join(r["response_excerpt"] for r in body["results"]).lower()
    # The partner echoed the bearer token and X-Key: both were replaced.
    assert '"authorization": "[redacted]"' in excerpts and '"x-key": "[redacted]"' in excerpts
    api.get("/api/integrations/a/results")
    api.get("/api/integrations/a")
    api.get("/metrics", as_="metrics")
    # The api fixture asserts that no answer, these included, holds the secret.


def test_another_clients_integration_is_not_found_and_nothing_runs(
    api: Api, partner: EchoPartner
) -> None:
    hidden = run(api, "o", as_="acme")
    missing = run(api, "zz", as_="acme")
    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert hidden.json()["detail"] == "integration o not found"
    assert partner.hits == []
    assert api.get("/api/integrations/o/results").json() == []
    assert run(api, "o", as_="orbit").status_code == 200


def test_no_token_is_401_and_a_disabled_integration_is_409(api: Api) -> None:
    assert run(api, "a", as_=None).status_code == 401
    disabled = run(api, "d")
    assert disabled.status_code == 409 and "disabled" in disabled.json()["detail"]


def test_one_check_by_name_and_an_unknown_one_is_404_naming_it(
    api: Api, partner: EchoPartner
) -> None:
    one = run(api, "a", check="orders")
    assert [r["check"] for r in one.json()["results"]] == ["orders"]
    assert partner.hits == ["/a/orders"]
    unknown = run(api, "a", check="nope")
    assert unknown.status_code == 404 and "'nope'" in unknown.json()["detail"]


def test_failing_runs_open_an_incident_and_passing_runs_resolve_it(
    api: Api, partner: EchoPartner
) -> None:
    partner.statuses["/a/health"] = 503
    changes = [run(api, "a", as_="tester").json()["incidents"] for _ in range(3)]
    assert [c["opened"] for c in changes[:2]] == [[], []]  # threshold 3
    assert len(changes[2]["opened"]) == 1 and changes[2]["tickets_opened"] == ["INC-000001"]
    (incident,) = api.get("/api/incidents?state=open").json()
    assert (incident["integration_id"], incident["family"]) == ("a", "server")
    assert api.get("/api/tickets/INC-000001", as_="acme").json()["status"] == "open"
    del partner.statuses["/a/health"]
    passing = [run(api, "a").json()["incidents"]["resolved"] for _ in range(2)]
    assert passing == [[], [incident["id"]]]  # success threshold 2
    assert api.get("/api/incidents?state=open").json() == []


def test_the_api_exposes_the_results_it_recorded(api: Api) -> None:
    run(api, "o", as_="orbit")
    page = api.get("/metrics", as_="metrics").text
    assert 'intmon_check_results_total{check="health",integration="o",outcome="ok"}' in page
    assert 'intmon_integration_up{integration="o"} 1.0' in page


# --- /readyz ------------------------------------------------------------------------


def test_readyz_checks_redis_when_one_is_configured(
    engine: Engine, redis_client: redis.Redis
) -> None:
    with TestClient(create_app(engine, Settings(redis_url=REDIS_URL))) as client:
        response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}


def test_readyz_is_503_naming_redis_when_it_cannot_be_reached(engine: Engine) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connection refused
        port = closed.getsockname()[1]
        url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0"
        with TestClient(create_app(engine, Settings(redis_url=url))) as client:
            response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("ConnectionError")
    assert REDIS_PASSWORD not in response.text


# --- ticket pages ---------------------------------------------------------------------


def many_tickets(engine: Engine, count: int) -> None:
    rows: list[dict[str, Any]] = [
        {
            "origin": "manual",
            "client": ("acme", "orbit")[i % 2],
            "integration_id": ("a", "o")[i % 2],
            "tier": "standard",
            "section": "app_help",
            "topic": f"question {i}",
            "status": ("open", "closed")[i % 3 == 0],
            "form": {},
            "created_at": T0 + timedelta(minutes=i),
            "updated_at": T0 + timedelta(minutes=i),
            "first_response_due_at": T0 + timedelta(hours=24, minutes=i),
        }
        for i in range(count)
    ]
    with engine.begin() as connection:
        connection.execute(insert(Ticket), rows)


def follow(api: Api, as_: str, **params: str) -> tuple[list[str], int]:
    """Every page via the Link header: the numbers in order and how many pages."""
    response = api.get("/api/tickets", as_=as_, params=params)
    numbers, pages = [], 0
    while True:
        assert response.status_code == 200, response.text
        numbers += [t["number"] for t in response.json()]
        pages += 1
        link = response.headers.get("link")
        if link is None:
            assert "x-next-cursor" not in response.headers
            return numbers, pages
        assert link.endswith('>; rel="next"')
        assert f"cursor={response.headers['x-next-cursor']}" in link
        response = api.get(link[1 : -len('>; rel="next"')], as_=as_)


@pytest.mark.parametrize("role", ["support", "acme", "orbit"])
def test_pages_follow_the_link_header_for_every_reader(engine: Engine, api: Api, role: str) -> None:
    many_tickets(engine, 23)
    everything = [t["number"] for t in api.get("/api/tickets", as_=role).json()]
    assert len(everything) == (23 if role == "support" else 12 if role == "acme" else 11)
    numbers, pages = follow(api, role, limit="5")
    assert numbers == everything
    assert pages == -(-len(everything) // 5)


def test_filters_stay_with_the_cursor(engine: Engine, api: Api) -> None:
    many_tickets(engine, 23)
    closed = [t["number"] for t in api.get("/api/tickets?status=closed").json()]
    assert len(closed) == 8
    assert follow(api, "support", status="closed", limit="3")[0] == closed
    mine = follow(api, "acme", integration="a", limit="4")[0]
    assert len(mine) == 12
    assert follow(api, "acme", integration="o", limit="4")[0] == []


def test_a_bad_cursor_is_422_naming_cursor(api: Api) -> None:
    for cursor in ("not-a-cursor", "eyJhIjp0cnVlfQ"):  # the second is {"a":true}
        response = api.get("/api/tickets", params={"cursor": cursor})
        assert response.status_code == 422
        assert response.json()["field"] == "cursor"
    assert api.get("/api/tickets", as_="tester", params={"cursor": "x"}).status_code == 403


# --- OpenAPI --------------------------------------------------------------------------


def test_the_new_endpoint_and_parameters_are_documented(api: Api) -> None:
    document = api.get("/openapi.json", as_=None).json()
    run_now = document["paths"]["/api/integrations/{integration_id}/checks/run"]["post"]
    assert run_now["summary"] == "Run checks now"
    assert {"404", "409"} <= set(run_now["responses"])
    (check,) = [p for p in run_now["parameters"] if p["name"] == "check"]
    assert check["description"]
    result = document["components"]["schemas"]["CheckRunResult"]["properties"]
    assert all(field.get("description") for field in result.values())
    listing = document["paths"]["/api/tickets"]["get"]
    parameters = {p["name"]: p for p in listing["parameters"]}
    assert set(parameters) >= {"status", "section", "integration", "cursor", "limit"}
    assert all(p.get("description") for p in parameters.values())
    assert set(listing["responses"]["200"]["headers"]) == {"X-Next-Cursor", "Link"}
