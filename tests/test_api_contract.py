"""The API's contract (issue 26): an OpenAPI document a test team can generate a client
from, and answers that are what it says, on SQLite and on PostgreSQL.

- The document is valid OpenAPI 3.1 (`openapi-spec-validator`).
- Every operation declares a 2xx answer with a schema (a model, not "any object")
  or a non-JSON media type (JUnit's `application/xml`, Prometheus' text), and every
  4xx it declares is the problem shape (`application/problem+json`).
- Every endpoint is called with real data (tickets, incidents, results, windows,
  notices, the lead ledger, a finished scenario run) and each answer is validated
  against the schema the document gives for its status and media type. The
  response models forbid fields they do not name, so a view that grows a field
  fails here (a 500) instead of the field going missing from answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi
from sqlalchemy import Engine, insert

from checks.scenarios.runner import new_run_id
from core import db
from integrations.e2e_models import E2ERun
from integrations.leads.delivery import LeadOutcome
from integrations.leads.ledger import AttemptIn, record
from intmon.app import create_app
from tests.alerts.helpers import T0
from tests.hostile.site import Site, database
from tests.hostile.site import settings as site_settings

PUBLIC_URL = "https://intmon.example/ops"
NOW = T0 + timedelta(hours=1)
RUN_ID = new_run_id()
REPORT = {
    "run_id": RUN_ID,
    "integration": "a",
    "scenario": "journey",
    "status": "failed",
    "outcome": "auth_failure",
    "detail": "step 'submit' failed",
    "started_at": NOW.isoformat(),
    "duration_ms": 812.5,
    "counts": {"passed": 0, "failed": 1, "error": 0, "skipped": 1},
    "steps": [
        {
            "name": "submit",
            "phase": "step",
            "kind": "request",
            "status": "failed",
            "outcome": "auth_failure",
            "detail": "401",
            "started_at": NOW.isoformat(),
            "duration_ms": 800.0,
            "attempts": 1,
            "extracted": {},
            "request": {"method": "POST", "url": "http://127.0.0.1:9/leads"},
            "response": {"status": 401, "excerpt": "no"},
        },
        {"name": "status", "phase": "step", "kind": "request", "status": "skipped"},
    ],
}


def openapi_document() -> dict[str, Any]:
    engine = db.make_engine("sqlite://")
    try:
        # As a client reads it: through JSON (status codes are strings).
        return dict(json.loads(json.dumps(create_app(engine, site_settings()).openapi())))
    finally:
        engine.dispose()


DOCUMENT = openapi_document()


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, methods in DOCUMENT["paths"].items()
        for method, operation in methods.items()
    ]


# --- the document ---------------------------------------------------------------------


def test_the_openapi_document_is_valid_openapi() -> None:
    validate_openapi(DOCUMENT)
    assert DOCUMENT["openapi"].startswith("3.1")


def _is_model(schema: dict[str, Any]) -> bool:
    """A named model, a list of them, or nothing but text (a media type of its own)."""
    if "$ref" in schema:
        return True
    if schema.get("type") == "array":
        return _is_model(schema.get("items", {}))
    return False


@pytest.mark.parametrize(("path", "method", "operation"), operations())
def test_every_operation_declares_its_answer_and_its_problems(
    path: str, method: str, operation: dict[str, Any]
) -> None:
    answers = operation["responses"]
    ok = [code for code in answers if code.startswith("2")]
    assert ok, f"{method.upper()} {path} declares no 2xx answer"
    for code in ok:
        content = answers[code].get("content") or {}
        if code == "204":
            assert not content, f"{method.upper()} {path}: a 204 has no body"
            continue
        assert content, f"{method.upper()} {path} {code}: no media type"
        for media, body in content.items():
            schema = body.get("schema") or {}
            if media == "application/json" and path.endswith("/{attachment_id}"):
                continue  # a JSON file attached to a ticket: the client's data, any JSON
            if media == "application/json":
                assert _is_model(schema), f"{method.upper()} {path} {code}: {schema}"
            else:
                assert schema.get("type") == "string", (path, media)
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert answers["4XX"]["content"] == problem, path
    for code, answer in answers.items():
        if code[0] == "4":
            assert answer["content"] == problem, f"{method.upper()} {path} {code}"
        if code[0] == "5" and path != "/readyz":  # /readyz's 503 is the readiness body
            assert answer["content"] == problem, f"{method.upper()} {path} {code}"


def test_junit_is_declared_as_xml_and_results_import_as_json_lines() -> None:
    junit = DOCUMENT["paths"]["/api/e2e/runs/{run_id}/junit"]["get"]["responses"]["200"]
    assert list(junit["content"]) == ["application/xml"]
    imported = DOCUMENT["paths"]["/api/results/import"]["post"]["requestBody"]["content"]
    assert list(imported) == ["application/x-ndjson"]


# --- the answers, on real data ------------------------------------------------------------


def conforms(path: str, method: str, answer: httpx.Response) -> Any:
    """The answer's body, validated against the document's schema for its status and
    media type (an error without a declared code falls to `4XX`/`5XX`)."""
    responses = DOCUMENT["paths"][path][method]["responses"]
    code = str(answer.status_code)
    declared = responses.get(code) or responses[f"{code[0]}XX"]
    media = answer.headers.get("content-type", "").split(";")[0]
    if code == "204":
        assert answer.content == b""
        return None
    assert media in declared["content"], (path, code, media, answer.text[:300])
    if media not in ("application/json", "application/problem+json"):
        return answer.text
    body = answer.json()
    schema = {**declared["content"][media]["schema"], "components": DOCUMENT["components"]}
    jsonschema.validate(body, schema)
    return body


class Walk:
    """The site's test client as support, every answer checked against the document."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.headers = site.headers("support")

    def __call__(
        self, method: str, path: str, expected: int, values: dict[str, str] | None = None, **kw: Any
    ) -> Any:
        url = path.format(**(values or {}))
        headers = {**self.headers, **kw.pop("headers", {})}
        answer = self.site.client.request(method, url, headers=headers, **kw)
        assert answer.status_code == expected, (method, url, answer.status_code, answer.text)
        return conforms(path, method.lower(), answer), answer


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def walk(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Walk]:
    monkeypatch.setattr(db, "utcnow", lambda: NOW)
    with database(request.param, tmp_path) as engine:
        things(engine)
        site = Site(engine, site_settings(public_url=PUBLIC_URL))
        yield Walk(site)
        site.close()


