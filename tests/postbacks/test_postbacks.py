"""Postback monitors over real HTTP on both databases: postbacks received, signed or
with the token, stored once, linked to the ledger's lead; a broker that goes quiet
while leads flow opens an incident, and its postbacks coming back resolve it.

The API's clock (`core.db.utcnow`) and the detector's `now` are moved by the
tests, never slept on.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from alerts.policy import Policy
from alerts.postback_watch import watch_postbacks
from alerts.queries import list_incidents
from core import db
from core.settings import Settings
from integrations.apply import apply
from integrations.leads.delivery import LeadOutcome
from integrations.leads.ledger import AttemptIn, record
from integrations.loader import load_text
from integrations.postbacks.models import Postback
from integrations.postbacks.signature import signature_of
from integrations.results import history
from intmon.app import create_app
from tests.alerts.helpers import T0
from tests.conftest import REDIS_URL

SECRET = "s3cret-postback-key"
CONFIG = """version: 1
integrations:
  - id: broker
    name: Broker
    kind: broker
    client: acme
    base_url: http://127.0.0.1:9
    checks: [{name: health, path: /health}]
    postbacks: {secret: "${BROKER_POSTBACK_SECRET}", window_s: 7200, min_ratio: 0.5, min_leads: 4}
  - id: quiet
    name: Quiet
    kind: broker
    client: orbit
    base_url: http://127.0.0.1:9
    checks: [{name: health, path: /health}]
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
    monkeypatch.setenv("BROKER_POSTBACK_SECRET", SECRET)
    return clock


@pytest.fixture
def engine(db_engine: Engine) -> Engine:
    apply(db_engine, load_text(CONFIG), T0)
    return db_engine


@pytest.fixture
def client(engine: Engine, clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(engine, Settings(redis_url=None))) as client:
        yield client


def deliver(engine: Engine, count: int, at: Any, first: int = 1) -> None:
    """`count` leads the broker accepted at `at`, broker ids B-<n>."""
    record(
        engine,
        [
            AttemptIn(
                lead_id=f"L-{n}",
                integration="broker",
                attempt=1,
                at=at,
                outcome=LeadOutcome.DELIVERED,
                broker_lead_id=f"B-{n}",
            )
            for n in range(first, first + count)
        ],
        {"broker", "quiet"},
    )


def body(event: str, lead: str, status: str = "accepted", **more: Any) -> bytes:
    return json.dumps({"event_id": event, "lead_id": lead, "status": status, **more}).encode()


def post(client: TestClient, raw: bytes, *, integration: str = "broker", **headers: str) -> Any:
    if not headers:
        headers = {"X-Intmon-Signature": signature_of(SECRET, raw)}
    sent = {"Content-Type": "application/json", **headers}
    return client.post(f"/postbacks/{integration}", content=raw, headers=sent)


def stored(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return connection.execute(select(Postback.__table__).order_by("id")).all()


# --- ingest ----------------------------------------------------------------------------


def test_a_signed_postback_is_stored_and_linked_to_the_ledgers_lead(
    engine: Engine, client: TestClient, clock: Clock
) -> None:
    deliver(engine, 1, T0 - timedelta(minutes=5))
    raw = body("E-1", "B-1", "converted", at="2026-11-23T11:58:00+00:00", payout=12.5)
    answer = post(client, raw)
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"duplicate": False, "linked": True, "lead_id": "L-1"}
    [row] = stored(engine)
    assert (row.integration_id, row.event_id, row.broker_lead_id, row.lead_id, row.status) == (
        "broker",
        "E-1",
        "B-1",
        "L-1",
        "converted",
    )
    assert row.received_at == T0 and row.at is not None


def test_the_secret_as_a_token_header_works_too_and_an_unknown_lead_is_unlinked(
    client: TestClient, engine: Engine
) -> None:
    answer = post(client, body("E-9", "B-unknown"), token=SECRET)
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"duplicate": False, "linked": False, "lead_id": None}


