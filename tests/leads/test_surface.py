"""The lead ledger as users meet it: `intmon leads` / `intmon notices` and the HTTP API,
on a SQLite file with a fake broker on 127.0.0.1 and a moved clock.

The story: a broker announces a breaking change only 24 h ahead; leads fail with
auth errors after it; one lead is sent into a maintenance window; the report
blames the broker for those, the platform for a lead whose data it refused, and
cannot decide for a lone server error.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner, Result

from core import db
from core.settings import Settings, get_settings
from integrations.apply import apply
from integrations.leads.ledger import ATTEMPTS
from integrations.loader import load_text
from integrations.redaction import REDACTED, reveals
from intmon.api.auth import create_token
from intmon.app import create_app
from intmon.cli import app
from intmon.migrations import upgrade
from tests.alerts.helpers import T0, open_auth_incident
from tests.leads.broker import FakeBroker, broker, delivery_config

runner = CliRunner()
NOW = T0 + timedelta(hours=2)
ORBIT = """  - id: ox
    name: Orbit X
    kind: broker
    client: orbit
    base_url: http://127.0.0.1:9
    checks: [{name: health, path: /health}]
    delivery: {path: /leads, body: {email: "{{ lead.email }}"}}
"""


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, FakeBroker]]:
    url = f"sqlite:///{tmp_path / 'leads.db'}"
    monkeypatch.setenv("INTMON_DATABASE_URL", url)
    monkeypatch.delenv("INTMON_REDIS_URL", raising=False)
    monkeypatch.setenv("PARTNER_TOKEN", "tok-123456")
    monkeypatch.setattr(db, "utcnow", lambda: NOW)
    get_settings.cache_clear()
    engine = db.make_engine(url)
    upgrade(engine)
    with broker() as (fake, base):
        apply(engine, load_text(delivery_config(base, extra=ORBIT)), T0)
        yield engine, fake
    engine.dispose()
    db.engine_for(url).dispose()
    get_settings.cache_clear()


def cli(*args: str, code: int = 0) -> Result:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.output
    return result


def jsonl(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def attempt(lead: str, outcome: str, at: datetime, n: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "lead_id": lead,
        "integration": "bx",
        "attempt": n,
        "at": at.isoformat(),
        "outcome": outcome,
        **extra,
    }


def test_leads_deliver_holds_leads_while_an_auth_incident_is_open(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine, fake = world
    open_auth_incident(engine, "bx")
    queued = jsonl(
        tmp_path / "queued.jsonl",
        [
            {
                "id": "H1",
                "integration": "bx",
                "fields": {"email": "h@b", "first": "A", "last": "B", "age": 1},
            }
        ],
    )
    cli("leads", "import", queued)
    summary = json.loads(cli("leads", "deliver", "--json").stdout)
    assert (summary["held"], summary["sent"]) == (1, 0) and fake.requests == []


def test_import_deliver_report_from_the_command_line(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _engine, fake = world
    bad = jsonl(
        tmp_path / "bad.jsonl",
        [
            {"id": "L1", "integration": "bx", "fields": {"email": "a@b"}},
            {"id": "L2", "integration": "bx", "fields": {"first": "x"}},
        ],
    )
    refused = cli("leads", "import", bad, code=2)
    assert "bad.jsonl:2: fields.email: required" in refused.stderr
    good = jsonl(
        tmp_path / "good.jsonl",
        [
            {
                "id": f"L{i}",
                "integration": "bx",
                "fields": {"email": f"{i}@b", "first": "A", "last": "B", "age": i},
            }
            for i in range(3)
        ],
    )
    summary = json.loads(cli("leads", "import", good, "--deliver-now", "--json").stdout)
    assert summary["stored"] == 3 and summary["delivery"]["outcomes"] == {"delivered": 3}
    assert fake.accepted == ["L0", "L1", "L2"]
    again = json.loads(cli("leads", "import", good, "--json").stdout)
    assert again == {"stored": 0, "duplicates": ["L0", "L1", "L2"]}
    report = json.loads(cli("leads", "report", "-i", "bx", "--format", "json").stdout)
    assert report["outcomes"] == {"delivered": 3}
    shown = json.loads(cli("leads", "show", "L1", "-i", "bx", "--json").stdout)
    assert shown["ledger"][0]["broker_lead_id"] == "B-2" and shown["liability"] is None
    assert "tok-123456" not in json.dumps(shown)
    assert "unknown integration" in cli("leads", "report", "-i", "nope", code=2).stderr


def test_notices_and_liability_in_the_report(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    effective = T0 - timedelta(hours=1)
    cli(
        "notices",
        "add",
        "bx",
        "--id",
        "auth-v2",
        "--announced",
        (effective - timedelta(hours=24)).isoformat(),
        "--effective",
        effective.isoformat(),
        "--description",
        "Bearer tokens replaced by signed keys",
    )
    listed = json.loads(cli("notices", "list", "bx", "--json").stdout)
    assert listed[0]["lead_time_h"] == 24.0 and listed[0]["source"] == "cli"
    assert (
        "--effective"
        in cli(
            "notices",
            "add",
            "bx",
            "--id",
            "x",
            "--announced",
            T0.isoformat(),
            "--effective",
            "soon",
            "--description",
            "d",
            code=2,
        ).stderr
    )
    cli(
        "maintenance",
        "add",
        "bx",
        "--id",
        "db-upgrade",
        "--start",
        (T0 + timedelta(minutes=50)).isoformat(),
        "--end",
        (T0 + timedelta(minutes=70)).isoformat(),
    )
    rows = [
        attempt("A1", "failed_auth", T0 + timedelta(minutes=5)),
        attempt("M1", "failed_server", T0 + timedelta(minutes=50)),  # the window's first minute
        attempt("R1", "rejected", T0 + timedelta(minutes=80), http_status=422),
        attempt("S1", "failed_server", T0 + timedelta(minutes=90)),
        attempt("D1", "delivered", T0 + timedelta(minutes=95), broker_lead_id="B-9"),
    ]
    recorded = json.loads(
        cli("leads", "record", jsonl(tmp_path / "a.jsonl", rows), "--json").stdout
    )
    assert recorded["stored"] == 5
    again = json.loads(cli("leads", "record", jsonl(tmp_path / "a.jsonl", rows), "--json").stdout)
    assert again["stored"] == 0
    report = json.loads(
        cli(
            "leads", "report", "--from", T0.isoformat(), "--to", NOW.isoformat(), "--format", "json"
        ).stdout
    )
    assert report["liability"] == {"broker": 2, "platform": 1, "undetermined": 1}
    by_lead = {lead["lead_id"]: lead for lead in report["leads"]}
    assert by_lead["A1"]["party"] == "broker" and "24h00m" in by_lead["A1"]["reason"]
    assert by_lead["A1"]["evidence"][0] == "notice:auth-v2"
    assert by_lead["M1"]["evidence"][0] == "maintenance:db-upgrade"
    assert by_lead["R1"]["party"] == "platform"
    assert by_lead["S1"]["party"] == "undetermined"
    table = cli("leads", "report", "--from", T0.isoformat()).stdout
    assert "Liability for leads not delivered" in table and "auth-v2" in table
    lines = list(
        csv.reader(
            io.StringIO(cli("leads", "report", "--from", T0.isoformat(), "--format", "csv").stdout)
        )
    )
    assert lines[0][:3] == ["integration", "lead_id", "outcome"] and len(lines) == 5
    cli("notices", "remove", "bx", "auth-v2")
    report = json.loads(cli("leads", "report", "--from", T0.isoformat(), "--format", "json").stdout)
    assert report["leads"][0]["reason"].startswith("no maintenance")  # A1: a lone failure now


def test_the_http_api_scopes_leads_to_the_client(world) -> None:  # type: ignore[no-untyped-def]
    engine, fake = world
    tokens = {
        name: create_token(engine, role=role, client=client, now=T0)[1]
        for name, role, client in (
            ("support", "support", None),
            ("acme", "client", "acme"),
            ("orbit", "client", "orbit"),
            ("tester", "tester", None),
        )
    }

    def call(method: str, url: str, who: str, **kwargs: Any) -> Any:
        return client.request(
            method, url, headers={"Authorization": f"Bearer {tokens[who]}"}, **kwargs
        )

    lead = {
        "id": "W1",
        "integration": "bx",
        "fields": {"email": "w@b", "first": "A", "last": "B", "age": 1},
    }
    with TestClient(create_app(engine, Settings(redis_url=None))) as client:
        accepted = call("POST", "/api/leads", "acme", json={"leads": [lead]})
        assert accepted.status_code == 202 and accepted.json()["stored"] == 1
        assert call("POST", "/api/leads", "orbit", json={"leads": [lead]}).status_code == 404
        assert call("POST", "/api/leads", "tester", json={"leads": [lead]}).status_code == 403
        bad = call(
            "POST",
            "/api/leads",
            "acme",
            json={"leads": [{**lead, "id": "W2", "fields": {"age": 3}}]},
        )
        assert bad.status_code == 422 and bad.json()["field"] == "leads[0].fields.email"
        shape = call(
            "POST", "/api/leads", "acme", json={"leads": [{"id": "W3", "integration": "bx"}]}
        )
        assert shape.status_code == 422 and "fields" in shape.text
        recorded = call(
            "POST",
            "/api/lead-deliveries",
            "acme",
            json={"attempts": [attempt("P1", "failed_auth", T0)]},
        )
        assert recorded.status_code == 201 and recorded.json()["stored"] == 1
        report = call("GET", "/api/leads/report", "acme", params={"from": T0.isoformat()}).json()
        assert report["integrations"] == ["bx"] and report["outcomes"] == {"failed_auth": 1}
        assert (
            call("GET", "/api/leads/report", "orbit", params={"integration": "bx"}).status_code
            == 404
        )
        assert call("GET", "/api/leads/report", "orbit").json()["total"] == 0
        notice = {
            "id": "n1",
            "announced_at": T0.isoformat(),
            "effective_at": (T0 + timedelta(hours=50)).isoformat(),
            "description": "v3",
        }
        assert call("POST", "/api/integrations/bx/notices", "acme", json=notice).status_code == 403
        assert (
            call("POST", "/api/integrations/bx/notices", "support", json=notice).status_code == 201
        )
        assert call("GET", "/api/integrations/bx/notices", "acme").json()[0]["lead_time_h"] == 50.0
        assert call("GET", "/api/integrations/bx/notices", "orbit").status_code == 404
        backwards = {**notice, "id": "n2", "effective_at": (T0 - timedelta(hours=1)).isoformat()}
        assert (
            call("POST", "/api/integrations/bx/notices", "support", json=backwards).status_code
            == 422
        )
        moved = {**notice, "effective_at": (T0 + timedelta(hours=30)).isoformat()}
        assert call("PUT", "/api/integrations/bx/notices/n1", "acme", json=moved).status_code == 403
        replaced = call("PUT", "/api/integrations/bx/notices/n1", "support", json=moved)
        assert replaced.status_code == 200 and replaced.json()["lead_time_h"] == 30.0
        renamed = call(
            "PUT", "/api/integrations/bx/notices/n1", "support", json={**moved, "id": "n9"}
        )
        assert renamed.status_code == 422 and renamed.json()["field"] == "id"
        unknown = {**moved, "id": "nx"}
        assert (
            call("PUT", "/api/integrations/bx/notices/nx", "support", json=unknown).status_code
            == 404
        )
        assert call("DELETE", "/api/integrations/bx/notices/n1", "support").status_code == 204
        assert call("DELETE", "/api/integrations/bx/notices/n1", "support").status_code == 404
    assert fake.accepted == []  # the API queues; workers deliver


def test_maintenance_windows_can_be_changed_through_the_api(world) -> None:  # type: ignore[no-untyped-def]
    engine, _fake = world
    token = create_token(engine, role="support", now=T0)[1]
    headers = {"Authorization": f"Bearer {token}"}
    window = {
        "id": "db",
        "starts_at": T0.isoformat(),
        "ends_at": (T0 + timedelta(hours=1)).isoformat(),
    }
    longer = {**window, "ends_at": (T0 + timedelta(hours=3)).isoformat()}
    with TestClient(create_app(engine, Settings(redis_url=None))) as client:
        assert (
            client.post(
                "/api/integrations/bx/maintenance", json=window, headers=headers
            ).status_code
            == 201
        )
        changed = client.put("/api/integrations/bx/maintenance/db", json=longer, headers=headers)
        assert changed.status_code == 200, changed.text
        listed = client.get("/api/integrations/bx/maintenance", headers=headers).json()
        assert [w["name"] for w in listed] == ["db"]
        assert listed[0]["spec"]["ends_at"].startswith("2026-11-23T15:00")
        backwards = {**window, "ends_at": (T0 - timedelta(hours=1)).isoformat()}
        refused = client.put("/api/integrations/bx/maintenance/db", json=backwards, headers=headers)
        assert refused.status_code == 422 and "ends_at" in refused.text
        missing = client.put("/api/integrations/bx/maintenance/nope", json=longer, headers=headers)
        assert missing.status_code == 404


PLATFORM_TOKEN = "plat-T0k/en+9x=="
PLATFORM_KEY = "k3y&v=al/ue%20"


def leaky_attempt(lead: str) -> dict[str, Any]:
    """An attempt as a platform reports it: its own credentials in the request, and
    a broker answer that echoes them JSON-escaped and URL-encoded."""
    return attempt(
        lead,
        "failed_auth",
        T0,
        http_status=401,
        request={
            "method": "POST",
            "url": f"https://broker.example/leads?api_key={quote(PLATFORM_KEY, safe='')}&v=1",
            "headers": {"Authorization": f"Bearer {PLATFORM_TOKEN}", "X-Trace": PLATFORM_TOKEN},
            "body": {"echo": f"token={quote_plus(PLATFORM_TOKEN)}"},
        },
        response_excerpt=json.dumps({"got": f"Bearer {PLATFORM_TOKEN}"}).replace("/", "\\/"),
        detail=f"401 for key {quote(PLATFORM_KEY, safe='').lower()}",
    )


def test_recorded_attempts_are_stored_without_the_platforms_credentials(  # type: ignore[no-untyped-def]
    world, tmp_path: Path
) -> None:
    engine, _fake = world
    token = create_token(engine, role="client", client="acme", now=T0)[1]
    with TestClient(create_app(engine, Settings(redis_url=None))) as client:
        recorded = client.post(
            "/api/lead-deliveries",
            headers={"Authorization": f"Bearer {token}"},
            json={"attempts": [leaky_attempt("L1")]},
        )
    assert recorded.status_code == 201 and recorded.json()["stored"] == 1
    cli("leads", "record", jsonl(tmp_path / "a.jsonl", [leaky_attempt("L2")]), "--json")

    with engine.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(select(ATTEMPTS))]
    shown = [cli("leads", "show", lead, "-i", "bx", "--json").stdout for lead in ("L1", "L2")]
    secrets = {PLATFORM_TOKEN, PLATFORM_KEY}
    for text in (json.dumps(rows, default=str), *shown):
        assert not reveals(text, secrets), text
    assert len(rows) == 2
    for row in rows:
        assert row["request"]["headers"] == {"Authorization": REDACTED, "X-Trace": REDACTED}
        assert row["request"]["url"].startswith("https://broker.example/leads?api_key=[REDACTED]")
        assert row["response_excerpt"] == f'{{"got": "{REDACTED}"}}'  # the whole header value
        assert row["detail"] == f"401 for key {REDACTED}"


def test_files_from_stdin_attempts_numbered_and_notices_named(world) -> None:  # type: ignore[no-untyped-def]
    """One vocabulary (issue 26): `-` reads stdin, an attempt number may be left out,
    and a notice, like a maintenance window, gets a name when none is given."""
    rows = [
        attempt("S1", "failed_connection", T0),
        attempt("S1", "delivered", T0 + timedelta(hours=1)),
    ]
    for row in rows:
        del row["attempt"]
    text = "".join(json.dumps(row) + "\n" for row in rows)
    result = runner.invoke(app, ["leads", "record", "-", "--json"], input=text)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stored"] == 2
    shown = json.loads(cli("leads", "show", "S1", "-i", "bx", "--json").stdout)
    assert [(a["attempt"], a["outcome"]) for a in shown["ledger"]] == [
        (1, "failed_connection"),
        (2, "delivered"),
    ]
    again = runner.invoke(app, ["leads", "record", "-", "--json"], input=text)
    assert json.loads(again.stdout) == {"stored": 0, "duplicates": ["S1"]}

    bad = runner.invoke(app, ["leads", "import", "-"], input='{"id": "X"}\n')
    assert bad.exit_code == 2 and "<stdin>" not in bad.stderr and "-:1: " in bad.stderr

    announced = T0.isoformat()
    for _ in range(2):
        cli("notices", "add", "bx", "--announced", announced, "--effective", announced,
            "--description", "v2")  # fmt: skip
    names = [n["name"] for n in json.loads(cli("notices", "list", "bx", "--json").stdout)]
    assert names == ["notice-1", "notice-2"]