def things(engine: Engine) -> None:
    """What the lists would hold on a live site, besides the incidents and tickets the
    site opens: a lead attempt and a finished scenario run with its report."""
    record(
        engine,
        [
            AttemptIn(
                lead_id="L-1", integration="a", attempt=1, at=NOW, outcome=LeadOutcome.FAILED_AUTH
            )
        ],
        {"a", "b"},
    )
    with engine.begin() as connection:
        connection.execute(
            insert(E2ERun).values(
                id=RUN_ID,
                integration_id="a",
                scenario="journey",
                trigger="api",
                status="failed",
                outcome="auth_failure",
                detail="step 'submit' failed",
                requested_by="support",
                callbacks=[],
                created_at=NOW,
                started_at=NOW,
                finished_at=NOW,
                duration_s=0.8125,
                report=REPORT,
            )
        )


WINDOW = {
    "id": "night",
    "starts_at": NOW.isoformat(),
    "ends_at": (NOW + timedelta(hours=2)).isoformat(),
}
NOTICE = {
    "id": "auth-v2",
    "announced_at": T0.isoformat(),
    "effective_at": (T0 + timedelta(days=3)).isoformat(),
    "description": "bearer tokens move to v2",
}
A = {"integration_id": "a"}


def test_every_read_endpoint_answers_what_the_document_says(walk: Walk) -> None:
    integrations, _ = walk("GET", "/api/integrations", 200)
    assert {i["id"] for i in integrations} == {"a", "b"}
    assert all(state["outcome"] for i in integrations for state in i["states"])
    walk("GET", "/api/integrations/{integration_id}", 200, A)
    results, _ = walk("GET", "/api/integrations/{integration_id}/results", 200, A)
    assert results and results[0]["outcome"] == "auth_failure"
    incidents, _ = walk("GET", "/api/incidents", 200)
    assert len(incidents) == 2
    tickets, _ = walk("GET", "/api/tickets", 200, params={"limit": 1})
    assert tickets[0]["url"] == f"{PUBLIC_URL}/api/tickets/{tickets[0]['number']}"
    _, page = walk("GET", "/api/tickets", 200, params={"limit": 1})
    assert page.headers["link"].startswith(f"<{PUBLIC_URL}/api/tickets?limit=1&cursor=")
    ticket, _ = walk("GET", "/api/tickets/{number}", 200, {"number": "INC-000001"})
    assert ticket["incidents"] and ticket["url"].startswith(PUBLIC_URL)
    runs, _ = walk("GET", "/api/e2e/runs", 200)
    assert [run["run_id"] for run in runs] == [RUN_ID]
    run, _ = walk("GET", "/api/e2e/runs/{run_id}", 200, {"run_id": RUN_ID})
    assert run["report"]["steps"][1]["status"] == "skipped"
    assert run["url"] == f"{PUBLIC_URL}/api/e2e/runs/{RUN_ID}"
    junit, answer = walk("GET", "/api/e2e/runs/{run_id}/junit", 200, {"run_id": RUN_ID})
    assert answer.headers["content-type"].startswith("application/xml") and "<testsuite" in junit
    report, _ = walk("GET", "/api/leads/report", 200)
    assert report["liability"] and report["leads"][0]["lead_id"] == "L-1"
    walk("GET", "/api/integrations/{integration_id}/maintenance", 200, A)
    walk("GET", "/api/integrations/{integration_id}/notices", 200, A)
    walk("GET", "/healthz", 200)
    walk("GET", "/readyz", 200)


