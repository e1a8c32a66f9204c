"""An attempt recorded without a number gets the next one for its lead (issue 26:
"attempt numbers default to the next one"), and numbering never loses an attempt:
a resent file is still a duplicate, and two recorders at once both store theirs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from integrations.leads.ledger import ATTEMPTS, AttemptIn, LeadError, record

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def attempt(lead: str, minutes: int, number: int | None = None) -> AttemptIn:
    data = {
        "lead_id": lead,
        "integration": "bx",
        "at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "outcome": "failed_connection",
        "http_status": 502,
    }
    if number is not None:
        data["attempt"] = number
    return AttemptIn.model_validate(data)


def stored(engine: Engine) -> list[tuple[str, int, datetime]]:
    query = select(ATTEMPTS.c.lead_id, ATTEMPTS.c.attempt, ATTEMPTS.c.at).order_by(
        ATTEMPTS.c.lead_id, ATTEMPTS.c.attempt
    )
    with engine.connect() as connection:
        return [(r.lead_id, r.attempt, r.at.astimezone(UTC)) for r in connection.execute(query)]


def test_attempts_without_numbers_are_numbered_in_the_order_they_ran(db_engine: Engine) -> None:
    # Given out of order, and for two leads.
    done = record(db_engine, [attempt("L1", 5), attempt("L2", 1), attempt("L1", 1)], {"bx"})
    assert len(done.stored) == 3
    assert stored(db_engine) == [
        ("L1", 1, T0 + timedelta(minutes=1)),
        ("L1", 2, T0 + timedelta(minutes=5)),
        ("L2", 1, T0 + timedelta(minutes=1)),
    ]


def test_a_resent_file_without_numbers_is_a_duplicate(db_engine: Engine) -> None:
    batch = [attempt("L1", 1), attempt("L1", 2)]
    record(db_engine, batch, {"bx"})
    again = record(db_engine, batch, {"bx"})
    assert again.stored == [] and again.duplicates == ["L1"]
    assert [n for _, n, _ in stored(db_engine)] == [1, 2]


def test_numbers_continue_after_those_stored_and_those_given(db_engine: Engine) -> None:
    record(db_engine, [attempt("L1", 0, number=1)], {"bx"})
    record(db_engine, [attempt("L1", 3, number=4), attempt("L1", 9)], {"bx"})
    assert [(n, at) for _, n, at in stored(db_engine)] == [
        (1, T0),
        (4, T0 + timedelta(minutes=3)),
        (5, T0 + timedelta(minutes=9)),
    ]


def test_past_the_last_number_the_attempt_is_refused_by_line(db_engine: Engine) -> None:
    record(db_engine, [attempt("L1", 0, number=1000)], {"bx"})
    with pytest.raises(LeadError) as refused:
        record(db_engine, [attempt("L1", 1)], {"bx"})
    assert refused.value.problems == [(0, "attempt", "the lead already has 1000 attempts")]


def test_two_recorders_numbering_one_lead_at_once_both_store(pg_engine: Engine) -> None:
    rounds, errors = 10, []
    together = threading.Barrier(2)  # both read the lead's numbers at the same moment

    def recorder(offset: int) -> None:
        try:
            for index in range(rounds):
                together.wait(timeout=10)
                record(pg_engine, [attempt("L1", offset + 2 * index)], {"bx"})
        except Exception as error:  # the assertion below shows it
            errors.append(error)

    threads = [threading.Thread(target=recorder, args=(offset,)) for offset in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    numbers = [n for _, n, _ in stored(pg_engine)]
    assert numbers == list(range(1, 2 * rounds + 1))
