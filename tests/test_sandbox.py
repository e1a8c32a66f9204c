"""The demo's sandbox partner and the integrations file that points at it."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from checks.engine import ProbeEngine, ProbeSettings
from core.egress import EgressPolicy
from core.vocabulary.outcomes import Outcome
from intmon.demo.config import (
    BROKER_TOKEN_ENV,
    EGRESS_ALLOW,
    OAUTH_SECRET_ENV,
    POSTBACK_SECRET_ENV,
    PUSHED,
    SHOWCASE,
    DemoConfig,
    demo_config,
)
from intmon.demo.sandbox import PHASES, RETRY_AFTER_S, SLOW_DELAY_S, Phase, Sandbox

TOKEN = "test-broker-token-5f1c"
CLIENT_ID = "orbit-test"
CLIENT_SECRET = "test-oauth-secret-9a2e"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def sandbox(clock: FakeClock) -> Iterator[Sandbox]:
    with Sandbox(
        clock=clock, token=TOKEN, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    ) as running:
        yield running


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.http_url, timeout=5.0) as http:
        yield http
    sandbox.set_phase(None)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def get_token(client: httpx.Client) -> str:
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


# --- the phase clock -------------------------------------------------------------


def test_phases_follow_the_clock_and_cycle() -> None:
    clock = FakeClock()
    sandbox = Sandbox(phase_seconds=6.0, clock=clock)
    start = clock.now
    expected = [
        "healthy",
        "expired_token",
        "slow",
        "outage",
        "changed_contract",
        "healthy",
        "expired_token",
    ]
    for index, name in enumerate(expected):
        clock.now = start + index * 6.0 + 0.5
        assert sandbox.current_phase() == name
    clock.now = start + 5.99
    assert sandbox.current_phase() == "healthy"
    assert sandbox.cycle_seconds == 30.0
    assert [str(phase) for phase in PHASES] == expected[:5]


def test_set_phase_pins_and_unpins() -> None:
    clock = FakeClock()
    sandbox = Sandbox(clock=clock)
    sandbox.set_phase("outage")
    clock.now += 1000.0
    assert sandbox.current_phase() == Phase.OUTAGE
    sandbox.set_phase(None)
    assert sandbox.current_phase() in PHASES
    with pytest.raises(ValueError, match="unknown phase"):
        sandbox.set_phase("exploded")


def test_ports_are_known_only_while_running() -> None:
    sandbox = Sandbox()
    assert not sandbox.running
    with pytest.raises(RuntimeError, match="not running"):
        _ = sandbox.http_port
    sandbox.stop()  # stopping what never started is harmless


# --- endpoints by phase ------------------------------------------------------------


def test_healthy_phase(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.set_phase("healthy")
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "version": "2.3"}

    leads = client.get("/leads", params={"limit": 1}, headers=bearer(TOKEN))
    assert leads.status_code == 200
    body = leads.json()
    assert len(body["items"]) == 1
    assert body["total"] >= 1
    assert len(client.get("/leads", headers=bearer(TOKEN)).json()["items"]) == body["total"]


def test_leads_need_the_right_token(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.set_phase("healthy")
    for headers in ({}, bearer("wrong"), {"Authorization": f"Basic {TOKEN}"}):
        response = client.get("/leads", params={"limit": 1}, headers=headers)
        assert response.status_code == 401
        assert response.json() == {"error": "unauthorized"}


def test_expired_token_phase(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.set_phase("expired_token")
    health = client.get("/health")
    assert health.status_code == 200  # brokers do this
    assert health.json() == {"error": "invalid token", "code": "AUTH_EXPIRED"}

    leads = client.get("/leads", params={"limit": 1}, headers=bearer(TOKEN))
    assert leads.status_code == 401

    token = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET)
    )
    assert token.status_code == 401
    assert token.json() == {"error": "invalid_client"}


def test_slow_phase(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.set_phase("slow")
    started = time.monotonic()
    health = client.get("/health")
    elapsed = time.monotonic() - started
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "version": "2.3"}
    assert SLOW_DELAY_S <= elapsed < SLOW_DELAY_S + 1.0


def test_outage_phase(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.set_phase("healthy")
    token = get_token(client)
    sandbox.set_phase("outage")
    health = client.get("/health")
    assert health.status_code == 503
    assert health.json() == {"error": "maintenance overload"}
    assert client.get("/leads", params={"limit": 1}, headers=bearer(TOKEN)).status_code == 500
    assert client.get("/orders", headers=bearer(token)).status_code == 500


def test_changed_contract_phase(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.set_phase("changed_contract")
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"state": "up"}

    leads = client.get("/leads", params={"limit": 1}, headers=bearer(TOKEN))
    assert leads.status_code == 200
    assert "items" not in leads.json()
    assert len(leads.json()["data"]) == 1


# --- the other endpoints -------------------------------------------------------------


def test_quota_alternates_with_retry_after(client: httpx.Client) -> None:
    responses = [client.get("/quota") for _ in range(4)]
    statuses = [response.status_code for response in responses]
    assert sorted(statuses) == [200, 200, 429, 429]
    assert statuses[0] != statuses[1] and statuses[0] == statuses[2]
    for response in responses:
        if response.status_code == 429:
            assert response.headers["Retry-After"] == str(RETRY_AFTER_S) == "5"
        else:
            assert response.json() == {"remaining": 10}
            assert "Retry-After" not in response.headers


def test_oauth_client_credentials_flow(
    sandbox: Sandbox, client: httpx.Client, clock: FakeClock
) -> None:
    sandbox.set_phase("healthy")
    response = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 60
    token = body["access_token"]
    assert token and token not in (TOKEN, CLIENT_SECRET)

    orders = client.get("/orders", headers=bearer(token))
    assert orders.status_code == 200
    assert orders.json()["orders"]

    # Credentials in the form body (client_auth: body) work too.
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID}
    assert client.post("/oauth/token", data={**form, "client_secret": CLIENT_SECRET}).is_success

    # Only tokens the sandbox issued, and only while they last.
    assert client.get("/orders", headers=bearer(TOKEN)).status_code == 401
    assert client.get("/orders").status_code == 401
    clock.now += 61
    assert client.get("/orders", headers=bearer(token)).status_code == 401


def test_oauth_rejects_bad_clients(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.set_phase("healthy")
    grant = {"grant_type": "client_credentials"}
    wrong = client.post("/oauth/token", data=grant, auth=(CLIENT_ID, "nope"))
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "invalid_client"}
    assert client.post("/oauth/token", data=grant).status_code == 401
    no_grant = client.post("/oauth/token", auth=(CLIENT_ID, CLIENT_SECRET))
    assert no_grant.status_code == 400
    assert no_grant.json() == {"error": "unsupported_grant_type"}


def test_missing_and_unknown_paths_answer_json_404(client: httpx.Client) -> None:
    for path in ("/missing", "/no-such-thing"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.headers["Content-Type"].startswith("application/json")
        assert "error" in response.json()


def test_stall_never_answers(client: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        client.get("/stall", timeout=0.3)


def test_hits_are_counted_per_path(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.set_phase("healthy")
    before = dict(sandbox.hits)
    for _ in range(3):
        client.get("/health")
    client.get("/missing")
    assert sandbox.hits["/health"] == before.get("/health", 0) + 3
    assert sandbox.hits["/missing"] == before.get("/missing", 0) + 1


def test_https_uses_an_untrusted_certificate(sandbox: Sandbox) -> None:
    with (
        httpx.Client(timeout=5.0) as untrusting,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        untrusting.get(f"{sandbox.https_url}/health")

    context = ssl.create_default_context()
    sandbox.ca.configure_trust(context)
    with httpx.Client(verify=context, timeout=5.0) as trusting:
        assert trusting.get(f"{sandbox.https_url}/health").status_code == 200


def test_closed_port_refuses_connections(sandbox: Sandbox) -> None:
    with httpx.Client(timeout=5.0) as http, pytest.raises(httpx.ConnectError):
        http.get(sandbox.closed_url)


# --- the demo's integrations file ----------------------------------------------------


def test_demo_config_parses_and_validates(sandbox: Sandbox) -> None:
    from integrations.config import IntegrationsFile  # needs core.vocabulary.assertions

    config = demo_config(sandbox, interval_s=2.0)
    data = yaml.safe_load(config.yaml_text)
    parsed = IntegrationsFile.model_validate(data)
    assert parsed.version == 1
    by_id = {integration.id: integration for integration in parsed.integrations}
    assert set(by_id) == set(SHOWCASE)
    assert by_id["acme-broker"].check("health").expect.max_latency_ms == 1000
    assert by_id["legacy-shop"].base_url == sandbox.closed_url
    assert by_id["secure-partner"].base_url == sandbox.https_url
    assert by_id["ghost-partner"].base_url.endswith(".invalid")
    assert by_id["stuck-partner"].timeout_s == 1.0
    # The slow phase must read as slow, not as a timeout.
    assert by_id["acme-broker"].timeout_s > SLOW_DELAY_S


def test_demo_config_only_references_secrets(sandbox: Sandbox) -> None:
    config = demo_config(sandbox)
    assert isinstance(config, DemoConfig)
    assert config.environ == {
        BROKER_TOKEN_ENV: TOKEN,
        OAUTH_SECRET_ENV: CLIENT_SECRET,
        POSTBACK_SECRET_ENV: CLIENT_SECRET + "-postbacks",
    }
    for value in config.environ.values():
        assert value not in config.yaml_text
        assert value not in repr(config)
    assert "${DEMO_BROKER_TOKEN}" in config.yaml_text
    assert "${DEMO_OAUTH_SECRET}" in config.yaml_text
    assert "${DEMO_POSTBACK_SECRET}" in config.yaml_text


def test_demo_config_structure(sandbox: Sandbox) -> None:
    data = yaml.safe_load(demo_config(sandbox, interval_s=3.0).yaml_text)
    assert data["version"] == 1
    integrations = {item["id"]: item for item in data["integrations"]}
    acme = integrations["acme-broker"]
    assert acme["auth"] == {"type": "bearer", "token": "${DEMO_BROKER_TOKEN}"}
    health = next(check for check in acme["checks"] if check["name"] == "health")
    assert health["expect"]["json"] == ['$.status == "ok"']
    assert health["expect"]["auth_error_patterns"] == ["invalid token"]
    assert integrations["orbit-ads"]["auth"]["token_url"] == f"{sandbox.http_url}/oauth/token"
    assert integrations["catalog-api"]["checks"][0]["expect"]["status"] == [200]
    for item in integrations.values():
        assert item["timeout_s"] <= item["interval_s"]
    for name in ("legacy-shop", "ghost-partner", "stuck-partner", "secure-partner"):
        assert integrations[name]["retries"] == 0
    with pytest.raises(ValueError, match="interval_s"):
        demo_config(sandbox, interval_s=0.5)


def test_showcase_covers_every_outcome() -> None:
    shown = {outcome for outcomes in SHOWCASE.values() for outcome in outcomes}
    assert shown == set(Outcome)


def test_demo_shows_every_outcome_within_one_cycle(sandbox: Sandbox) -> None:
    """Run each demo check once per phase, as the worker's transport would, and classify."""
    from httpx_aiohttp import AiohttpTransport

    from checks.classify import Observation, classify, classify_exception
    from integrations.config import IntegrationsFile

    config = demo_config(sandbox)
    spec = IntegrationsFile.model_validate(yaml.safe_load(config.yaml_text))
    http_ids = {"acme-broker", "orbit-ads", "quota-api"}  # the ones that change over time
    # Their outcomes are the egress policy's, which only the probe engine applies.
    egress_ids = {"moved-partner", "intranet-crm"}

    async def run_check(http: httpx.AsyncClient, integration: Any, check: Any) -> Outcome:
        headers = dict(check.headers)
        auth = integration.auth
        try:
            if auth.type == "bearer":
                variable = auth.token.removeprefix("${").removesuffix("}")
                if variable not in config.environ:  # pulse-crm's, unset on purpose
                    return Outcome.CONFIG_ERROR
                headers["Authorization"] = f"Bearer {config.environ[variable]}"
            elif auth.type == "oauth2_client_credentials":
                secret = config.environ[OAUTH_SECRET_ENV]
                grant = {"grant_type": "client_credentials"}
                issued = await http.post(auth.token_url, data=grant, auth=(auth.client_id, secret))
                if issued.status_code == 401:
                    return Outcome.AUTH_FAILURE
                headers["Authorization"] = f"Bearer {issued.json()['access_token']}"
            started = time.monotonic()
            response = await http.request(
                check.method,
                integration.base_url + check.path,
                params=check.query,
                headers=headers,
                timeout=integration.timeout_s,
            )
            elapsed = time.monotonic() - started
        except httpx.HTTPError as exc:
            return classify_exception(exc)[0]
        observation = Observation(response.status_code, response.headers, response.content, elapsed)
        return classify(observation, check.expect).outcome

    async def run_all() -> set[Outcome]:
        seen: set[Outcome] = set()
        policy = EgressPolicy.parse(EGRESS_ALLOW)
        probes = ProbeEngine(ProbeSettings(egress=policy))
        for integration in spec.integrations:
            if integration.id in egress_ids:
                result = await probes.run_check(integration, integration.checks[0])
                assert result.outcome in SHOWCASE[integration.id], result.detail
                seen.add(result.outcome)
        await probes.aclose()
        async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
            for phase in PHASES:
                sandbox.set_phase(phase)
                for integration in spec.integrations:
                    if integration.id in egress_ids:
                        continue
                    if phase != PHASES[0] and integration.id not in http_ids:
                        continue
                    for check in integration.checks:
                        outcome = await run_check(http, integration, check)
                        assert outcome in SHOWCASE[integration.id], (integration.id, phase)
                        seen.add(outcome)
                if phase == PHASES[0]:  # the quota answers alternate: look twice
                    quota = spec.integrations[[i.id for i in spec.integrations].index("quota-api")]
                    seen.add(await run_check(http, quota, quota.checks[0]))
        return seen

    try:
        # Pushed outcomes (a missed heartbeat) come from the demo's job, not a probe.
        assert asyncio.run(run_all()) == set(Outcome) - PUSHED
    finally:
        sandbox.set_phase(None)