def test_every_write_endpoint_answers_what_the_document_says(walk: Walk) -> None:
    new = {"section": "app_help", "topic": "Export?", "body": "Where is it?", "client": "acme"}
    created, answer = walk("POST", "/api/tickets", 201, json=new)
    number = {"number": created["number"]}
    assert (
        answer.headers["location"]
        == created["url"]
        == f"{PUBLIC_URL}/api/tickets/{number['number']}"
    )
    walk("POST", "/api/tickets/{number}/section", 200, number, json={"section": "system_errors"})
    files = [("files", ("notes.txt", b"steps: 1, 2, 3\n", "text/plain"))]
    (attached,), _ = walk("POST", "/api/tickets/{number}/attachments", 201, number, files=files)
    one = {**number, "attachment_id": str(attached["id"])}
    text, got = walk("GET", "/api/tickets/{number}/attachments/{attachment_id}", 200, one)
    assert text == "steps: 1, 2, 3\n" and got.content == b"steps: 1, 2, 3\n"
    walk(
        "POST",
        "/api/tickets/{number}/comments",
        201,
        number,
        json={"body": "On it", "internal": True},
    )
    closed, _ = walk(
        "POST",
        "/api/tickets/{number}/status",
        200,
        number,
        json={"status": "closed", "reason": "done"},
    )
    assert closed["status"] == "closed" and closed["comments"][0]["visibility"] == "internal"

    window = {**A, "name": "night"}
    walk("POST", "/api/integrations/{integration_id}/maintenance", 201, A, json=WINDOW)
    moved = {**WINDOW, "reason": "deploy"}
    walk("PUT", "/api/integrations/{integration_id}/maintenance/{name}", 200, window, json=moved)
    walk("DELETE", "/api/integrations/{integration_id}/maintenance/{name}", 204, window)

    notice = {**A, "name": "auth-v2"}
    walk("POST", "/api/integrations/{integration_id}/notices", 201, A, json=NOTICE)
    walk(
        "PUT",
        "/api/integrations/{integration_id}/notices/{name}",
        200,
        notice,
        json={**NOTICE, "breaking": False},
    )
    walk("DELETE", "/api/integrations/{integration_id}/notices/{name}", 204, notice)

    lead = {"id": "L-2", "integration": "a", "fields": {"email": "x@example.com"}}
    walk("POST", "/api/leads", 202, json={"leads": [lead]})
    attempt = {
        "lead_id": "L-2",
        "integration": "a",
        "attempt": 1,
        "at": NOW.isoformat(),
        "outcome": "delivered",
    }
    walk("POST", "/api/lead-deliveries", 201, json={"attempts": [attempt]})

    line = {
        "integration": "b",
        "check": "health",
        "started_at": (NOW - timedelta(minutes=10)).isoformat(),
        "outcome": "ok",
    }
    walk(
        "POST",
        "/api/results/import",
        201,
        content=json.dumps(line) + "\n",
        headers={"Content-Type": "application/x-ndjson"},
    )
    ran, _ = walk("POST", "/api/integrations/{integration_id}/checks/run", 200, A)
    # No PARTNER_TOKEN in this process: the check cannot be built, and says so.
    assert ran["results"][0]["outcome"] == "config_error" and ran["results"][0]["detail"]


