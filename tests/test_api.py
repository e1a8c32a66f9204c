"""The HTTP API as support, a client and a tester meet it.

FastAPI's TestClient on a SQLite file in tmp_path, migrated with Alembic; two
clients (acme owns integration `a`, orbit owns `o`), each with a ticket opened
by three authentication failures fed through the alerts helpers. The API's
clock (`core.db.utcnow`) is moved by the tests, never slept on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, TypeAdapter
from sqlalchemy import Engine, insert

from alerts import documents, mirror
from alerts.models import ExternalRef
from alerts.sinks import SinkConfig
from alerts.sinks.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from core import db
from core.settings import Settings
from core.vocabulary.outcomes import Outcome
from integrations.apply import apply
from integrations.loader import load_text
from integrations.registry import load_specs
from intmon.api.auth import create_token
from intmon.app import create_app
from intmon.migrations import upgrade
from tests.alerts.helpers import T0, feed

PARTNER_SECRET = "partner-secret-value-42"
METRICS_TOKEN = "metrics-token-for-prometheus-0123"
API_SETTINGS = Settings(redis_url=None, api_metrics_token=SecretStr(METRICS_TOKEN))
HOOK_KEY = "hook-hmac-key-xyz"
NOW = T0 + timedelta(hours=1)

CONFIG = """version: 1
integrations:
""" + "".join(
    f"""  - id: {integration}
    name: {integration.title()} Broker
    kind: broker
    client: {client}
    base_url: http://127.0.0.1:9
    auth: {{type: bearer, token: "${{PARTNER_TOKEN}}"}}
    interval_s: 60
    checks: [{{name: health, path: /health, headers: {{X-Key: "${{PARTNER_TOKEN}}"}}}}]
