"""Scenario runs over the HTTP API: who may trigger, status, report, JUnit, postbacks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import uvicorn
import xmlschema
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import Engine

from checks.scenarios.runner import new_run_id
from core import db
from core.settings import Settings
from integrations.apply import apply
from integrations.e2e_store import create_run, list_runs, load_run
from integrations.loader import load_text
from intmon.api.auth import create_token
from intmon.api.local_runs import LocalRuns
from intmon.api.routes.e2e import dispatcher
from intmon.app import create_app
from intmon.migrations import upgrade
from tests.conftest import REDIS_URL
from tests.e2e.conftest import ENVIRON, T0, Served, lead_flow
from worker.broker import build_broker
from worker.e2e import E2E_ACTOR, E2E_QUEUE, Job, Standalone, run_job

SCHEMA = xmlschema.XMLSchema(Path(__file__).with_name("junit.xsd"))

ORBIT = """
  - id: orbit
    name: Orbit
    kind: advertiser
    client: orbit
    base_url: {url}
    checks: [{name: ping, path: /ping}]
    scenarios:
      - {name: ping-flow, steps: [{name: ping, path: /ping}]}
"""


def config_text(url: str) -> str:
    return lead_flow(url) + ORBIT.replace("{url}", url)


@pytest.fixture
def engine(served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    engine = db.make_engine(f"sqlite:///{tmp_path / 'api.db'}")
    upgrade(engine)
    apply(engine, load_text(config_text(served.url)), T0)
    yield engine
    engine.dispose()


@pytest.fixture
def tokens(engine: Engine) -> dict[str, str]:
    made = {
        name: create_token(engine, role=role, client=client, name=name, now=T0)[1]
        for name, role, client in (
            ("support", "support", None),
            ("tester", "tester", None),
            ("acme", "client", "acme"),
            ("orbit", "client", "orbit"),
        )
    }
    return made


class Client:
    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def call(self, method: str, url: str, as_: str | None = "support", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[as_]}"} if as_ else {}
        return self.client.request(method, url, headers=headers, **kwargs)


@pytest.fixture
def jobs(engine: Engine, tokens: dict[str, str]) -> Iterator[tuple[Client, list[Job]]]:
    queued: list[Job] = []
    app = create_app(engine, Settings(redis_url=None))
    app.dependency_overrides[dispatcher] = lambda: queued.append
    with TestClient(app) as client:
        yield Client(client, tokens), queued


def trigger(
    client: Client, who: str, integration: str = "acme", scenario: str = "lead-flow"
) -> Any:
    return client.call("POST", f"/api/integrations/{integration}/scenarios/{scenario}/runs", who)


def test_support_testers_and_the_owning_client_may_trigger_others_get_404(
    jobs: tuple[Client, list[Job]], engine: Engine
) -> None:
    client, queued = jobs
    for who in ("support", "tester", "acme"):
        answer = trigger(client, who)
        assert answer.status_code == 202, answer.text
        assert answer.json()["status"] == "queued"
    assert [job.trigger for job in queued] == ["api"] * 3
    runs = list_runs(engine)
    assert {run["requested_by"] for run in runs} == {"support", "tester", "acme"}
    assert {run["status"] for run in runs} == {"queued"}

    assert trigger(client, "orbit").status_code == 404  # acme's integration: not found
    assert trigger(client, "support", scenario="nope").status_code == 404
    assert (
        client.call("POST", "/api/integrations/acme/scenarios/lead-flow/runs", None).status_code
        == 401
    )
    assert len(queued) == 3


def test_a_queued_run_is_run_by_the_worker_and_its_report_served(
    jobs: tuple[Client, list[Job]], engine: Engine, served: Served
) -> None:
    client, queued = jobs
    run_id = trigger(client, "acme").json()["run_id"]
    assert client.call("GET", f"/api/e2e/runs/{run_id}/junit").status_code == 409  # not run yet

    report, changed = run_job(Standalone(engine, Settings(redis_url=None)), queued[0].to_payload())
    assert report is not None and report.passed and not changed

    detail = client.call("GET", f"/api/e2e/runs/{run_id}", "acme")
    assert detail.status_code == 200
    body = detail.json()
    assert body["status"] == "passed" and body["outcome"] == "ok" and body["trigger"] == "api"
    assert [s["status"] for s in body["report"]["steps"]] == ["passed"] * 4
    # Links are absolute, from the request's base URL without INTMON_PUBLIC_URL.
    assert body["junit_url"] == f"http://testserver/api/e2e/runs/{run_id}/junit"
    junit = client.call("GET", body["junit_url"], "tester")
    assert junit.status_code == 200 and junit.headers["content-type"].startswith("application/xml")
    SCHEMA.validate(junit.text)
    for text in (detail.text, junit.text):
        assert ENVIRON["ACME_TOKEN"] not in text and ENVIRON["ACME_SIGNING_KEY"] not in text

    assert client.call("GET", f"/api/e2e/runs/{run_id}", "orbit").status_code == 404
    assert client.call("GET", f"/api/e2e/runs/{run_id}/junit", "orbit").status_code == 404
    listed = client.call("GET", "/api/e2e/runs", "orbit").json()
    assert listed == []
    assert [r["run_id"] for r in client.call("GET", "/api/e2e/runs", "acme").json()] == [run_id]
    assert client.call("GET", "/api/e2e/runs?integration=acme", "orbit").json() == []


def test_the_callback_route_answers_404_200_and_410(
    jobs: tuple[Client, list[Job]], engine: Engine
) -> None:
    client, _queued = jobs
    from integrations.config import IntegrationSpec

    spec = IntegrationSpec.model_validate(load_run_spec(engine))
    run_id = new_run_id()
    create_run(engine, run_id, spec, spec.scenarios[0], trigger="cli", now=T0, status="running")
    url = f"/callbacks/{run_id}/accepted"
    answers = [
        client.call("POST", f"/callbacks/{new_run_id()}/accepted", None, json={}),
        client.call("POST", f"/callbacks/{run_id}/other", None, json={}),
        client.call("POST", url, None, json={"lead_id": "L1"}),
        client.call("GET", url, None, params={"lead_id": "L1"}),
    ]
    assert [(a.status_code, a.json()["callback"]) for a in answers] == [
        (404, "unknown"),
        (404, "unknown"),
        (200, "accepted"),
        (200, "duplicate"),
    ]
    from integrations.e2e_store import end_callbacks

    end_callbacks(engine, run_id, T0)
    late = client.call("POST", url, None, json={})
    assert (late.status_code, late.json()["callback"]) == (410, "ended")


def load_run_spec(engine: Engine) -> dict[str, Any]:
    from integrations.registry import load_specs

    return load_specs(engine, ["acme"])["acme"].spec.model_dump(by_alias=True)


@pytest.fixture
def live_api(engine: Engine) -> Iterator[str]:
    """The API served by uvicorn on a free port: partners post their callbacks here."""
    config = uvicorn.Config(
        create_app(engine, Settings(redis_url=None)), host="127.0.0.1", port=0, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_a_run_in_another_process_gets_its_postback_through_the_api_and_the_database(
    engine: Engine, live_api: str, served: Served
) -> None:
    """The worker's run waits on the database inbox; the partner posts to the API."""
    settings = Settings(redis_url=None, e2e_callback_url=live_api)
    job = Job("acme", "lead-flow", "api", run_id=new_run_id())
    from integrations.registry import load_specs

    spec = load_specs(engine, ["acme"])["acme"].spec
    create_run(engine, str(job.run_id), spec, spec.scenarios[0], trigger="api", now=T0)

    report, _changed = run_job(Standalone(engine, settings), job.to_payload())

    assert report is not None and report.passed, report and report.detail
    url = served.partner.postbacks[0][0]
    assert url == f"{live_api}/callbacks/{job.run_id}/accepted"
    stored = load_run(engine, str(job.run_id))
    assert stored["status"] == "passed" and stored["finished_at"] is not None


