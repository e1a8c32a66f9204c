"""Batched result storage and per-check state, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.apply import apply
from integrations.results import count_results, current_states, history, record_results
from tests.test_registry import config

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def result(outcome: Outcome, minute: int, check: str = "health") -> CheckResult:
    return CheckResult(
        integration_id="a",
        check_name=check,
        outcome=outcome,
        started_at=T0 + timedelta(minutes=minute),
        duration_s=0.05,
        http_status=200 if outcome.is_up else 500,
        detail=f"minute {minute}",
        scheduled_at=T0 + timedelta(minutes=minute),
    )


def test_batches_are_stored_and_state_tracks_streaks(db_engine: Engine) -> None:
    apply(db_engine, config("a"))
    record_results(db_engine, [result(Outcome.OK, 0)])
    record_results(db_engine, [result(Outcome.SLOW, 1)])  # slow is still up
    (state,) = current_states(db_engine)
    assert (state.outcome, state.up, state.streak, state.since) == (Outcome.SLOW, True, 2, T0)

    record_results(db_engine, [result(Outcome.SERVER_ERROR, 2)])
    record_results(db_engine, [result(Outcome.TIMEOUT, 3)])
    (state,) = current_states(db_engine)
    assert (state.outcome, state.up, state.streak) == (Outcome.TIMEOUT, False, 2)
    assert state.since == T0 + timedelta(minutes=2)

    rows = history(db_engine, "a")
    assert [r["outcome"] for r in rows] == ["timeout", "server_error", "slow", "ok"]
    assert rows[0]["started_at"] == T0 + timedelta(minutes=3)  # timezone-aware on both backends


def test_one_batch_many_checks(db_engine: Engine) -> None:
    apply(db_engine, config("a"))
    batch = [result(Outcome.OK, 0, check=f"c{i}") for i in range(200)]
    record_results(db_engine, batch)
    assert count_results(db_engine) == 200
    assert len(current_states(db_engine)) == 200


def test_nul_bytes_from_a_partner_do_not_lose_the_batch(db_engine: Engine) -> None:
    apply(db_engine, config("a"))
    hostile = result(Outcome.CONTRACT_VIOLATION, 0)
    hostile.detail = "body starts with \x00\x00"
    hostile.response_excerpt = "\x00binary\x00"
    record_results(db_engine, [hostile, result(Outcome.OK, 1, check="other")])
    rows = history(db_engine, "a")
    assert len(rows) == 2
    stored = next(r for r in rows if r["check_name"] == "health")
    assert stored["response_excerpt"] == "\ufffdbinary\ufffd"
    assert "\x00" not in stored["detail"]
