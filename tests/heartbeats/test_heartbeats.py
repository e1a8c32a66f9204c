"""Heartbeats end to end over real HTTP on both databases: pings stored, misses open
incidents with tickets, a ping resolves them, maintenance holds them back.

The API's clock (`core.db.utcnow`) and the detector's `now` are moved by the
tests, never slept on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from alerts.heartbeat_watch import watch_heartbeats
from alerts.policy import Policy
from alerts.queries import list_incidents
from core import db
from core.settings import Settings
from integrations.apply import apply
from integrations.heartbeats.store import list_heartbeats, rotate_key
from integrations.loader import load_text
from integrations.maintenance import add_window
from integrations.results import history
from integrations.specs.heartbeats import next_due
from intmon.app import create_app
from tests.alerts.helpers import T0

CONFIG = """version: 1
integrations:
  - id: exporter
    name: Exporter
    kind: broker
    client: acme
    base_url: http://127.0.0.1:9
    checks: [{name: health, path: /health}]
    heartbeats:
      - {name: nightly, period_s: 3600, grace_s: 300}
      - {name: hourly, schedule: "5 * * * *", timezone: Europe/Warsaw, grace_s: 60}
"""
POLICY = Policy()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> Any:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(db, "utcnow", clock)
    return clock


@pytest.fixture
def engine(db_engine: Engine) -> Engine:
    apply(db_engine, load_text(CONFIG), T0)
    return db_engine


@pytest.fixture
def client(engine: Engine, clock: Clock) -> Iterator[TestClient]:
    settings = Settings(redis_url=None, limit_pings="1000/min")
    with TestClient(create_app(engine, settings)) as client:
        yield client


def key_of(engine: Engine, name: str = "nightly") -> str:
    return next(v.ping_key for v in list_heartbeats(engine) if v.name == name)


def beat(engine: Engine, name: str = "nightly") -> Any:
    return next(v for v in list_heartbeats(engine) if v.name == name)


def test_a_ping_is_stored_and_sets_the_next_due_time(
    engine: Engine, client: TestClient, clock: Clock
) -> None:
    assert beat(engine).state == "new" and beat(engine).next_due_at is None
    answer = client.get(f"/ping/{key_of(engine)}")
    assert (answer.status_code, answer.text) == (200, "OK")
    stored = beat(engine)
    assert (stored.state, stored.last_ping_at) == ("up", T0)
    assert stored.next_due_at == T0 + timedelta(hours=1)
    # The first ping is an `ok` result of the check `heartbeat:nightly`.
    rows = history(engine, "exporter", "heartbeat:nightly")
    assert [r["outcome"] for r in rows] == ["ok"]
    # The next ping of a heartbeat that is up (PostgreSQL's one-statement path):
    # the due time moves, the body is kept, and no result is needed.
    clock.now = T0 + timedelta(minutes=50)
    key = key_of(engine)
    assert client.post(f"/ping/{key}", content=f"done, see /ping/{key}").status_code == 200
    stored = beat(engine)
    assert (stored.state, stored.last_ping_at) == ("up", clock.now)
    assert stored.next_due_at == clock.now + timedelta(hours=1)
    assert stored.last_body == "done, see /ping/[REDACTED]"
    assert len(history(engine, "exporter", "heartbeat:nightly")) == 1
    watch_heartbeats(engine, POLICY, T0 + timedelta(hours=1, minutes=10))  # not late yet
    assert list_incidents(engine) == []


def test_start_and_fail_with_a_body(engine: Engine, client: TestClient, clock: Clock) -> None:
    key = key_of(engine)
    assert client.post(f"/ping/{key}/start").status_code == 200
    clock.now = T0 + timedelta(seconds=42)
    log = f"export failed: disk full\ncurl https://intmon.example/ping/{key}/fail\n" + "x" * 20_000
    assert client.post(f"/ping/{key}/fail", content=log).status_code == 200
    stored = beat(engine)
    assert (stored.state, stored.last_start_at, stored.last_fail_at) == ("failed", T0, clock.now)
    assert stored.last_body.startswith("export failed: disk full")
    assert key not in stored.last_body and "[REDACTED]" in stored.last_body
    assert len(stored.last_body) <= 1000
    [failed] = history(engine, "exporter", "heartbeat:nightly")
    assert failed["outcome"] == "missed_heartbeat"
    assert failed["detail"].startswith("the job reported a failure (/fail): export failed")
    assert failed["duration_s"] == 42.0
    # A failure opens the heartbeat incident at once (the grace is its tolerance).
    [incident] = list_incidents(engine)
    assert (incident.family, incident.state) == ("heartbeat", "open")


@pytest.mark.parametrize("path", ["/ping/{k}", "/ping/{k}/start", "/ping/{k}/fail"])
def test_unknown_or_malformed_key_is_404_problem(client: TestClient, path: str) -> None:
    for key in ("A" * 24, "short", "bad%20key", "x" * 70):
        answer = client.post(path.format(k=key))
        assert answer.status_code == 404, (key, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"] == "no heartbeat has this ping key"


def test_rotated_key_answers_404_and_the_new_one_works(engine: Engine, client: TestClient) -> None:
    old = key_of(engine)
    new = rotate_key(engine, "exporter", "nightly")
    assert new != old and len(new) >= 22
    assert client.get(f"/ping/{old}").status_code == 404
    assert client.get(f"/ping/{new}").status_code == 200


def test_a_key_pinging_too_often_gets_429(engine: Engine, clock: Clock) -> None:
    settings = Settings(redis_url=None, limit_pings="3/min")
    with TestClient(create_app(engine, settings)) as client:
        key = key_of(engine)
        codes = [client.get(f"/ping/{key}").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = client.get(f"/ping/{key}")
        assert refused.headers["content-type"] == "application/problem+json"
        assert "INTMON_LIMIT_PINGS" in refused.json()["detail"]
        # Another heartbeat's key has its own bucket.
        assert client.get(f"/ping/{key_of(engine, 'hourly')}").status_code == 200


def test_missed_heartbeat_opens_an_incident_with_a_ticket_and_a_ping_resolves_it(
    engine: Engine, client: TestClient, clock: Clock
) -> None:
    key = key_of(engine)
    assert client.get(f"/ping/{key}").status_code == 200
    due = T0 + timedelta(hours=1)
    # Not yet: due passed, but the grace has not.
    assert not watch_heartbeats(engine, POLICY, due + timedelta(seconds=299))
    assert list_incidents(engine) == []
    done = watch_heartbeats(engine, POLICY, due + timedelta(seconds=301))
    assert done.opened and done.tickets_opened
    [incident] = list_incidents(engine)
    assert (incident.family, incident.state, incident.last_outcome) == (
        "heartbeat",
        "open",
        "missed_heartbeat",
    )
    assert incident.ticket
    assert beat(engine).state == "missed"
    # The same period is not reported again by the next pass...
    assert not watch_heartbeats(engine, POLICY, due + timedelta(seconds=330))
    assert len(history(engine, "exporter", "heartbeat:nightly")) == 2  # ok, missed
    # ...the next missed period is.
    watch_heartbeats(engine, POLICY, due + timedelta(hours=1, seconds=301))
    outcomes = [r["outcome"] for r in history(engine, "exporter", "heartbeat:nightly")]
    assert outcomes == ["missed_heartbeat", "missed_heartbeat", "ok"]
    clock.now = due + timedelta(hours=1, seconds=400)
    assert client.get(f"/ping/{key}").status_code == 200
    [incident] = list_incidents(engine)
    assert incident.state == "resolved"
    assert beat(engine).state == "up"


def test_a_long_silence_is_reported_once_per_period_up_to_a_cap(
    engine: Engine, client: TestClient
) -> None:
    assert client.get(f"/ping/{key_of(engine)}").status_code == 200
    watch_heartbeats(engine, POLICY, T0 + timedelta(hours=24))
    rows = history(engine, "exporter", "heartbeat:nightly")
    missed = [r for r in rows if r["outcome"] == "missed_heartbeat"]
    assert len(missed) == 5
    assert "18 more periods missed" in missed[0]["detail"]
    assert beat(engine).next_due_at == T0 + timedelta(hours=24)


def test_maintenance_window_holds_back_the_incident(
    engine: Engine, client: TestClient, clock: Clock
) -> None:
    assert client.get(f"/ping/{key_of(engine)}").status_code == 200
    window = {
        "starts_at": (T0 + timedelta(minutes=30)).isoformat(),
        "ends_at": (T0 + timedelta(hours=2)).isoformat(),
        "reason": "export server moves",
    }
    add_window(engine, "exporter", window, T0)
    watch_heartbeats(engine, POLICY, T0 + timedelta(hours=1, minutes=6))
    assert list_incidents(engine) == []
    [missed, _] = history(engine, "exporter", "heartbeat:nightly")
    assert (missed["outcome"], missed["maintenance"]) == ("missed_heartbeat", True)


def test_cron_schedule_is_due_at_the_next_firing_in_its_zone(
    engine: Engine, client: TestClient, clock: Clock
) -> None:
    clock.now = T0  # 12:00 UTC = 13:00 in Warsaw: next firing 13:05 local, 12:05 UTC
    assert client.get(f"/ping/{key_of(engine, 'hourly')}").status_code == 200
    assert beat(engine, "hourly").next_due_at == T0 + timedelta(minutes=5)
    assert next_due(T0, period_s=None, schedule="0 2 * * *", timezone="Europe/Warsaw") == (
        T0.replace(day=24, hour=1)
    )


def test_two_hundred_concurrent_pings_are_all_stored(engine: Engine, clock: Clock) -> None:
    """Real HTTP through uvicorn-like concurrency: the ASGI app under httpx's ASGI
    transport, 200 pings at once across both keys; every one answered 200 and stored."""
    settings = Settings(redis_url=None, limit_pings="off")
    app = create_app(engine, settings)
    keys = [key_of(engine), key_of(engine, "hourly")]

    async def storm() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intmon") as http:
            answers = await asyncio.gather(
                *(http.post(f"/ping/{keys[i % 2]}/start", content=f"run {i}") for i in range(200))
            )
        return [answer.status_code for answer in answers]

    assert asyncio.run(storm()) == [200] * 200
    starts = {view.name: view.last_start_at for view in list_heartbeats(engine)}
    assert starts == {"nightly": T0, "hourly": T0}
    assert beat(engine).last_body.startswith("run ")


def test_concurrent_pings_are_charged_as_a_batch_in_redis(
    engine: Engine, clock: Clock, namespace: str
) -> None:
    """With Redis the whole batch is charged in one step: of 30 pings of one key at
    once under a 10/min limit exactly 10 are stored, 20 get 429; another key's ping
    in the same storm is stored; the buckets are in Redis, shared by processes."""
    import redis

    from tests.conftest import REDIS_URL

    settings = Settings(redis_url=REDIS_URL, namespace=namespace, limit_pings="10/min")
    app = create_app(engine, settings)
    busy, quiet = key_of(engine), key_of(engine, "hourly")

    async def storm() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        # The app's lifespan closes what its writers opened on this loop (Redis, PostgreSQL).
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://intmon") as http,
        ):
            answers = await asyncio.gather(
                *(http.get(f"/ping/{busy}") for _ in range(30)), http.get(f"/ping/{quiet}")
            )
        return [answer.status_code for answer in answers]

    codes = asyncio.run(storm())
    assert sorted(codes[:30]) == [200] * 10 + [429] * 20
    assert codes[30] == 200
    client = redis.Redis.from_url(REDIS_URL)
    try:
        assert len(list(client.scan_iter(f"{namespace}:limits:pings:key:*"))) == 2
    finally:
        client.close()


def test_api_lists_heartbeats_with_ping_urls_a_client_only_its_own(
    engine: Engine, clock: Clock
) -> None:
    from intmon.api.auth import create_token

    other = CONFIG.replace("id: exporter", "id: other").replace("client: acme", "client: orbit")
    apply(engine, load_text(CONFIG + other.split("integrations:\n", 1)[1]), T0)
    acme = create_token(engine, role="client", client="acme", name="acme", now=T0)[1]
    support = create_token(engine, role="support", name="s", now=T0)[1]
    settings = Settings(redis_url=None, public_url="https://intmon.example/")
    with TestClient(create_app(engine, settings)) as client:
        seen = client.get("/api/heartbeats", headers={"Authorization": f"Bearer {acme}"}).json()
        everything = client.get("/api/heartbeats", headers={"Authorization": f"Bearer {support}"})
    assert [(b["integration_id"], b["name"]) for b in seen] == [
        ("exporter", "hourly"),
        ("exporter", "nightly"),
    ]
    assert seen[1]["ping_url"] == f"https://intmon.example/ping/{key_of(engine)}"
    assert len(everything.json()) == 4


def test_cli_lists_and_rotates(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from core.settings import get_settings
    from intmon.cli import app

    monkeypatch.setenv("INTMON_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("INTMON_PUBLIC_URL", "https://intmon.example")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        listed = runner.invoke(app, ["heartbeats", "list", "--json"])
        assert listed.exit_code == 0, listed.output
        rows = json.loads(listed.stdout)
        assert [(r["name"], r["state"]) for r in rows] == [("hourly", "new"), ("nightly", "new")]
        assert rows[1]["ping_url"] == f"https://intmon.example/ping/{key_of(engine)}"
        table = runner.invoke(app, ["heartbeats", "list", "-i", "exporter"])
        assert table.exit_code == 0 and "every 3600 s, grace 300 s" in table.stdout
        old = key_of(engine)
        rotated = runner.invoke(
            app, ["heartbeats", "rotate", "nightly", "-i", "exporter", "--json"]
        )
        assert rotated.exit_code == 0, rotated.output
        assert json.loads(rotated.stdout)["ping_url"].endswith(key_of(engine))
        assert key_of(engine) != old
        missing = runner.invoke(app, ["heartbeats", "rotate", "nope", "-i", "exporter"])
        assert missing.exit_code == 2 and "has no heartbeat 'nope'" in missing.stderr
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("entry", "field", "message"),
    [
        ("{name: a, grace_s: 60}", "heartbeats[0]", "give exactly one of: period_s, or schedule"),
        ("{name: a, period_s: 60, schedule: '* * * * *', grace_s: 60}", "heartbeats[0]", "exactly"),
        ("{name: a, schedule: '61 * * * *', grace_s: 60}", "heartbeats[0].schedule", "five-field"),
        ("{name: a, schedule: '0 0 30 2 *', grace_s: 60}", "heartbeats[0].schedule", "never fires"),
        (
            "{name: a, schedule: '0 2 * * *', timezone: Mars/Base, grace_s: 60}",
            "heartbeats[0].timezone",
            "unknown time zone",
        ),
        ("{name: a, period_s: 60, timezone: UTC, grace_s: 60}", "heartbeats[0]", "timezone"),
        ("{name: a, period_s: 60}", "heartbeats[0].grace_s", "required field is missing"),
        ("{name: 'Bad Name', period_s: 60, grace_s: 1}", "heartbeats[0].name", "pattern"),
        ("{name: a, period_s: 60, grace_s: 1, extra: 1}", "heartbeats[0].extra", "unknown field"),
    ],
)
def test_bad_heartbeat_config_names_the_field_and_line(
    entry: str, field: str, message: str
) -> None:
    from integrations.errors import ConfigError

    text = CONFIG.split("    heartbeats:")[0] + f"    heartbeats:\n      - {entry}\n"
    with pytest.raises(ConfigError) as raised:
        load_text(text, "hb.yaml")
    [problem] = raised.value.problems
    assert problem.field.endswith(field), problem
    assert message in problem.message, problem
    assert problem.line == 10


def test_apply_keeps_keys_and_removes_heartbeats_gone_from_the_file(
    engine: Engine, client: TestClient
) -> None:
    key = key_of(engine)
    assert client.get(f"/ping/{key}").status_code == 200
    changed = CONFIG.replace("period_s: 3600", "period_s: 7200")
    apply(engine, load_text(changed), T0)
    assert key_of(engine) == key  # the job's cron line keeps working
    assert beat(engine).next_due_at == T0 + timedelta(hours=2)
    without = changed.replace("      - {name: nightly, period_s: 7200, grace_s: 300}\n", "")
    apply(engine, load_text(without), T0)
    assert [v.name for v in list_heartbeats(engine)] == ["hourly"]
    assert client.get(f"/ping/{key}").status_code == 404
    assert not watch_heartbeats(engine, POLICY, T0 + timedelta(days=1))  # never alerts
    apply(engine, load_text(changed), T0)  # back: same key, waiting for its next ping
    assert (key_of(engine), beat(engine).state) == (key, "new")


def test_metrics_age_of_the_last_ping_and_up(engine: Engine, client: TestClient) -> None:
    from intmon.metrics import HeartbeatCollector

    assert client.get(f"/ping/{key_of(engine)}").status_code == 200
    collector = HeartbeatCollector(engine, clock=lambda: T0 + timedelta(seconds=90))
    samples = {
        (family.name, tuple(sample.labels.values())): sample.value
        for family in collector.collect()
        for sample in family.samples
    }
    assert samples == {
        ("intmon_heartbeat_last_seconds", ("exporter", "nightly")): 90.0,
        ("intmon_heartbeat_up", ("exporter", "nightly")): 1.0,
    }  # `hourly` was never pinged: no sample yet
    watch_heartbeats(engine, POLICY, T0 + timedelta(hours=2))
    late = HeartbeatCollector(engine, clock=lambda: T0 + timedelta(hours=2))
    ups = [s.value for f in late.collect() if f.name == "intmon_heartbeat_up" for s in f.samples]
    assert ups == [0.0]