def test_without_a_queue_the_api_runs_the_scenario_itself(
    engine: Engine, tokens: dict[str, str], served: Served
) -> None:
    with TestClient(create_app(engine, Settings(redis_url=None))) as raw:
        client = Client(raw, tokens)
        run_id = trigger(client, "tester").json()["run_id"]
        deadline = time.monotonic() + 20
        status = "queued"
        while status in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.1)
            status = client.call("GET", f"/api/e2e/runs/{run_id}").json()["status"]
    assert status == "passed"
    assert served.partner.deleted  # its cleanup ran too


# --- limits (issue 22): the limit per client, the bound without Redis, the queue with it ---


def test_the_eleventh_trigger_in_a_minute_is_refused_per_client(
    engine: Engine, tokens: dict[str, str]
) -> None:
    queued: list[Job] = []
    app = create_app(engine, Settings(redis_url=None))
    app.dependency_overrides[dispatcher] = lambda: queued.append
    now = [T0.timestamp()]
    app.state.throttle.clock = lambda: now[0]  # the test's clock: it moves, nobody sleeps
    with TestClient(app) as test_client:
        client = Client(test_client, tokens)
        assert [trigger(client, "acme").status_code for _ in range(10)] == [202] * 10
        refused = trigger(client, "acme")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "6"
        assert "INTMON_LIMIT_E2E_RUNS=10/min" in refused.json()["detail"]
        assert trigger(client, "orbit", "orbit", "ping-flow").status_code == 202  # another client
        now[0] += 6
        assert [trigger(client, "acme").status_code for _ in range(2)] == [202, 429]
    assert len(queued) == 12