# --- lifecycle ----------------------------------------------------------------------


def test_stop_is_prompt_even_with_a_stalled_request() -> None:
    sandbox = Sandbox()
    sandbox.start()
    url = sandbox.http_url
    with pytest.raises(RuntimeError, match="already running"):
        sandbox.start()

    results: list[object] = []

    def stalled_request() -> None:
        try:
            with httpx.Client(timeout=10.0) as http:
                results.append(http.get(f"{url}/stall").status_code)
        except httpx.HTTPError as exc:
            results.append(exc)

    thread = threading.Thread(target=stalled_request)
    thread.start()
    deadline = time.monotonic() + 5.0
    while sandbox.hits["/stall"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sandbox.hits["/stall"] == 1

    started = time.monotonic()
    sandbox.stop()
    assert time.monotonic() - started < 2.0
    thread.join(timeout=5.0)
    assert not thread.is_alive()
    assert len(results) == 1
    assert not sandbox.running
    sandbox.stop()  # twice is fine

    with httpx.Client(timeout=2.0) as http, pytest.raises(httpx.ConnectError):
        http.get(f"{url}/health")


def test_sandbox_restarts_after_stop() -> None:
    sandbox = Sandbox()
    for _ in range(2):
        with sandbox, httpx.Client(base_url=sandbox.http_url, timeout=5.0) as http:
            assert http.get("/quota").status_code in (200, 429)
