"""The silence monitors over a real socket, on both databases (the other heartbeat,
postback and lead-flow tests call the app in-process): a job's ping and a broker's
signed postback sent by an HTTP client to uvicorn on 127.0.0.1, stored, hostile
input answered 4xx; a platform's delivery log posted over HTTP, its drop read back
and judged into an incident."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select

from alerts.lead_flow_watch import forget_slot, watch_lead_flow
from alerts.policy import Policy
from alerts.queries import list_incidents
from core import db
from core.settings import Settings
from integrations.apply import apply
from integrations.heartbeats.models import Heartbeat
from integrations.heartbeats.store import list_heartbeats
from integrations.loader import load_text
from integrations.postbacks.models import Postback
from integrations.postbacks.signature import signature_of
from intmon.api.auth import create_token
from intmon.serve import ConsoleServer
from tests.alerts.helpers import T0
from tests.leads.test_lead_flow import CONFIG as LEAD_FLOW_CONFIG
from tests.leads.test_lead_flow import NOW, WEEK, leads
from tests.postbacks.test_postbacks import CONFIG, SECRET, body, deliver

HEARTBEAT = "    heartbeats: [{name: nightly, period_s: 3600, grace_s: 300}]\n"


@pytest.fixture
def server(db_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConsoleServer]:
    monkeypatch.setenv("BROKER_POSTBACK_SECRET", SECRET)
    monkeypatch.setattr(db, "utcnow", lambda: T0)
    config = CONFIG.replace("  - id: quiet", HEARTBEAT + "  - id: quiet", 1)
    apply(db_engine, load_text(config), T0)
    settings = Settings(redis_url=None, session_secret=SecretStr("s" * 40))
    with ConsoleServer(db_engine, settings) as running:
        yield running


def test_a_ping_and_a_postback_over_a_real_socket(db_engine: Engine, server: ConsoleServer) -> None:
    key = list_heartbeats(db_engine)[0].ping_key
    deliver(db_engine, 1, T0)
    raw = body("E-1", "B-1")
    signed = {"Content-Type": "application/json", "X-Intmon-Signature": signature_of(SECRET, raw)}
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.post(f"/ping/{key}", content=b"exported 120 rows").status_code == 200
        stored = client.post("/postbacks/broker", content=raw, headers=signed)
        again = client.post("/postbacks/broker", content=raw, headers=signed)
        assert (stored.status_code, again.status_code) == (201, 200)
        assert again.json()["duplicate"] is True
        # Hostile input: 4xx naming what is wrong, never a 5xx.
        assert client.get("/ping/not-a-key").status_code == 404
        assert client.post("/postbacks/broker", content=b"{", headers=signed).status_code == 422
        forged = {**signed, "X-Intmon-Signature": signature_of("guess", raw)}
        assert client.post("/postbacks/broker", content=raw, headers=forged).status_code == 404
    with db_engine.connect() as connection:
        beat = connection.execute(select(Heartbeat.__table__)).one()
        postbacks = connection.execute(select(Postback.__table__)).all()
    assert (beat.state, beat.last_ping_at, beat.last_body) == ("up", T0, "exported 120 rows")
    assert len(postbacks) == 1 and postbacks[0].lead_id is not None


def test_a_lead_flow_drop_reported_and_read_over_a_real_socket(
    db_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "utcnow", lambda: NOW)
    apply(db_engine, load_text(LEAD_FLOW_CONFIG), NOW - 5 * WEEK)
    token = create_token(db_engine, role="support", now=NOW - WEEK)[1]
    attempts = [
        attempt
        for week in range(1, 5)  # four ordinary weeks around this hour: 95 % accepted
        for hour in range(-2, 4)
        for attempt in leads(NOW - week * WEEK + timedelta(hours=hour), 19, 1, tag=f"w{week}{hour}")
    ]
    attempts += leads(NOW, 9, 11, tag="now")  # this hour: 45 %
    settings = Settings(redis_url=None, session_secret=SecretStr("s" * 40))
    auth = {"Authorization": f"Bearer {token}"}
    with (
        ConsoleServer(db_engine, settings) as server,
        httpx.Client(base_url=server.url, headers=auth, timeout=30) as client,
    ):
        sent = [attempt.model_dump(mode="json") for attempt in attempts]
        assert client.post("/api/lead-deliveries", json={"attempts": sent}).status_code == 201
        [flow] = client.get("/api/leads/flow", params={"integration": "bx"}).json()
        refused = client.post("/api/lead-deliveries", json={"attempts": [{"lead_id": "x"}]})
    assert flow["state"] == "anomaly", flow
    assert refused.status_code == 422
    forget_slot()
    [verdict] = watch_lead_flow(db_engine, Policy(), NOW + timedelta(seconds=30))
    assert verdict.anomalous
    [incident] = list_incidents(db_engine)
    assert (incident.integration_id, incident.last_outcome) == ("bx", "lead_flow_anomaly")