def test_without_redis_at_most_n_runs_run_at_once_in_the_api_process(
    engine: Engine, tokens: dict[str, str]
) -> None:
    gate = threading.Event()
    ran: list[str] = []

    def run(job: Job) -> None:
        gate.wait(30)
        ran.append(job.scenario)

    app = create_app(engine, Settings(redis_url=None, e2e_api_concurrency=2))
    app.state.e2e_runs = runs = LocalRuns(2, run)
    with TestClient(app) as test_client:
        client = Client(test_client, tokens)
        # A request refused after taking a slot (no such scenario) gives it back.
        assert trigger(client, "acme", scenario="nope").status_code == 404
        assert [trigger(client, "acme").status_code for _ in range(2)] == [202, 202]
        sample = ("intmon_api_requests_limited_total", {"action": "e2e_concurrency"})
        before = REGISTRY.get_sample_value(*sample) or 0
        busy = trigger(client, "orbit", "orbit", "ping-flow")
        assert REGISTRY.get_sample_value(*sample) == before + 1
        assert busy.status_code == 429 and busy.headers["Retry-After"] == "30"
        assert "INTMON_E2E_API_CONCURRENCY=2" in busy.json()["detail"]
        gate.set()
        runs.join(timeout=30)
        assert ran == ["lead-flow", "lead-flow"]
        assert trigger(client, "orbit", "orbit", "ping-flow").status_code == 202
        runs.join(timeout=30)
    assert ran[-1] == "ping-flow"


def test_without_redis_the_bound_comes_from_the_settings(engine: Engine) -> None:
    runs = create_app(engine, Settings(redis_url=None, e2e_api_concurrency=3)).state.e2e_runs
    assert isinstance(runs, LocalRuns) and runs.size == 3


@pytest.mark.redis
def test_with_redis_a_triggered_run_is_queued_for_the_workers_and_its_status_readable(
    engine: Engine, tokens: dict[str, str], redis_client: redis.Redis, namespace: str
) -> None:
    settings = Settings(redis_url=REDIS_URL, namespace=namespace)
    with TestClient(create_app(engine, settings)) as test_client:
        client = Client(test_client, tokens)
        run_id = trigger(client, "acme").json()["run_id"]
        # On the API's own namespace, not on whatever broker the process has.
        assert redis_client.llen(f"{namespace}-dramatiq:{E2E_QUEUE}") == 1
        assert client.call("GET", f"/api/e2e/runs/{run_id}", "acme").json()["status"] == "queued"

        # A worker of that deployment takes it (what the `run_e2e` actor does).
        worker_broker = build_broker(settings)
        consumer = worker_broker.consume(E2E_QUEUE, timeout=100)
        message = next(m for m in consumer if m is not None)
        assert message.actor_name == E2E_ACTOR
        report, _changed = run_job(Standalone(engine, Settings(redis_url=None)), message.args[0])
        consumer.ack(message)
        consumer.close()
        assert report is not None and report.passed

        detail = client.call("GET", f"/api/e2e/runs/{run_id}", "acme").json()
        assert detail["status"] == "passed" and detail["trigger"] == "api"


