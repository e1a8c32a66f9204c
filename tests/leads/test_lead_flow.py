"""Lead-flow anomalies (issue 25 item 3): a broker that answers, but accepts far fewer
leads, or answers far slower, than it usually does at this hour of the week."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine
from typer.testing import CliRunner

from alerts.lead_flow_watch import forget_slot, watch_lead_flow
from alerts.policy import Policy
from alerts.queries import list_incidents
from core import db, metrics
from core.settings import Settings, get_settings
from integrations.apply import apply
from integrations.leads import flow
from integrations.leads.flow import (
    EVERY_S,
    FlowStats,
    baseline_windows,
    judge,
    measure,
    measure_windows,
    slot_of,
)
from integrations.leads.ledger import AttemptIn, record
from integrations.loader import load_text
from integrations.results import history
from integrations.specs.leads import LeadFlowSpec
from intmon.api.auth import create_token
from intmon.app import create_app
from intmon.cli import app
from intmon.migrations import upgrade

# A Monday, 10:00 UTC: on a slot boundary.
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
SPEC = LeadFlowSpec(window_s=3600, min_leads=10, acceptance_drop=0.25, latency_factor=3)
CONFIG = """version: 1
integrations:
  - id: bx
    name: Broker X
    kind: broker
    client: acme
    base_url: http://127.0.0.1:9
    checks: [{name: health, path: /health}]
    lead_flow: {window_s: 3600, min_leads: 10, acceptance_drop: 0.25}
  - id: quiet
    name: Quiet broker
    kind: broker
    client: acme
    base_url: http://127.0.0.1:9
    checks: [{name: health, path: /health}]
"""


def stats(delivered: int, rejected: int, median_s: float | None = 0.2) -> FlowStats:
    return FlowStats(delivered, rejected, median_s, (("duplicate phone", rejected),))


@pytest.mark.parametrize(
    ("name", "now", "usual", "state", "words"),
    [
        ("normal", stats(18, 2), stats(90, 10), "normal", "accepted 90 % of 20 leads"),
        ("a drop past the bound", stats(9, 11), stats(93, 7), "anomaly", "usually 93 % (of 100)"),
        ("a drop inside the bound", stats(14, 6), stats(93, 7), "normal", "accepted 70 %"),
        ("too few now", stats(2, 7), stats(93, 7), "unjudged", "the last window has fewer"),
        ("too few usually", stats(9, 11), stats(5, 0), "unjudged", "the baseline has fewer"),
        ("slower", stats(18, 2, 2.0), stats(90, 10, 0.5), "anomaly", "took 2.00 s per lead"),
        ("slower inside the factor", stats(18, 2, 1.4), stats(90, 10, 0.5), "normal", "90 %"),
        ("no baseline time", stats(18, 2, 2.0), stats(90, 10, None), "normal", "90 %"),
        ("a broker that never accepted", stats(0, 20), stats(0, 40), "normal", "accepted 0 %"),
    ],
)
def test_the_rules(name: str, now: FlowStats, usual: FlowStats, state: str, words: str) -> None:
    verdict = judge(SPEC, "bx", "Broker X", NOW, now, usual)
    assert verdict.state == state, name
    assert words in verdict.sentence(), verdict.sentence()
    if state == "anomaly":
        assert verdict.sentence().endswith("top reason: duplicate phone")


def test_a_bad_lead_flow_block_names_the_field() -> None:
    with pytest.raises(ValidationError) as error:
        LeadFlowSpec.model_validate({"window_s": 60, "acceptance_drop": 2, "typo": 1})
    words = str(error.value)
    assert "window_s" in words and "acceptance_drop" in words and "typo" in words


def test_the_baseline_is_the_same_hour_of_the_week() -> None:
    windows = baseline_windows(SPEC, NOW)
    assert windows[0] == (NOW - WEEK - timedelta(hours=1), NOW - WEEK)
    assert [start.weekday() for start, _ in windows] == [NOW.weekday()] * 4
    assert slot_of(NOW + timedelta(seconds=EVERY_S - 1)) == NOW


def leads(
    at: datetime,
    delivered: int,
    rejected: int,
    *,
    tag: str,
    integration: str = "bx",
    reason: str = "duplicate phone",
    duration_s: float = 0.3,
) -> list[AttemptIn]:
    """`delivered` + `rejected` answered leads spread over the hour before `at`."""
    made = []
    total = delivered + rejected
    for n in range(total):
        made.append(
            AttemptIn.model_validate(
                {
                    "lead_id": f"{tag}-{n}",
                    "integration": integration,
                    "at": (at - timedelta(minutes=59) + timedelta(seconds=3540 * n / total)),
                    "outcome": "delivered" if n < delivered else "rejected",
                    "http_status": 200 if n < delivered else 400,
                    "duration_s": duration_s,
                    "detail": "" if n < delivered or not reason else f"{reason}\nline two",
                }
            )
        )
    return made


def test_the_ledger_is_measured_per_window_with_its_reasons(db_engine: Engine) -> None:
    made = leads(NOW, 6, 3, tag="a") + leads(NOW, 1, 1, tag="b", reason="")
    made += leads(NOW - timedelta(hours=1), 50, 0, tag="old")  # the hour before: not counted
    made += leads(NOW, 5, 5, tag="q", integration="quiet")
    record(db_engine, made, {"bx", "quiet"})
    with db_engine.connect() as connection:
        found = measure(connection, ["bx", "quiet", "none"], NOW - timedelta(hours=1), NOW)
        pooled = measure_windows(
            connection,
            ["bx"],
            [(NOW - timedelta(hours=2), NOW - timedelta(hours=1)), (NOW - timedelta(hours=1), NOW)],
        )
    bx = found["bx"]
    assert (bx.delivered, bx.rejected, bx.median_s) == (7, 4, 0.3)
    assert bx.reasons == (("duplicate phone", 3), ("no reason given", 1))
    assert (found["quiet"].delivered, found["quiet"].rejected) == (5, 5)
    assert found["none"] == FlowStats(0, 0, None, ())
    assert pooled["bx"].delivered == 57


def test_a_busy_broker_does_not_crowd_a_quiet_one_out_of_the_medians(
    db_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each integration's median comes from its own latest delivery times, however
    many more the others in its group have."""
    monkeypatch.setattr(flow, "DURATIONS_MAX", 4)
    made = leads(NOW, 20, 0, tag="busy", duration_s=0.1)  # newer than the quiet one's
    made += leads(NOW - timedelta(minutes=61), 3, 0, tag="q", integration="quiet", duration_s=2.0)
    record(db_engine, made, {"bx", "quiet"})
    with db_engine.connect() as connection:
        found = measure(connection, ["bx", "quiet"], NOW - timedelta(hours=2), NOW)
    assert (found["bx"].median_s, found["quiet"].median_s) == (0.1, 2.0)


