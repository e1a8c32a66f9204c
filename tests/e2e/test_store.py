"""Run history and postbacks in the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from checks.scenarios.report import ScenarioReport, StepReport, StepStatus
from core.vocabulary.callbacks import Callback, Delivery
from core.vocabulary.outcomes import Outcome
from integrations.apply import apply
from integrations.e2e_store import (
    create_run,
    deliver_callback,
    fail_run,
    finish_run,
    list_runs,
    load_run,
    start_run,
)
from integrations.errors import RunNotFound
from integrations.loader import load_text
from tests.e2e.conftest import T0, lead_flow
from worker.e2e_record import DatabaseInbox


@pytest.fixture
def spec(db_engine: Engine):  # type: ignore[no-untyped-def]
    file = load_text(lead_flow("http://127.0.0.1:9"))
    apply(db_engine, file, T0)
    return file.integrations[0]


def callback(name: str = "accepted", body: bytes = b'{"lead_id": "L1"}') -> Callback:
    return Callback(name, "POST", T0, body, "application/json", {"q": "1"}, {"x-seen": "yes"})


def test_a_run_goes_from_queued_to_finished_with_its_report(db_engine: Engine, spec) -> None:  # type: ignore[no-untyped-def]
    scenario = spec.scenarios[0]
    create_run(db_engine, "run-a", spec, scenario, trigger="api", now=T0, requested_by="tester")
    assert start_run(db_engine, "run-a", T0 + timedelta(seconds=1))
    assert not start_run(db_engine, "run-a", T0)  # only a queued run starts, once
    report = ScenarioReport(
        "run-a",
        "acme",
        "lead-flow",
        StepStatus.FAILED,
        T0,
        2.5,
        [
            StepReport(
                "submit", "step", "request", StepStatus.FAILED, Outcome.SERVER_ERROR, "500\x00"
            )
        ],
        Outcome.SERVER_ERROR,
        "step 'submit': 500",
    )
    finish_run(db_engine, report, T0 + timedelta(seconds=3))

    run = load_run(db_engine, "run-a")
    assert (run["status"], run["outcome"], run["trigger"]) == ("failed", "server_error", "api")
    assert run["duration_ms"] == 2500.0 and run["requested_by"] == "tester"
    assert ScenarioReport.from_dict(run["report"]).steps[0].outcome is Outcome.SERVER_ERROR
    create_run(db_engine, "run-b", spec, scenario, trigger="schedule", now=T0 + timedelta(hours=1))
    fail_run(db_engine, "run-b", "the scenario was removed", T0)
    assert [r["run_id"] for r in list_runs(db_engine)] == ["run-b", "run-a"]
    assert [r["run_id"] for r in list_runs(db_engine, integration_ids=["other"])] == []
    assert "report" not in list_runs(db_engine)[0]
    assert load_run(db_engine, "run-b")["status"] == "error"
    with pytest.raises(RunNotFound):
        load_run(db_engine, "nope")
    with pytest.raises(IntegrityError):  # the trigger is checked by the database
        create_run(db_engine, "run-c", spec, scenario, trigger="cron", now=T0)


def test_postbacks_count_once_and_not_after_the_run(db_engine: Engine, spec) -> None:  # type: ignore[no-untyped-def]
    create_run(db_engine, "run-a", spec, spec.scenarios[0], trigger="cli", now=T0, status="running")
    inbox = DatabaseInbox(db_engine, "https://intmon.example/")
    assert inbox.url("run-a", "accepted") == "https://intmon.example/callbacks/run-a/accepted"
    assert asyncio.run(inbox.take("run-a", "accepted")) is None

    assert deliver_callback(db_engine, "nope", callback()) is Delivery.UNKNOWN
    assert deliver_callback(db_engine, "run-a", callback("other")) is Delivery.UNKNOWN
    assert deliver_callback(db_engine, "run-a", callback()) is Delivery.ACCEPTED
    assert deliver_callback(db_engine, "run-a", callback(body=b"again")) is Delivery.DUPLICATE

    got = asyncio.run(inbox.take("run-a", "accepted"))
    assert got is not None
    assert (got.body, got.query, got.headers) == (
        b'{"lead_id": "L1"}',
        {"q": "1"},
        {"x-seen": "yes"},
    )
    asyncio.run(inbox.close("run-a"))
    assert deliver_callback(db_engine, "run-a", callback()) is Delivery.ENDED
