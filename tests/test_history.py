"""Reading results back for people (integrations.history), on SQLite and PostgreSQL:
the latest results of every integration in one query, and keyset pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, event

from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.apply import apply
from integrations.history import ResultNotFound, latest_results, results_page
from integrations.loader import load_text
from integrations.results import record_results
from tests.alerts.helpers import T0, config_text


def seed(engine: Engine, counts: dict[str, int], start_minute: int = 0) -> None:
    apply(engine, load_text(config_text(*counts)), T0)
    record_results(
        engine,
        [
            CheckResult(
                integration_id=integration,
                check_name="health",
                outcome=Outcome.OK if minute % 3 else Outcome.TIMEOUT,
                started_at=T0 + timedelta(minutes=start_minute + minute),
                duration_s=minute / 100,
                http_status=200 if minute % 3 else None,
            )
            for integration, count in counts.items()
            for minute in range(count)
        ],
    )


def test_the_latest_results_of_every_integration_in_one_query(db_engine: Engine) -> None:
    seed(db_engine, {"a": 70, "b": 5, "c": 0})
    statements: list[str] = []
    event.listen(db_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    bars = latest_results(db_engine, T0, per_integration=50)
    # PostgreSQL reads each check's newest along its index; SQLite ranks with a window.
    pattern = "LATERAL" if db_engine.dialect.name == "postgresql" else "row_number() OVER"
    assert len(statements) == 1 and pattern in statements[0]
    assert set(bars) == {"a", "b"}  # c has no results at all
    assert [m.started_at for m in bars["a"]] == [
        T0 + timedelta(minutes=m) for m in range(20, 70)
    ]  # the newest 50, oldest first
    timeout, ok = Outcome.TIMEOUT, Outcome.OK
    assert [m.outcome for m in bars["b"]] == [timeout, ok, ok, timeout, ok]
    assert bars["b"][1].duration_s == pytest.approx(0.01) and bars["b"][1].http_status == 200


def test_the_bars_look_back_only_as_far_as_asked_and_for_whom(db_engine: Engine) -> None:
    seed(db_engine, {"a": 70, "b": 5})
    recent = latest_results(db_engine, T0 + timedelta(minutes=60))
    assert len(recent["a"]) == 10 and "b" not in recent
    only_b = latest_results(db_engine, T0, integration_ids=["b"])
    assert list(only_b) == ["b"]
    assert latest_results(db_engine, T0, integration_ids=[]) == {}


def test_a_bar_of_several_checks_is_the_newest_of_them_all(db_engine: Engine) -> None:
    """Two checks interleaved (and one in step with the other at the same second):
    the bar is the integration's newest results whichever check made them."""
    apply(db_engine, load_text(config_text("a")), T0)
    results = [
        CheckResult(
            integration_id="a",
            check_name=name,
            outcome=Outcome.OK if name == "health" else Outcome.SERVER_ERROR,
            started_at=T0 + timedelta(seconds=seconds),
            duration_s=0.1,
        )
        for name, times in (("health", range(0, 600, 10)), ("login", range(0, 600, 25)))
        for seconds in times
    ]
    record_results(db_engine, results)
    bar = latest_results(db_engine, T0, per_integration=30)["a"]
    # Ids follow the insertion order: at the same second, the later id is newer.
    order = sorted(range(len(results)), key=lambda i: (results[i].started_at, i))[-30:]
    assert [(m.started_at, m.check_name) for m in bar] == [
        (results[i].started_at, results[i].check_name) for i in order
    ]
    assert [m.started_at for m in bar] == sorted(m.started_at for m in bar)


def test_pages_of_older_results_by_keyset(db_engine: Engine) -> None:
    seed(db_engine, {"a": 23, "b": 3})
    seen: list[int] = []
    before = None
    sizes = []
    while True:
        page = results_page(db_engine, "a", before, size=10)
        sizes.append(len(page.results))
        seen += [row["id"] for row in page.results]
        assert {row["integration_id"] for row in page.results} == {"a"}
        if page.older is None:
            break
        assert page.older == page.results[-1]["id"]
        before = page.older
    assert sizes == [10, 10, 3]
    times = [row["started_at"] for row in results_page(db_engine, "a", size=100).results]
    assert times == sorted(times, reverse=True) and len(seen) == len(set(seen)) == 23


def test_results_at_the_same_moment_are_neither_lost_nor_repeated(db_engine: Engine) -> None:
    apply(db_engine, load_text(config_text("a")), T0)
    same = [
        CheckResult("a", "health", Outcome.OK, T0, duration_s=0.1 * i, http_status=200)
        for i in range(7)
    ]
    record_results(db_engine, same)
    first = results_page(db_engine, "a", size=3)
    second = results_page(db_engine, "a", first.older, size=3)
    third = results_page(db_engine, "a", second.older, size=3)
    ids = [row["id"] for page in (first, second, third) for row in page.results]
    assert len(ids) == len(set(ids)) == 7 and third.older is None


def test_a_page_before_a_result_of_another_integration_is_refused(db_engine: Engine) -> None:
    seed(db_engine, {"a": 3, "b": 3})
    of_b = results_page(db_engine, "b").results[0]["id"]
    with pytest.raises(ResultNotFound, match="before: no result"):
        results_page(db_engine, "a", of_b)
    with pytest.raises(ResultNotFound):
        results_page(db_engine, "a", 10_000)
