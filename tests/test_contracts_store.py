"""Learned contracts in the database (integrations.contracts), on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from core.vocabulary.outcomes import CheckResult, Outcome
from core.vocabulary.shapes import Shape, shape_of
from integrations.apply import apply
from integrations.contracts import change_evidence, incident_diff, learn, learned
from integrations.results import record_results
from tests.test_registry import config

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
JSON = {"Content-Type": "application/json"}
V1 = shape_of(200, JSON, b'{"status": "ok"}')
V2 = shape_of(200, JSON, b'{"state": "ok"}')


def result(outcome: Outcome, minute: int, shape: Shape | None) -> CheckResult:
    return CheckResult(
        integration_id="a",
        check_name="health",
        outcome=outcome,
        started_at=T0 + timedelta(minutes=minute),
        duration_s=0.05,
        shape=shape,
    )


def store(engine: Engine, *results: CheckResult) -> None:
    with engine.begin() as connection:
        record_results(connection, list(results))
        learn(connection, list(results))


def contract(engine: Engine) -> tuple[Shape, datetime, datetime]:
    with engine.connect() as connection:
        found = learned(connection, "a", "health")
    assert found is not None
    return found.shape, found.since, found.learned_at


def test_the_latest_passing_shape_is_learned_and_since_kept_while_it_holds(
    db_engine: Engine,
) -> None:
    apply(db_engine, config("a"))
    store(db_engine, result(Outcome.OK, 0, V1))
    store(db_engine, result(Outcome.OK, 1, None), result(Outcome.SLOW, 2, V1))
    assert contract(db_engine) == (V1, T0, T0 + timedelta(minutes=2))

    # Failing answers never teach the contract, even shaped ones.
    store(db_engine, result(Outcome.CONTRACT_VIOLATION, 3, V2))
    assert contract(db_engine)[0] == V1

    # Two in one batch: the later one wins; a new shape starts a new `since`.
    store(db_engine, result(Outcome.OK, 5, V2), result(Outcome.OK, 4, V1))
    assert contract(db_engine) == (V2, T0 + timedelta(minutes=5), T0 + timedelta(minutes=5))

    # A late batch with an older answer does not put its shape back.
    store(db_engine, result(Outcome.OK, 1, V1))
    assert contract(db_engine)[0] == V2


def test_the_incident_diff_and_its_evidence(db_engine: Engine) -> None:
    apply(db_engine, config("a"))
    failing = result(Outcome.CONTRACT_VIOLATION, 3, V2)
    with db_engine.connect() as connection:
        assert incident_diff(connection, failing) is None  # nothing learned yet
    store(db_engine, result(Outcome.OK, 0, V1), result(Outcome.OK, 1, None))
    with db_engine.connect() as connection:
        assert incident_diff(connection, replace(failing, shape=None)) is None  # no answer
        stored = incident_diff(connection, failing)
    assert stored is not None and stored["summary"] == "`$.status` removed, `$.state` added"

    evidence = change_evidence({"contract_diff": stored})
    assert evidence is not None
    assert evidence.last_passing_at == T0 + timedelta(minutes=1)  # the run, not the sample
    assert (evidence.contract_since, evidence.observed_at) == (T0, failing.started_at)
    assert evidence.shape_changed and evidence.summary == stored["summary"]
    assert change_evidence({"contract_diff": None}) is None

    with pytest.raises(ValueError, match="contract_diff"):
        change_evidence({"contract_diff": {"changes": []}})
