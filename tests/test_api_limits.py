"""Limits on the work a request triggers (issue 22, item 5): the reproduction,
30 runs of checks now with one client token, as regression tests.

Every test runs on the in-process limiter and on the Redis one (real Redis on
127.0.0.1, a namespace per test). The clock is the test's: it moves, nobody sleeps.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi import HTTPException
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import Engine

from core import db
from core.limits import Limiter
from core.limits.memory import MemoryLimiter
from core.limits.redis import RedisLimiter
from core.settings import Settings
from integrations.apply import apply
from integrations.loader import load_text
from intmon.api.auth import Principal, create_token
from intmon.api.throttle import Throttle
from intmon.app import create_app
from intmon.migrations import upgrade
from tests.alerts.helpers import T0
from tests.test_api_ops import PARTNER_SECRET, EchoPartner, config


class Clock:
    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> Limiter:
    if request.param == "memory":
        return MemoryLimiter()
    return RedisLimiter(
        request.getfixturevalue("redis_client"), request.getfixturevalue("namespace")
    )


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("PARTNER_TOKEN", PARTNER_SECRET)
    partner = EchoPartner()
    engine = db.make_engine(f"sqlite:///{tmp_path / 'limits.db'}")
    upgrade(engine)
    apply(engine, load_text(config(partner.url)), T0)
    yield engine
    engine.dispose()
    partner.close()


TOKENS = [  # name, role, client
    ("acme-ci", "client", "acme"),
    ("acme-desk", "client", "acme"),
    ("orbit", "client", "orbit"),
    ("support", "support", None),
    ("tester-1", "tester", None),
    ("tester-2", "tester", None),
]


class Api:
    def __init__(self, engine: Engine, limiter: Limiter, **settings: Any) -> None:
        self.settings = Settings(redis_url=None, **settings)
        self.app = create_app(engine, self.settings)
        self.clock = Clock()
        # Only the buckets are swapped in (memory or Redis); the app is the embedded one.
        self.app.state.throttle = Throttle(limiter, self.settings, self.clock)
        self.client = TestClient(self.app)
        self.tokens = {
            name: create_token(engine, role=role, client=client, name=name, now=T0)[1]
            for name, role, client in TOKENS
        }

    def post(self, url: str, who: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return self.client.post(url, headers=headers, **kwargs)

    def run(self, who: str, integration: str = "a") -> Any:
        return self.post(f"/api/integrations/{integration}/checks/run?check=health", who)


def statuses(api: Api, who: str, times: int, integration: str = "a") -> list[int]:
    return [api.run(who, integration).status_code for _ in range(times)]


def refusals(action: str) -> float:
    return REGISTRY.get_sample_value("intmon_api_requests_limited_total", {"action": action}) or 0


def test_the_eleventh_run_now_in_a_minute_is_refused_and_a_clients_tokens_share_the_budget(
    engine: Engine, limiter: Limiter
) -> None:
    api = Api(engine, limiter)
    refused_before = refusals("checks_run")
    assert statuses(api, "acme-ci", 5) + statuses(api, "acme-desk", 5) == [200] * 10

    refused = api.run("acme-ci")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "6"
    detail = refused.json()["detail"]
    assert "INTMON_LIMIT_CHECKS_RUN=10/min" in detail and "client acme" in detail
    assert api.tokens["acme-ci"] not in refused.text
    assert api.run("acme-desk").status_code == 429  # the second token: the same budget
    assert refusals("checks_run") == refused_before + 2

    assert statuses(api, "orbit", 3, integration="o") == [200] * 3  # another client
    api.clock.now += 5
    assert api.run("acme-ci").headers["Retry-After"] == "1"
    api.clock.now += 1  # one interval after the refusal: one more run fits
    assert statuses(api, "acme-desk", 2) == [200, 429]
    api.clock.now += 60  # a whole minute: the bucket is full again
    assert statuses(api, "acme-ci", 1) == [200]


def test_support_gets_the_factor_and_testers_pay_per_token(
    engine: Engine, limiter: Limiter
) -> None:
    api = Api(engine, limiter, limit_checks_run="2/min", limit_support_factor=3)
    assert statuses(api, "support", 7) == [200] * 6 + [429]
    refused = api.run("support")
    assert "x3 for support" in refused.json()["detail"] and refused.headers["Retry-After"] == "10"
    assert statuses(api, "tester-1", 3) == [200, 200, 429]
    assert statuses(api, "tester-2", 2) == [200, 200]  # a token of its own, a budget of its own
    assert "this tester token" in api.run("tester-1").json()["detail"]


def test_lead_batches_are_limited_and_refused_batches_count(
    engine: Engine, limiter: Limiter
) -> None:
    api = Api(engine, limiter, limit_leads="2/min", limit_lead_deliveries="1/min")
    # Empty batches are refused (422) after they are counted: probing costs budget too.
    answers = [api.post("/api/leads", "acme-ci", json={"leads": []}) for _ in range(3)]
    assert [a.status_code for a in answers] == [422, 422, 429]
    assert "INTMON_LIMIT_LEADS=2/min" in answers[2].json()["detail"]
    assert answers[2].headers["Retry-After"] == "30"
    deliveries = [api.post("/api/lead-deliveries", "acme-desk", json={"attempts": []})] * 1
    deliveries.append(api.post("/api/lead-deliveries", "acme-ci", json={"attempts": []}))
    assert [a.status_code for a in deliveries] == [422, 429]
    assert api.post("/api/leads", "orbit", json={"leads": []}).status_code == 422


def test_a_limit_set_off_never_refuses() -> None:
    throttle = Throttle(MemoryLimiter(), Settings(redis_url=None, limit_leads="off"), Clock())
    for _ in range(1000):
        throttle.charge("leads", Principal("client", "acme"), "imt_token")
    with pytest.raises(HTTPException) as refused:
        for _ in range(11):
            throttle.charge("checks_run", Principal("client", "acme"), "imt_token")
    assert refused.value.status_code == 429


def test_without_redis_the_app_counts_in_process_and_with_it_in_redis(engine: Engine) -> None:
    from intmon.api.throttle import limiter_for

    assert isinstance(limiter_for(Settings(redis_url=None)), MemoryLimiter)
    assert isinstance(limiter_for(Settings(redis_url="redis://127.0.0.1:6379/0")), RedisLimiter)
    app = create_app(engine, Settings(redis_url=None))
    assert isinstance(app.state.throttle.limiter, MemoryLimiter)


def test_with_redis_not_answering_the_limited_routes_answer_503(engine: Engine) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    api = Api(engine, RedisLimiter(down, "intmon-test-down"))
    answer = api.run("acme-ci")
    assert answer.status_code == 503
    assert answer.json()["detail"] == (
        "cannot check the limit on running checks now: Redis did not answer"
    )