# --- the contract a test team codes against (issue 26): variables, ?wait=, links ---------


def test_a_trigger_answers_absolute_links_from_the_public_url_and_a_location(
    engine: Engine, tokens: dict[str, str]
) -> None:
    queued: list[Job] = []
    app = create_app(engine, Settings(redis_url=None, public_url="https://intmon.example/ops/"))
    app.dependency_overrides[dispatcher] = lambda: queued.append
    with TestClient(app) as test_client:
        answer = trigger(Client(test_client, tokens), "tester")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    run_id = body["run_id"]
    assert len(run_id) == 32 and int(run_id, 16) >= 0  # 32 hex characters
    assert body["url"] == f"https://intmon.example/ops/api/e2e/runs/{run_id}"
    assert body["junit_url"] == body["url"] + "/junit"
    assert answer.headers["location"] == body["url"]


def test_variables_in_the_trigger_reach_the_scenario_as_literal_text(
    jobs: tuple[Client, list[Job]], engine: Engine, served: Served
) -> None:
    client, queued = jobs
    given = {"email": "qa+{{ run_id }}@example.com"}  # text, never rendered as a template
    url = "/api/integrations/acme/scenarios/lead-flow/runs"
    answer = client.call("POST", url, "tester", json={"variables": given})
    assert answer.status_code == 202, answer.text
    assert queued[0].variables == given
    # Through the queue's payload (what Redis carries) to the runner.
    report, _changed = run_job(Standalone(engine, Settings(redis_url=None)), queued[0].to_payload())
    assert report is not None and report.passed, report and report.detail
    assert [lead["email"] for lead in served.partner.leads.values()] == [given["email"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"variables": {"emial": "x"}}, "variables.emial"),  # not declared by the scenario
        ({"variables": {"run_id": "x"}}, "variables.run_id"),  # a built-in
        ({"variables": {"1st": "x"}}, "variables.1st"),  # not a variable name
        ({"variables": {"email": "x" * 4097}}, "variables.email"),
        ({"variables": {"email": 5}}, "variables.email"),  # strings only
        ({"variables": {f"v{i}": "x" for i in range(65)}}, "variables"),
        ({"variables": ["email"]}, "variables"),
    ],
)
def test_bad_variables_are_a_422_problem_naming_the_field(
    jobs: tuple[Client, list[Job]], body: dict[str, Any], field: str
) -> None:
    client, queued = jobs
    answer = client.call(
        "POST", "/api/integrations/acme/scenarios/lead-flow/runs", "tester", json=body
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["field"] == field
    assert queued == []


def test_wait_returns_as_soon_as_the_run_ends(
    engine: Engine, tokens: dict[str, str], served: Served
) -> None:
    with TestClient(create_app(engine, Settings(redis_url=None))) as raw:
        client = Client(raw, tokens)
        run_id = trigger(client, "tester").json()["run_id"]
        started = time.monotonic()
        answer = client.call("GET", f"/api/e2e/runs/{run_id}?wait=60", "tester")
        took = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "passed"
    assert answer.json()["report"]["counts"]["passed"] == 4
    assert took < 30  # it did not sit out the 60 s


def test_wait_on_a_run_that_does_not_end_answers_when_the_wait_is_over(
    jobs: tuple[Client, list[Job]],
) -> None:
    client, _queued = jobs
    run_id = trigger(client, "acme").json()["run_id"]  # queued; nobody runs it
    started = time.monotonic()
    answer = client.call("GET", f"/api/e2e/runs/{run_id}?wait=1", "acme")
    assert 1 <= time.monotonic() - started < 10
    assert answer.status_code == 200 and answer.json()["status"] == "queued"
    assert answer.json()["report"] is None


@pytest.mark.parametrize("wait", ["61", "-1", "soon", "1.5"])
def test_a_wait_out_of_bounds_is_a_422_problem(jobs: tuple[Client, list[Job]], wait: str) -> None:
    client, _queued = jobs
    run_id = trigger(client, "acme").json()["run_id"]
    answer = client.call("GET", f"/api/e2e/runs/{run_id}", "acme", params={"wait": wait})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["field"] == "wait"