def test_a_repeated_event_is_a_duplicate_and_stores_nothing_new(
    engine: Engine, client: TestClient, clock: Clock
) -> None:
    deliver(engine, 1, T0)
    assert post(client, body("E-1", "B-1")).status_code == 201
    clock.now = T0 + timedelta(minutes=1)
    again = post(client, body("E-1", "B-1", "rejected"))
    assert again.status_code == 200
    assert again.json() == {"duplicate": True, "linked": True, "lead_id": "L-1"}
    [row] = stored(engine)
    assert (row.status, row.received_at) == ("accepted", T0)


def _problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = answer.json()
    return problem


def test_bad_signature_and_unknown_integration_get_the_same_404(
    engine: Engine, client: TestClient
) -> None:
    raw = body("E-1", "B-1")
    wrong = _problem(post(client, raw, **{"X-Intmon-Signature": signature_of("nope", raw)}), 404)
    tampered = post(client, body("E-1", "B-2"), **{"X-Intmon-Signature": signature_of(SECRET, raw)})
    bad_token = post(client, raw, token="nope")
    unknown = post(client, raw, integration="nobody")
    no_monitor = post(client, raw, integration="quiet")  # exists, has no postbacks block
    for answer in (tampered, bad_token, unknown, no_monitor):
        assert _problem(answer, 404) == wrong
    assert SECRET not in json.dumps(wrong) and "broker" not in wrong["detail"]
    assert stored(engine) == []


def test_no_credentials_is_401(client: TestClient, engine: Engine) -> None:
    answer = client.post("/postbacks/broker", content=body("E-1", "B-1"))
    assert "X-Intmon-Signature" in _problem(answer, 401)["detail"]
    assert stored(engine) == []


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"{oops", "body"),
        (b"[1]", "body"),
        (json.dumps({"lead_id": "B-1", "status": "accepted"}).encode(), "event_id"),
        (body("E-1", "B-1", "Not A Status"), "status"),
        (body("E-1", "", "accepted"), "lead_id"),
        (body("E-1", "B-1", at="yesterday"), "at"),
        (body("E-1", "B-1", at="2026-11-23T11:58:00"), "at"),  # no zone
        (body("E-\u0000", "B-1"), "event_id"),
        (b'{"event_id": "E", "lead_id": "B", "status": "ok", "n": NaN}', "n"),
    ],
)
def test_malformed_postbacks_are_422_naming_the_field(
    client: TestClient, engine: Engine, raw: bytes, field: str
) -> None:
    problem = _problem(post(client, raw), 422)
    assert problem["field"] == field, problem
    assert stored(engine) == []


def test_an_oversize_body_is_413(client: TestClient, engine: Engine) -> None:
    raw = body("E-1", "B-1", note="x" * 20_000)
    assert "16384 bytes" in _problem(post(client, raw), 413)["detail"]
    assert stored(engine) == []