def test_a_drop_opens_one_incident_that_says_why_and_it_resolves(db_engine: Engine) -> None:
    apply(db_engine, load_text(CONFIG), NOW - 5 * WEEK)
    usual = []
    for week in range(1, 5):  # four normal weeks, every hour around this one
        for hour in range(-2, 4):
            at = NOW - week * WEEK + timedelta(hours=hour)
            usual += leads(at, 19, 1, tag=f"w{week}h{hour}", reason="bad email")
    usual += leads(NOW, 9, 11, tag="now")  # this hour: 45 % accepted
    usual += leads(NOW, 9, 11, tag="q", integration="quiet")  # no lead_flow: not judged
    record(db_engine, usual, {"bx", "quiet"})
    forget_slot()

    [verdict] = watch_lead_flow(db_engine, Policy(), NOW + timedelta(seconds=30))
    assert verdict.anomalous
    assert verdict.sentence() == (
        "Broker X accepted 45 % of 20 leads in the last 1 h, usually 95 % (of 80); "
        "top reason: duplicate phone"
    )
    [incident] = list_incidents(db_engine)
    assert (incident.integration_id, incident.family, incident.last_outcome) == (
        "bx",
        "lead_flow",
        "lead_flow_anomaly",
    )
    assert incident.ticket
    assert metrics.lead_acceptance.labels("bx")._value.get() == pytest.approx(0.45)
    assert metrics.lead_acceptance_usual.labels("bx")._value.get() == pytest.approx(0.95)

    # The same slot is judged once, by this process and by any other.
    assert watch_lead_flow(db_engine, Policy(), NOW + timedelta(seconds=60)) == []
    forget_slot()
    assert watch_lead_flow(db_engine, Policy(), NOW + timedelta(seconds=90)) == []
    assert len(history(db_engine, "bx", "leads:flow")) == 1

    # Two hours on, the broker accepts as it used to: two normal slots resolve it.
    record(db_engine, leads(NOW + timedelta(hours=2), 19, 1, tag="later"), {"bx"})
    later = NOW + timedelta(hours=2)
    assert not watch_lead_flow(db_engine, Policy(), later)[0].anomalous
    assert list_incidents(db_engine)[0].state == "open"
    record(db_engine, leads(later + timedelta(minutes=5), 2, 0, tag="more"), {"bx"})
    watch_lead_flow(db_engine, Policy(), later + timedelta(seconds=EVERY_S))
    assert list_incidents(db_engine)[0].state == "resolved"