# --- one error shape ----------------------------------------------------------------------


PROBLEM = {**DOCUMENT["components"]["schemas"]["Problem"], "components": DOCUMENT["components"]}
SECURED = [(p, m, o) for p, m, o in operations() if o.get("security")]
WITH_IDS = [(p, m, o) for p, m, o in operations() if "{" in p]
WITH_BODY = [(p, m, o) for p, m, o in operations() if "requestBody" in o]
MADE_UP = {
    "integration_id": "zz-none",
    "number": "INC-999999",
    "run_id": "0" * 32,
    "scenario": "zz-none",
    "key": "z" * 22,  # a well-formed ping key no heartbeat has
    "attachment_id": "1",
}


def assert_problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    where = (answer.request.method, str(answer.request.url), answer.text[:300])
    assert answer.status_code == status, where
    assert answer.headers["content-type"] == "application/problem+json", where
    body: dict[str, Any] = answer.json()
    jsonschema.validate(body, PROBLEM)
    assert body["status"] == status and body["title"] and body["detail"], where
    assert body["type"] == "about:blank"
    assert answer.headers["x-content-type-options"] == "nosniff"  # the security headers too
    return body


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with database("sqlite", tmp_path_factory.mktemp("errors")) as engine:
        small = site_settings(api_max_body_bytes=64 * 1024, limit_checks_run="1/min")
        site = Site(engine, small)
        yield site
        site.close()


def _url(path: str, values: dict[str, str] | None = None) -> str:
    return path.format(**{"name": "zz-none", **MADE_UP, **(values or {})})


def test_no_token_is_a_401_problem_on_every_secured_operation(site: Site) -> None:
    assert len(SECURED) >= 25
    for path, method, _operation in SECURED:
        answer = site.client.request(method, _url(path, {"integration_id": "a"}))
        assert_problem(answer, 401)
        assert answer.headers["www-authenticate"] == "Bearer"


def test_a_role_without_the_right_is_a_403_problem(site: Site) -> None:
    refused = []
    for path, method, _operation in SECURED:
        answer = site.client.request(
            method, _url(path, {"integration_id": "a"}), headers=site.headers("tester")
        )
        if answer.status_code == 403:
            assert_problem(answer, 403)
            refused.append(f"{method.upper()} {path}")
    assert "POST /api/results/import" in refused and "GET /api/tickets" in refused
    assert len(refused) >= 10, refused