"""
    for integration, client in (("a", "acme"), ("o", "orbit"))
)


class Api:
    """A TestClient that remembers every response, to look for leaked secrets."""

    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens
        self.seen: list[str] = []

    def call(self, method: str, url: str, as_: str | None = "support", **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if as_ is not None:
            headers["Authorization"] = f"Bearer {self.tokens.get(as_, as_)}"
        response = self.client.request(method, url, headers=headers, **kwargs)
        self.seen.append(response.text)
        return response

    def get(self, url: str, as_: str | None = "support", **kwargs: Any) -> Any:
        return self.call("GET", url, as_, **kwargs)

    def post(self, url: str, as_: str | None = "support", **kwargs: Any) -> Any:
        return self.call("POST", url, as_, **kwargs)


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("PARTNER_TOKEN", PARTNER_SECRET)
    monkeypatch.setenv("HOOK_KEY", HOOK_KEY)
    monkeypatch.setattr(db, "utcnow", lambda: NOW)
    engine = db.make_engine(f"sqlite:///{tmp_path / 'api.db'}")
    upgrade(engine)
    apply(engine, load_text(CONFIG), T0)
    specs = {i: r.spec for i, r in load_specs(engine).items()}
    feed(engine, specs, [Outcome.AUTH_FAILURE] * 3, integration="a")  # INC-000001, acme
    feed(engine, specs, [Outcome.AUTH_FAILURE] * 3, integration="o")  # INC-000002, orbit
    hook = TypeAdapter(SinkConfig).validate_python(
        {"name": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/h", "secret": "${HOOK_KEY}"}
    )
    with engine.begin() as connection:
        documents.store(connection, {documents.SINKS: mirror.sink_document([hook])}, T0)
        # INC-000001 was mirrored to the hook (as the outbox does); INC-000002 not.
        connection.execute(
            insert(ExternalRef).values(ticket_id=1, sink="hook", external_id="INC-000001")
        )
    yield engine
    engine.dispose()


@pytest.fixture
def api(engine: Engine) -> Iterator[Api]:
    tokens = {
        role if client is None else client: create_token(
            engine, role=role, client=client, name=f"{client or role}-bot", now=T0
        )[1]
        for role, client in (("support", None), ("client", "acme"), ("client", "orbit"))
    }
    tokens["tester"] = create_token(engine, role="tester", now=T0)[1]
    tokens["metrics"] = METRICS_TOKEN
    with TestClient(create_app(engine, API_SETTINGS)) as client:
        api = Api(client, tokens)
        yield api
    # Nothing the API answered holds the partner's secret.
    assert not [text for text in api.seen if PARTNER_SECRET in text]


def numbers(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [ticket["number"] for ticket in response.json()]


# --- authentication and who sees what -----------------------------------------------


def test_no_token_or_a_bad_one_is_401(api: Api) -> None:
    assert api.get("/api/tickets", as_=None).status_code == 401
    assert api.get("/api/tickets", as_="not-a-token").status_code == 401
    assert api.get("/api/integrations", as_="imt_forged").status_code == 401
    assert api.get("/healthz", as_=None).json() == {"status": "ok"}


def test_support_sees_every_ticket_and_a_client_only_its_own(api: Api) -> None:
    assert numbers(api.get("/api/tickets")) == ["INC-000001", "INC-000002"]
    assert numbers(api.get("/api/tickets", as_="acme")) == ["INC-000001"]
    assert numbers(api.get("/api/tickets", as_="orbit")) == ["INC-000002"]
    assert api.get("/api/tickets/INC-000001", as_="acme").status_code == 200


def test_another_clients_ticket_is_not_found_everywhere(api: Api) -> None:
    detail = api.get("/api/tickets/INC-000002", as_="acme")
    missing = api.get("/api/tickets/INC-000099", as_="acme")
    assert (detail.status_code, missing.status_code) == (404, 404)
    assert detail.json()["detail"] == "ticket INC-000002 not found"
    comment = api.post("/api/tickets/INC-000002/comments", as_="acme", json={"body": "hi"})
    assert comment.status_code == 404
    status = api.post("/api/tickets/INC-000002/status", as_="acme", json={"status": "closed"})
    assert status.status_code == 404
    # A client's own ticket: the status is support's to change.
    own = api.post("/api/tickets/INC-000001/status", as_="acme", json={"status": "closed"})
    assert own.status_code == 403
    assert api.get("/api/tickets/INC-000002").json()["status"] == "open"


def test_a_client_sees_only_its_integrations_and_incidents(api: Api) -> None:
    listed = api.get("/api/integrations", as_="acme").json()
    assert [i["id"] for i in listed] == ["a"]
    assert "auth" not in listed[0] and "headers" not in json.dumps(listed)
    assert api.get("/api/integrations/o", as_="acme").status_code == 404
    assert api.get("/api/integrations/o/results", as_="acme").status_code == 404
    incidents = api.get("/api/incidents", as_="acme").json()
    assert {i["integration_id"] for i in incidents} == {"a"}
    assert api.get("/api/incidents?integration=o", as_="acme").json() == []
    assert {i["integration_id"] for i in api.get("/api/incidents").json()} == {"a", "o"}


def test_a_tester_reads_integrations_and_incidents_but_not_tickets(api: Api) -> None:
    assert [i["id"] for i in api.get("/api/integrations", as_="tester").json()] == ["a", "o"]
    assert len(api.get("/api/incidents?state=open", as_="tester").json()) == 2
    assert api.get("/api/tickets", as_="tester").status_code == 403
    assert api.get("/api/tickets/INC-000001", as_="tester").status_code == 403


def test_integration_detail_has_states_and_results(api: Api) -> None:
    detail = api.get("/api/integrations/a").json()
    assert detail["client"] == "acme"
    assert "auth" not in detail
    results = api.get("/api/integrations/a/results?limit=2")
    assert results.status_code == 200 and len(results.json()) == 2
    assert api.get("/api/integrations/a/results?limit=0").status_code == 422


# --- tickets --------------------------------------------------------------------------


def test_a_client_opens_a_ticket_and_comments_on_it(api: Api) -> None:
    created = api.post(
        "/api/tickets",
        as_="acme",
        json={"section": "app_help", "topic": "How do I export?", "body": "Where is it?"},
    )
    assert created.status_code == 201, created.text
    ticket = created.json()
    assert (ticket["client"], ticket["status"], ticket["origin"]) == ("acme", "open", "manual")
    assert ticket["form"]["description"] == "Where is it?"
    number = ticket["number"]
    comment = api.post(f"/api/tickets/{number}/comments", as_="acme", json={"body": "Any news?"})
    assert comment.status_code == 201
    detail = api.get(f"/api/tickets/{number}", as_="acme").json()
    assert [(c["author_kind"], c["body"]) for c in detail["comments"]] == [("client", "Any news?")]
    assert [h["action"] for h in detail["history"]] == ["created", "comment_public"]
    assert number in numbers(api.get("/api/tickets", as_="acme"))
    assert number not in numbers(api.get("/api/tickets", as_="orbit"))


def test_a_client_cannot_file_for_another_client_or_its_integration(api: Api) -> None:
    body = {"section": "app_help", "topic": "t", "body": "b"}
    other = api.post("/api/tickets", as_="acme", json={**body, "client": "orbit"})
    assert other.status_code == 422 and other.json()["field"] == "client"
    hidden = api.post("/api/tickets", as_="acme", json={**body, "integration": "o"})
    unknown = api.post("/api/tickets", as_="acme", json={**body, "integration": "zz"})
    assert hidden.status_code == unknown.status_code == 422
    assert hidden.json()["detail"] == "integration: integration 'o' is not registered"


def test_client_comments_are_public_and_internal_ones_stay_with_support(api: Api) -> None:
    internal = api.post(
        "/api/tickets/INC-000001/comments", json={"body": "note to self", "internal": True}
    )
    assert internal.status_code == 201
    as_client = api.get("/api/tickets/INC-000001", as_="acme").json()
    assert "note to self" not in json.dumps(as_client)
    refused = api.post(
        "/api/tickets/INC-000001/comments", as_="acme", json={"body": "x", "internal": True}
    )
    assert refused.status_code == 422 and refused.json()["field"] == "visibility"


def test_support_changes_status_and_a_bad_transition_is_409(api: Api) -> None:
    moved = api.post("/api/tickets/INC-000001/status", json={"status": "rejected"})
    assert moved.status_code == 200 and moved.json()["status"] == "rejected"
    again = api.post("/api/tickets/INC-000001/status", json={"status": "open"})
    assert again.status_code == 409
    assert again.json()["detail"] == (
        "ticket INC-000001: cannot change status from rejected to open; "
        "allowed from rejected: none (it is final)"
    )


def test_an_unknown_status_is_422_naming_status(api: Api) -> None:
    response = api.post("/api/tickets/INC-000001/status", json={"status": "done"})
    assert response.status_code == 422
    assert response.json()["field"] == "status"
    assert response.json()["detail"].startswith("status: unknown status 'done'")
    assert api.get("/api/tickets?status=done").json()["field"] == "status"
    missing = api.post("/api/tickets/INC-000001/status", json={})
    assert missing.status_code == 422 and "status" in json.dumps(missing.json())


def test_the_section_changes_before_work_starts_or_with_a_reason(api: Api) -> None:
    moved = api.post("/api/tickets/INC-000002/section", json={"section": "app_help"})
    assert moved.status_code == 200 and moved.json()["section"] == "app_help"
    api.post("/api/tickets/INC-000001/status", json={"status": "in_progress"})
    late = api.post("/api/tickets/INC-000001/section", json={"section": "app_help"})
    assert late.status_code == 422 and late.json()["field"] == "reason"
    agreed = api.post(
        "/api/tickets/INC-000001/section",
        json={"section": "app_help", "reason": "agreed with the specialist"},
    )
    assert agreed.status_code == 200 and agreed.json()["section"] == "app_help"
    assert agreed.json()["comments"][-1]["body"].endswith(": agreed with the specialist")
    own = api.post("/api/tickets/INC-000002/section", as_="orbit", json={"section": "app_help"})
    assert own.status_code == 403


def test_tickets_filter_by_creation_time(api: Api) -> None:
    later = (T0 + timedelta(minutes=30)).isoformat()
    assert numbers(api.get("/api/tickets", params={"created_from": later})) == []
    assert len(numbers(api.get("/api/tickets", params={"created_to": later}))) == 2
    naive = api.get("/api/tickets", params={"created_from": "2026-11-23T12:00:00"})
    assert naive.status_code == 422 and naive.json()["field"] == "created_from"


# --- maintenance ----------------------------------------------------------------------


def test_support_adds_lists_and_removes_a_maintenance_window(api: Api) -> None:
    window = {
        "id": "upgrade",
        "starts_at": (NOW - timedelta(minutes=5)).isoformat(),
        "ends_at": (NOW + timedelta(hours=1)).isoformat(),
        "reason": "partner upgrade",
    }
    added = api.post("/api/integrations/a/maintenance", json=window)
    assert added.status_code == 201, added.text
    assert added.json()["active"] is True
    listed = api.get("/api/integrations/a/maintenance", as_="acme").json()
    assert [w["name"] for w in listed] == ["upgrade"]
    assert api.get("/api/integrations/o/maintenance", as_="acme").status_code == 404
    assert api.post("/api/integrations/a/maintenance", as_="acme", json=window).status_code == 403
    duplicate = api.post("/api/integrations/a/maintenance", json=window)
    assert duplicate.status_code == 422 and "upgrade" in duplicate.json()["detail"]
    bad = api.post("/api/integrations/a/maintenance", json={"starts_at": "tomorrow"})
    assert bad.status_code == 422
    assert api.call("DELETE", "/api/integrations/a/maintenance/upgrade").status_code == 204
    assert api.get("/api/integrations/a/maintenance").json() == []
    assert api.call("DELETE", "/api/integrations/a/maintenance/upgrade").status_code == 404


# --- service endpoints ----------------------------------------------------------------


def test_readyz_checks_the_database(api: Api, tmp_path: Path) -> None:
    ready = api.get("/readyz", as_=None)
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok"}
    broken = db.make_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}")
    with TestClient(create_app(broken, Settings(redis_url=None))) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("OperationalError")
    # Every error answer carries the pages' security headers (the middleware adds them).
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    broken.dispose()


def test_metrics_are_prometheus_text(api: Api) -> None:
    response = api.get("/metrics", as_="metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'intmon_tickets{status="open"} 2.0' in response.text


def test_the_openapi_document_lists_the_endpoints(api: Api) -> None:
    paths = api.get("/openapi.json", as_=None).json()["paths"]
    for path in (
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/integrations",
        "/api/integrations/{integration_id}/results",
        "/api/integrations/{integration_id}/maintenance",
        "/api/incidents",
        "/api/tickets",
        "/api/tickets/{number}",
        "/api/tickets/{number}/comments",
        "/api/tickets/{number}/status",
        "/api/tickets/{number}/section",
        "/api/sinks/{name}/callback",
    ):
        assert path in paths, path
    assert api.get("/docs", as_=None).status_code == 200


# --- the webhook sink's callback ------------------------------------------------------


def signed(body: bytes, key: str = HOOK_KEY, at: datetime = NOW) -> dict[str, str]:
    timestamp = str(int(at.timestamp()))
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(key, timestamp, body),
        "Content-Type": "application/json",
    }


CALLBACK = json.dumps(
    {
        "ticket": "INC-000001",
        "status": "in_progress",
        "comments": [
            {
                "id": 7,
                "author": "partner-ops",
                "body": "Rotated the key on our side.",
                "public": True,
                "created_at": (NOW - timedelta(minutes=1)).isoformat(),
            }
        ],
    }
).encode()


def test_a_signed_callback_changes_the_status_and_adds_the_comment(api: Api) -> None:
    response = api.post(
        "/api/sinks/hook/callback", as_=None, content=CALLBACK, headers=signed(CALLBACK)
    )
    assert response.status_code == 200, response.text
    assert response.json()["comments"] == 1
    detail = api.get("/api/tickets/INC-000001").json()
    assert detail["status"] == "in_progress"
    assert [c["body"] for c in detail["comments"]] == ["Rotated the key on our side."]
    # Delivered twice, applied once.
    api.post("/api/sinks/hook/callback", as_=None, content=CALLBACK, headers=signed(CALLBACK))
    assert len(api.get("/api/tickets/INC-000001").json()["comments"]) == 1


def test_a_badly_signed_callback_is_401_and_changes_nothing(api: Api) -> None:
    wrong_key = api.post(
        "/api/sinks/hook/callback", as_=None, content=CALLBACK, headers=signed(CALLBACK, "nope")
    )
    stale = api.post(
        "/api/sinks/hook/callback",
        as_=None,
        content=CALLBACK,
        headers=signed(CALLBACK, at=NOW - timedelta(hours=1)),
    )
    unsigned = api.post("/api/sinks/hook/callback", as_=None, content=CALLBACK)
    assert wrong_key.status_code == stale.status_code == unsigned.status_code == 401
    assert "does not match" in wrong_key.json()["detail"]
    assert HOOK_KEY not in wrong_key.text
    assert api.get("/api/tickets/INC-000001").json()["status"] == "open"
    unknown = api.post("/api/sinks/nope/callback", as_=None, content=CALLBACK)
    assert unknown.status_code == 404


def test_a_signed_callback_cannot_touch_a_ticket_the_sink_never_received(api: Api) -> None:
    other = CALLBACK.replace(b"INC-000001", b"INC-000002")
    response = api.post("/api/sinks/hook/callback", as_=None, content=other, headers=signed(other))
    assert response.status_code == 404
    assert api.get("/api/tickets/INC-000002").json()["status"] == "open"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"body": "x" * (64 * 1024 + 1)}, "comments.0.body: String should have at most 65536"),
        ({"author": "ops\x00"}, "comments.0.author: Value error, must not contain NUL"),
        ({"id": "x" * 129}, "comments.0.id"),
        ({"id": "7" * 300}, "comments.0.id"),
    ],
    ids=["body over 64 KiB", "NUL in the author", "id over 128", "id over 64 bits"],
)
def test_a_signed_callback_with_an_unstorable_comment_is_422(
    api: Api, change: dict[str, Any], words: str
) -> None:
    """What the comment columns cannot hold is refused whole, naming the field."""
    document = json.loads(CALLBACK)
    document["comments"][0].update(change)
    body = json.dumps(document).encode()

    response = api.post("/api/sinks/hook/callback", as_=None, content=body, headers=signed(body))

    assert response.status_code == 422, response.text[:300]
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]
    assert api.get("/api/tickets/INC-000001").json()["comments"] == []


# --- `intmon tokens` ------------------------------------------------------------------


def test_tokens_are_created_listed_and_revoked_from_the_cli(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from core.settings import get_settings
    from intmon.cli import app as cli

    monkeypatch.setenv("INTMON_DATABASE_URL", str(engine.url))
    get_settings.cache_clear()
    runner = CliRunner()
    created = runner.invoke(
        cli, ["tokens", "create", "--role", "client", "--client", "acme", "--json"]
    )
    assert created.exit_code == 0, created.output
    token = json.loads(created.stdout)["token"]
    refused = runner.invoke(cli, ["tokens", "create", "--role", "client"])
    assert refused.exit_code == 2 and "client: required" in refused.stderr
    listed = runner.invoke(cli, ["tokens", "list", "--json"])
    assert token not in listed.stdout and json.loads(listed.stdout)[0]["client"] == "acme"
    with TestClient(create_app(engine, Settings(redis_url=None))) as client:
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/tickets", headers=auth).status_code == 200
        token_id = str(json.loads(created.stdout)["id"])
        assert runner.invoke(cli, ["tokens", "revoke", token_id]).exit_code == 0
        assert client.get("/api/tickets", headers=auth).status_code == 401
    assert runner.invoke(cli, ["tokens", "revoke", token_id]).exit_code == 2
    db.engine_for(str(engine.url)).dispose()
    get_settings.cache_clear()