def test_a_quiet_night_judges_nothing_and_stores_nothing(db_engine: Engine) -> None:
    apply(db_engine, load_text(CONFIG), NOW - 5 * WEEK)
    record(db_engine, leads(NOW, 1, 2, tag="few"), {"bx"})
    forget_slot()
    [verdict] = watch_lead_flow(db_engine, Policy(), NOW)
    assert verdict.unjudged and "fewer than 10" in verdict.sentence()
    assert history(db_engine, "bx", "leads:flow") == []
    assert list_incidents(db_engine) == []


ORBIT = """  - id: ox
    name: Orbit X
    kind: broker
    client: orbit
    base_url: http://127.0.0.1:9
    checks: [{name: health, path: /health}]
    lead_flow: {min_leads: 10}
"""


@pytest.fixture
def surfaces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """An embedded database with a drop at bx, as the CLI and the API see it."""
    url = f"sqlite:///{tmp_path / 'flow.db'}"
    monkeypatch.setenv("INTMON_DATABASE_URL", url)
    monkeypatch.delenv("INTMON_REDIS_URL", raising=False)
    monkeypatch.setattr(db, "utcnow", lambda: NOW)
    get_settings.cache_clear()
    engine = db.make_engine(url)
    upgrade(engine)
    apply(engine, load_text(CONFIG + ORBIT), NOW - 5 * WEEK)
    made = leads(NOW, 9, 11, tag="now")
    for week in range(1, 5):
        made += leads(NOW - week * WEEK, 19, 1, tag=f"w{week}")
    record(engine, made, {"bx"})
    yield engine
    engine.dispose()
    db.engine_for(url).dispose()
    get_settings.cache_clear()


def test_the_cli_shows_the_drop_and_its_reason(surfaces: Engine) -> None:
    runner = CliRunner()
    table = runner.invoke(app, ["leads", "flow"])
    assert table.exit_code == 0, table.output
    words = " ".join(table.output.split())
    assert "anomaly" in words and "45 % of 20" in words and "95 % of 80" in words
    assert "Broker X accepted 45 % of 20 leads" in words and "duplicate phone" in words
    assert "not judged" in words  # ox: no leads at all
    data = json.loads(runner.invoke(app, ["leads", "flow", "-i", "bx", "--json"]).output)
    assert [(v["integration"], v["state"]) for v in data] == [("bx", "anomaly")]
    assert data[0]["now"]["top_reasons"] == [{"reason": "duplicate phone", "count": 11}]
    # An hour ago the broker was still normal.
    earlier = runner.invoke(app, ["leads", "flow", "-i", "bx", "--at", "2026-11-30T09:00:00+00:00"])
    assert "Broker X accepted" not in earlier.output
    for args, field in (
        (["-i", "nope"], "--integration: unknown integration(s): nope"),
        (["-i", "quiet"], "--integration: no lead_flow block in the integrations file: quiet"),
        (["--at", "yesterday"], "--at: not an ISO date or time"),
    ):
        refused = runner.invoke(app, ["leads", "flow", *args])
        assert refused.exit_code != 0 and field in refused.output, refused.output


def test_the_api_answers_a_client_with_its_own_brokers_only(surfaces: Engine) -> None:
    tokens = {
        name: create_token(surfaces, role=role, client=client, now=NOW)[1]
        for name, role, client in (("support", "support", None), ("orbit", "client", "orbit"))
    }
    with TestClient(create_app(surfaces, Settings(redis_url=None))) as client:

        def get(who: str, query: str = "") -> Any:
            headers = {"Authorization": f"Bearer {tokens[who]}"}
            return client.get(f"/api/leads/flow{query}", headers=headers)

        every = get("support").json()
        assert [(v["integration"], v["state"]) for v in every] == [
            ("bx", "anomaly"),
            ("ox", "unjudged"),
        ]
        assert every[0]["usual"]["acceptance"] == pytest.approx(0.95)
        assert [v["integration"] for v in get("orbit").json()] == ["ox"]
        assert get("orbit", "?integration=bx").status_code == 404
        assert get("support", "?at=2026-11-30T10:00:00").status_code == 422
        assert get("support", "?at=soon").status_code == 422