def test_an_unreadable_secret_is_503_and_names_nothing(
    client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BROKER_POSTBACK_SECRET")
    problem = _problem(post(client, body("E-1", "B-1")), 503)
    assert "BROKER_POSTBACK_SECRET" not in problem["detail"]


# --- the monitor, end to end -------------------------------------------------------------


def test_leads_without_postbacks_open_an_incident_and_postbacks_resolve_it(
    engine: Engine, client: TestClient, clock: Clock
) -> None:
    deliver(engine, 6, T0)
    # An hour later, no postback for any of the six: the incident opens at once.
    done = watch_postbacks(engine, POLICY, T0 + timedelta(hours=1))
    assert done.opened and done.tickets_opened
    [incident] = list_incidents(engine)
    assert (incident.family, incident.state, incident.last_outcome) == (
        "postback",
        "open",
        "missed_postbacks",
    )
    assert incident.ticket
    [missed] = history(engine, "broker", "postbacks:ratio")
    assert missed["detail"] == "no postback for any of the 6 leads accepted in the last 2 h"
    # Two postbacks: 2 of 6 is under 50 %, still open.
    clock.now = T0 + timedelta(hours=1, minutes=1)
    for n in (1, 2):
        assert post(client, body(f"E-{n}", f"B-{n}")).status_code == 201
    watch_postbacks(engine, POLICY, T0 + timedelta(hours=1, minutes=2))
    assert list_incidents(engine)[0].state == "open"
    # A third: 3 of 6 is 50 %, the incident resolves.
    assert post(client, body("E-3", "B-3", "converted")).status_code == 201
    done = watch_postbacks(engine, POLICY, T0 + timedelta(hours=1, minutes=3))
    assert done.resolved
    [incident] = list_incidents(engine)
    assert incident.state == "resolved"
    outcomes = [r["outcome"] for r in history(engine, "broker", "postbacks:ratio")]
    assert outcomes == ["ok", "missed_postbacks", "missed_postbacks"]


def test_a_postback_that_comes_before_the_ledger_knows_the_lead_still_counts(
    engine: Engine, client: TestClient, clock: Clock
) -> None:
    for n in range(1, 5):
        assert post(client, body(f"E-{n}", f"B-{n}")).json()["linked"] is False
    deliver(engine, 4, T0 - timedelta(minutes=1))  # `leads record` reports it later
    watch_postbacks(engine, POLICY, T0 + timedelta(minutes=5))
    [result] = history(engine, "broker", "postbacks:ratio")
    assert result["outcome"] == "ok" and "4 of 4" in result["detail"]


def test_maintenance_window_holds_back_the_incident(
    engine: Engine, client: TestClient, clock: Clock
) -> None:
    from integrations.maintenance import add_window

    deliver(engine, 5, T0)
    window = {
        "starts_at": T0.isoformat(),
        "ends_at": (T0 + timedelta(hours=2)).isoformat(),
        "reason": "broker migrates its postback sender",
    }
    add_window(engine, "broker", window, T0)
    watch_postbacks(engine, POLICY, T0 + timedelta(hours=1))
    assert list_incidents(engine) == []
    [missed] = history(engine, "broker", "postbacks:ratio")
    assert (missed["outcome"], missed["maintenance"]) == ("missed_postbacks", True)


# --- surfaces ------------------------------------------------------------------------------


def test_api_lists_monitors_a_client_only_its_own(engine: Engine, clock: Clock) -> None:
    from intmon.api.auth import create_token

    other = CONFIG.replace("id: broker", "id: broker2").replace("client: acme", "client: orbit")
    apply(
        engine, load_text(CONFIG + other.split("integrations:\n", 1)[1].split("  - id: quiet")[0])
    )
    deliver(engine, 4, T0 - timedelta(minutes=10))
    acme = create_token(engine, role="client", client="acme", name="acme", now=T0)[1]
    orbit = create_token(engine, role="client", client="orbit", name="orbit", now=T0)[1]
    support = create_token(engine, role="support", name="s", now=T0)[1]
    with TestClient(create_app(engine, Settings(redis_url=None))) as client:
        assert post(client, body("E-1", "B-1")).status_code == 201

        def read(token: str, query: str = "") -> Any:
            answer = client.get(
                f"/api/postbacks{query}", headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 200, answer.text
            return answer.json()

        [mine] = read(acme)
        assert read(orbit, "?integration_id=broker") == []  # not theirs: nothing
        assert [m["integration_id"] for m in read(support)] == ["broker", "broker2"]
        assert read(support, "?integration_id=broker2")[0]["leads"] == 0
    assert mine == {
        "integration_id": "broker",
        "check_name": "postbacks:ratio",
        "window_s": 7200.0,
        "min_ratio": 0.5,
        "min_leads": 4,
        "leads": 4,
        "with_postback": 1,
        "ratio": 0.25,
        "received": 1,
        "last_received_at": T0.isoformat(),
        "state": "missed",
        "detail": "postbacks for 1 of 4 leads accepted in the last 2 h (25%), under min_ratio 50%",
    }
    assert SECRET not in json.dumps(mine)


def test_cli_lists_monitors(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from core.settings import get_settings
    from intmon.cli import app

    deliver(engine, 2, db.utcnow() - timedelta(minutes=5))
    monkeypatch.setenv("INTMON_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        listed = runner.invoke(app, ["postbacks", "list", "--format", "json"])
        assert listed.exit_code == 0, listed.output
        [row] = json.loads(listed.stdout)
        assert (row["integration_id"], row["leads"], row["state"]) == ("broker", 2, "too_few_leads")
        table = runner.invoke(app, ["postbacks", "list", "-i", "broker"], env={"COLUMNS": "200"})
        assert table.exit_code == 0, table.output
        assert "too_few_leads" in table.stdout and "7200 s" in table.stdout
        assert SECRET not in table.stdout
        unknown = runner.invoke(app, ["postbacks", "list", "-i", "nope"])
        assert unknown.exit_code == 2 and "unknown integration 'nope'" in unknown.stderr
        bad = runner.invoke(app, ["postbacks", "list", "--format", "csv"])
        assert bad.exit_code == 2 and "--format" in bad.stderr
    finally:
        get_settings.cache_clear()
        # The CLI's cached engine: its pooled connection is closed here, not whenever
        # the cache lets go of it (a ResourceWarning in some later test).
        db.engine_for(engine.url.render_as_string(hide_password=False)).dispose()


def test_metric_is_the_ratio_per_integration(engine: Engine, client: TestClient) -> None:
    from intmon.metrics import PostbackCollector

    collector = PostbackCollector(engine, clock=lambda: T0 + timedelta(minutes=1))
    assert [s for f in collector.collect() for s in f.samples] == []  # no lead: no ratio
    deliver(engine, 4, T0)
    assert post(client, body("E-1", "B-1")).status_code == 201
    samples = [(s.name, s.labels, s.value) for f in collector.collect() for s in f.samples]
    assert samples == [("intmon_postback_ratio", {"integration": "broker"}, 0.25)]


def test_the_readme_signature_example_is_accepted(engine: Engine, client: TestClient) -> None:
    """The README's lines that compute the signature with openssl, run by a shell; the
    body and signature they make are accepted by the endpoint."""
    import re
    import shutil
    import subprocess
    from pathlib import Path

    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to check the README's example")
    readme = Path(__file__).parents[2].joinpath("README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Postbacks\n", 1)[1].split("\n## ", 1)[0]
    script = re.search(r"```sh\n(.*?)```", section, re.S)
    assert script is not None
    lines = [line for line in script.group(1).splitlines() if line.startswith(("BODY=", "SIG="))]
    shell = "\n".join([*lines, 'printf "%s\\n%s" "$BODY" "$SIG"'])
    env = {"PATH": "/usr/bin:/bin", "BROKER_POSTBACK_SECRET": SECRET}
    made = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, env=env)
    raw, signature = made.stdout.split("\n")
    assert "/postbacks/acme-broker" in section and "X-Intmon-Signature: sha256=$SIG" in section
    answer = post(client, raw.encode(), **{"X-Intmon-Signature": f"sha256={signature}"})
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Intmon-Signature": "sha256="},
        {"X-Intmon-Signature": "sha256=zz"},
        {"X-Intmon-Signature": "md5=" + "0" * 32},
        {"X-Intmon-Signature": "sha256=" + "f" * 10_000},
        {"X-Intmon-Signature": "sha256=\u00fc".encode("latin-1")},
        {"token": "\u00ff\u00fe".encode("latin-1")},
        {"token": " "},
        {"X-Intmon-Signature": "", "token": ""},
    ],
)
def test_hostile_credentials_are_refused_never_a_server_error(
    client: TestClient, engine: Engine, headers: dict[str, Any]
) -> None:
    answer = post(client, body("E-1", "B-1"), **headers)
    assert answer.status_code in (401, 404), answer.text
    assert stored(engine) == []


@pytest.fixture(params=["in-process", "redis"])
def limits(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Where the limits are counted: in the process, or in Redis (the API's batched
    writer then charges them through redis.asyncio on PostgreSQL, from its thread
    on SQLite)."""
    if request.param == "in-process":
        return {"redis_url": None}
    return {"redis_url": REDIS_URL, "namespace": request.getfixturevalue("namespace")}


def test_a_broker_in_a_loop_gets_429_and_a_forger_cannot_spend_its_bucket(
    engine: Engine, clock: Clock, limits: dict[str, Any]
) -> None:
    settings = Settings(limit_postbacks="2/min", **limits)
    with TestClient(create_app(engine, settings)) as client:
        forged = {"X-Intmon-Signature": signature_of("not the secret", body("F-1", "B-1"))}
        for _ in range(5):  # refused before counting: the broker's bucket is untouched
            assert post(client, body("F-1", "B-1"), **forged).status_code == 404
        assert post(client, body("E-1", "B-1")).status_code == 201
        assert post(client, body("E-1", "B-1")).status_code == 200  # a repeat also counts
        refused = post(client, body("E-2", "B-2"))
        assert refused.status_code == 429
        assert refused.headers["Retry-After"].isdigit()
        assert "INTMON_LIMIT_POSTBACKS=2/min" in refused.json()["detail"]
        assert "this integration" in refused.json()["detail"]
    assert [row.event_id for row in stored(engine)] == ["E-1"]  # nothing lost but refused


def test_with_redis_not_answering_a_postback_is_503_and_not_stored(
    engine: Engine, clock: Clock
) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings = Settings(redis_url=f"redis://127.0.0.1:{port}/0")
    with TestClient(create_app(engine, settings)) as client:
        answer = post(client, body("E-1", "B-1"))
    assert answer.status_code == 503
    assert answer.json()["detail"] == (
        "cannot check the limit on sending postbacks for this integration: Redis did not answer"
    )
    assert stored(engine) == []


def test_a_flood_of_forged_postbacks_costs_no_database_work(engine: Engine, clock: Clock) -> None:
    """Made-up integration ids and wrong signatures are answered from the map of
    integrations with postbacks, read once: no query per request."""
    from sqlalchemy import event

    queries: list[str] = []

    def count(*args: Any) -> None:
        queries.append(args[2])

    with TestClient(create_app(engine, Settings(redis_url=None))) as client:
        assert post(client, body("E-1", "B-1")).status_code == 201  # the map is read
        event.listen(engine, "before_cursor_execute", count)
        try:
            forged = {"X-Intmon-Signature": signature_of("not the secret", body("F-1", "B-1"))}
            for n in range(30):
                integration = "broker" if n % 2 else f"made-up-{n}"
                assert (
                    post(client, body("F-1", "B-1"), integration=integration, **forged).status_code
                    == 404
                )
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert queries == []


def test_a_new_postback_endpoint_is_seen_within_the_ttl(engine: Engine, clock: Clock) -> None:
    from intmon.api.postback_endpoints import PostbackEndpoints

    seconds = [100.0]
    endpoints = PostbackEndpoints(engine, ttl_s=5.0, clock=lambda: seconds[0])
    assert endpoints.secret_ref("quiet") is None and endpoints.secret_ref("broker") is not None
    with_postbacks = CONFIG.replace(
        "    client: orbit\n",
        '    client: orbit\n    postbacks: {secret: "${QUIET_SECRET}", window_s: 3600}\n',
    )
    apply(engine, load_text(with_postbacks), T0)
    seconds[0] += 4.9
    assert endpoints.secret_ref("quiet") is None  # the copy read 4.9 s ago
    seconds[0] += 0.2
    assert endpoints.secret_ref("quiet") == "${QUIET_SECRET}"


def test_a_batch_stores_each_event_once_and_links_what_the_ledger_knows(engine: Engine) -> None:
    from integrations.postbacks.store import PostbackIn, Received, record_postbacks

    deliver(engine, 2, T0)

    def received(event: str, lead: str) -> Received:
        return Received("broker", PostbackIn(event_id=event, lead_id=lead, status="accepted"), T0)

    assert not record_postbacks(engine, [received("E-0", "B-1")])[0].duplicate
    answers = record_postbacks(
        engine,
        [
            received("E-1", "B-1"),
            received("E-2", "B-9"),  # a lead the ledger does not know
            received("E-1", "B-1"),  # the same event again in the batch
            received("E-0", "B-2"),  # stored by an earlier batch
        ],
    )
    assert [(a.duplicate, a.linked, a.lead_id) for a in answers] == [
        (False, True, "L-1"),
        (False, False, None),
        (True, True, "L-1"),
        (True, True, "L-1"),  # the first copy's link, not this copy's lead
    ]
    assert [row.event_id for row in stored(engine)] == ["E-0", "E-1", "E-2"]
    assert record_postbacks(engine, []) == []


def test_a_batch_on_postgresql_is_one_statement_committed_alone(pg_engine: Engine) -> None:
    """The lead lookup and the insert travel together, outside an explicit transaction:
    no BEGIN, lookup and COMMIT round trips for the API's writer thread to wait on."""
    from sqlalchemy import event

    from integrations.postbacks.store import PostbackIn, Received, record_postbacks

    apply(pg_engine, load_text(CONFIG), T0)
    deliver(pg_engine, 3, T0, first=0)
    sent: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        sent.append(statement)

    event.listen(pg_engine, "before_cursor_execute", count)
    commits: list[object] = []

    def committed(connection) -> None:  # type: ignore[no-untyped-def]
        commits.append(connection)

    event.listen(pg_engine, "commit", committed)
    try:
        answers = record_postbacks(
            pg_engine,
            [
                Received("broker", PostbackIn(event_id=f"E-{n}", lead_id=f"B-{n}", status="ok"), T0)
                for n in range(3)
            ],
        )
    finally:
        event.remove(pg_engine, "before_cursor_execute", count)
        event.remove(pg_engine, "commit", committed)
    assert [(a.duplicate, a.lead_id) for a in answers] == [(False, f"L-{n}") for n in range(3)]
    assert len(sent) == 1 and sent[0].startswith("INSERT INTO postbacks")
    assert commits == []  # autocommit: the statement is its own transaction
    assert [row.lead_id for row in stored(pg_engine)] == ["L-0", "L-1", "L-2"]


def test_postgresql_unreachable_is_503_and_the_retry_is_stored(
    pg_engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer on the event loop opens its connection when a batch comes: a
    database that cannot be reached is a 503 (the broker retries), not a lost or
    half-stored postback, and the next batch connects again."""
    import psycopg

    from intmon.api.loop_connections import LoopConnections

    apply(pg_engine, load_text(CONFIG), T0)
    deliver(pg_engine, 1, T0)
    connect = LoopConnections._connect
    failures = [psycopg.OperationalError("connection refused")]

    async def flaky(self: LoopConnections) -> Any:
        if failures:
            raise failures.pop()
        return await connect(self)

    monkeypatch.setattr(LoopConnections, "_connect", flaky)
    with TestClient(create_app(pg_engine, Settings(redis_url=None))) as client:
        refused = post(client, body("E-1", "B-1"))
        assert refused.status_code == 503, refused.text
        assert "try again" in refused.json()["detail"]
        assert stored(pg_engine) == []
        again = post(client, body("E-1", "B-1"))
        assert again.status_code == 201, again.text
        assert again.json()["lead_id"] == "L-1"
    assert [row.event_id for row in stored(pg_engine)] == ["E-1"]


def test_concurrent_postbacks_are_stored_once_each_over_http(engine: Engine, clock: Clock) -> None:
    """A storm of 120 postbacks at once (40 events, each sent three times) through the
    ASGI app: every event stored once, one 201 and two 200s each."""
    import asyncio

    import httpx

    deliver(engine, 40, T0)
    app = create_app(engine, Settings(redis_url=None, limit_postbacks="off"))

    async def storm() -> list[tuple[str, int]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intmon") as http:

            async def send(n: int) -> tuple[str, int]:
                raw = body(f"E-{n % 40}", f"B-{n % 40 + 1}")
                answer = await http.post(
                    "/postbacks/broker",
                    content=raw,
                    headers={"X-Intmon-Signature": signature_of(SECRET, raw)},
                )
                return f"E-{n % 40}", answer.status_code

            return await asyncio.gather(*(send(n) for n in range(120)))

    codes: dict[str, list[int]] = {}
    for event, code in asyncio.run(storm()):
        codes.setdefault(event, []).append(code)
    assert all(sorted(found) == [200, 200, 201] for found in codes.values()), codes
    rows = stored(engine)
    assert len(rows) == 40 and all(row.lead_id is not None for row in rows)