def test_an_unknown_id_is_a_404_problem_on_every_operation_with_one(site: Site) -> None:
    found_nothing = []
    for path, method, _operation in WITH_IDS:
        headers = site.headers("support")
        body = {"json": {}} if method in ("post", "put") and "/callbacks/" not in path else {}
        answer = site.client.request(method, _url(path), headers=headers, **body)
        if answer.status_code == 422:  # the body was checked first: send it whole
            continue
        assert_problem(answer, 404)
        found_nothing.append(f"{method.upper()} {path}")
    assert len(found_nothing) >= 15, found_nothing
    callback = assert_problem(site.client.post(f"/callbacks/{'0' * 32}/accepted", json={}), 404)
    assert callback["callback"] == "unknown"  # an extension member of the callback route


def test_an_unknown_path_and_a_method_not_allowed_are_problems(site: Site) -> None:
    assert_problem(site.client.get("/api/nothing-here", headers=site.headers("support")), 404)
    for path in DOCUMENT["paths"]:
        answer = site.client.patch(_url(path, {"integration_id": "a"}))
        assert_problem(answer, 405)
        assert answer.headers["allow"]


def test_invalid_input_is_a_422_problem_naming_each_field(site: Site) -> None:
    headers = site.headers("support")
    for path, method, operation in WITH_BODY:
        media = next(iter(operation["requestBody"]["content"]))
        if media != "application/json":
            continue
        answer = site.client.request(
            method, _url(path, {"integration_id": "a"}), headers=headers, json=[1]
        )
        body = assert_problem(answer, 422)
        assert body["field"] and body["errors"], (path, body)
        assert {e["in"] for e in body["errors"]} <= {"body", "query", "path", "header"}
    for url in ("/api/tickets?limit=0", "/api/incidents?limit=x", "/api/e2e/runs?limit=1001"):
        body = assert_problem(site.client.get(url, headers=headers), 422)
        assert body["field"] == "limit" and body["errors"][0]["in"] == "query"
    nul = assert_problem(site.client.get("/api/tickets?status=a%00b", headers=headers), 422)
    assert nul["field"] == "status"
    junk = site.client.post(
        "/api/tickets", headers={**headers, "Content-Type": "application/json"}, content=b"{oops"
    )
    assert assert_problem(junk, 422)["field"] == "body"


def test_a_body_over_the_cap_is_a_413_problem(site: Site) -> None:
    answer = site.client.post(
        "/api/tickets", headers=site.headers("support"), content=b"x" * 70_000
    )
    assert_problem(answer, 413)


def test_over_the_request_limit_is_a_429_problem_with_retry_after(site: Site) -> None:
    url = "/api/integrations/a/checks/run"
    site.client.post(url, headers=site.headers("tester"))
    answer = site.client.post(url, headers=site.headers("tester"))
    assert_problem(answer, 429)
    assert int(answer.headers["retry-after"]) > 0


def test_a_conflict_is_a_409_problem(site: Site) -> None:
    run_id = new_run_id()  # a run that has not ended has no JUnit yet
    with site.engine.begin() as connection:
        connection.execute(
            insert(E2ERun).values(
                id=run_id,
                integration_id="a",
                scenario="s",
                trigger="api",
                status="queued",
                detail="",
                callbacks=[],
                created_at=NOW,
            )
        )
    answer = site.client.get(f"/api/e2e/runs/{run_id}/junit", headers=site.headers("support"))
    assert "queued" in assert_problem(answer, 409)["detail"]


def test_an_unexpected_failure_is_a_500_problem_that_tells_nothing(site: Site) -> None:
    from intmon.api.access import engine_of

    def broken() -> Engine:
        raise RuntimeError("postgresql://user:secret@db/intmon is down")

    site.app.dependency_overrides[engine_of] = broken
    try:
        answer = site.client.get("/api/incidents", headers=site.headers("support"))
    finally:
        site.app.dependency_overrides.clear()
    body = assert_problem(answer, 500)
    assert "secret" not in answer.text and "logged" in body["detail"]
