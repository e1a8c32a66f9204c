"""The ingest endpoints over a real socket, on both databases: a job's ping and a
broker's signed postback sent by an HTTP client to uvicorn on 127.0.0.1 (the other
heartbeat and postback tests call the app in-process), stored; hostile input 4xx."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select

from core import db
from core.settings import Settings
from integrations.apply import apply
from integrations.heartbeats.models import Heartbeat
from integrations.heartbeats.store import list_heartbeats
from integrations.loader import load_text
from integrations.postbacks.models import Postback
from integrations.postbacks.signature import signature_of
from intmon.serve import ConsoleServer
from tests.alerts.helpers import T0
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
