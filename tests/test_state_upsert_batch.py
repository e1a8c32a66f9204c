"""The check-state upsert of a whole batch equals the same rows applied one by one.

On PostgreSQL a batch's state rows go in as one `INSERT … SELECT FROM unnest(…)
ON CONFLICT` per round (`integrations.results`); on SQLite as one executemany.
Both must leave exactly the state that one statement per row leaves, including
when a batch holds the same check more than once, out of time order, with
maintenance, inhibition, failure families and certificate expiry mixed in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.apply import apply
from integrations.results import Recorded, _rounds, current_states, record_results
from tests.test_registry import config

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def recorded(
    integration: str,
    check: str,
    outcome: Outcome,
    second: int,
    *,
    family: str | None = None,
    maintenance: bool = False,
    inhibited: bool = False,
    certificate: float | None = None,
) -> Recorded:
    result = CheckResult(
        integration_id=integration,
        check_name=check,
        outcome=outcome,
        started_at=T0 + timedelta(seconds=second),
        duration_s=0.01 * (second + 1),
        http_status=200 if outcome.is_up else None,
        detail=f"{check} at {second}",
        scheduled_at=T0 + timedelta(seconds=second),
        certificate_expires_at=certificate,
    )
    return Recorded(result, maintenance=maintenance, family=family, inhibited=inhibited)


def script(integration: str) -> tuple[list[Recorded], list[Recorded]]:
    """A batch that seeds state, then a batch with repeats and out-of-order rows."""
    seed = [
        recorded(integration, "steady", Outcome.OK, 0, certificate=1.9e9),
        recorded(integration, "flaky", Outcome.TIMEOUT, 0, family="connectivity"),
        recorded(integration, "paused", Outcome.SERVER_ERROR, 0, family="server"),
    ]
    batch = [
        # The same check three times: each row applies on top of the one before.
        recorded(integration, "flaky", Outcome.TIMEOUT, 5, family="connectivity"),
        recorded(integration, "steady", Outcome.SLOW, 3),
        recorded(integration, "flaky", Outcome.OK, 4),  # older than the row before it
        recorded(integration, "fresh", Outcome.AUTH_FAILURE, 9, family="auth"),
        recorded(integration, "flaky", Outcome.CONNECTION_REFUSED, 2, family="connectivity"),
        # Maintenance and inhibition neither extend nor break a family streak.
        recorded(integration, "paused", Outcome.SERVER_ERROR, 1, maintenance=True, family="server"),
        recorded(integration, "paused", Outcome.TIMEOUT, 2, inhibited=True, family="connectivity"),
        recorded(integration, "paused", Outcome.SERVER_ERROR, 3, family="server"),
        recorded(integration, "fresh", Outcome.AUTH_FAILURE, 1, family="auth", certificate=2e9),
        recorded(integration, "steady", Outcome.OK, 1, certificate=None),
    ]
    return seed, batch


def states_of(engine: Engine, integration: str) -> dict[str, tuple[object, ...]]:
    return {
        state.check_name: (
            state.outcome,
            state.up,
            state.streak,
            state.since,
            state.started_at,
            state.duration_s,
            state.http_status,
            state.detail,
            state.inhibited,
            state.certificate_expires_at,
        )
        for state in current_states(engine, integration)
    }


def families_of(engine: Engine, integration: str) -> dict[str, tuple[object, ...]]:
    from sqlalchemy import select

    from integrations.models import CheckState

    table = CheckState.__table__
    query = select(
        table.c.check_name,
        table.c.family,
        table.c.family_streak,
        table.c.family_since,
        table.c.in_maintenance,
    ).where(table.c.integration_id == integration)
    with engine.connect() as connection:
        return {row[0]: tuple(row[1:]) for row in connection.execute(query)}


def test_batch_upsert_equals_row_by_row(db_engine: Engine) -> None:
    apply(db_engine, config("rows", "batch"))
    seed, batch = script("rows")
    for row in [*seed, *batch]:
        record_results(db_engine, [row])  # one statement per row: the reference

    seed, batch = script("batch")
    record_results(db_engine, seed)
    record_results(db_engine, batch)

    by_row, by_batch = states_of(db_engine, "rows"), states_of(db_engine, "batch")
    assert by_batch == {name: tuple(v) for name, v in by_row.items()}
    assert families_of(db_engine, "batch") == families_of(db_engine, "rows")
    # The script exercises what it claims to: a check applied three times in one batch.
    assert by_batch["flaky"][:3] == (Outcome.CONNECTION_REFUSED, False, 1)
    assert by_batch["steady"][2] == 3 and by_batch["steady"][9] == 1.9e9
    assert families_of(db_engine, "batch")["paused"][:2] == ("server", 2)


def test_a_batch_of_new_checks_inserts_every_row(db_engine: Engine) -> None:
    apply(db_engine, config("a"))
    rows = [recorded("a", f"c{i:03d}", Outcome.OK, i) for i in range(300)]
    record_results(db_engine, rows)
    states = current_states(db_engine, "a")
    assert [s.check_name for s in states] == [f"c{i:03d}" for i in range(300)]
    assert all(s.streak == 1 and s.certificate_expires_at is None for s in states)


def test_rounds_keep_each_checks_rows_in_batch_order() -> None:
    rows = [
        {"integration_id": "b", "check_name": "x", "n": 1},
        {"integration_id": "a", "check_name": "x", "n": 2},
        {"integration_id": "b", "check_name": "x", "n": 3},
        {"integration_id": "b", "check_name": "x", "n": 4},
    ]
    assert [[row["n"] for row in round_] for round_ in _rounds(rows)] == [[2, 1], [3], [4]]
