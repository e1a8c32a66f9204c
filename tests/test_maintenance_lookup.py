"""The maintenance windows of a batch's integrations, read in one statement.

Every stored batch asks for its integrations' windows (`alerts.intake`). On
PostgreSQL the ids go as one array parameter (`= ANY(:ids)`), so the statement
text is the same for 1 id or 200; SQLite keeps an expanding IN.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, event

from integrations.apply import apply
from integrations.maintenance import add_window, list_windows, windows_by_integration
from tests.test_registry import config

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
WEEKLY = {"weekly": {"days": ["sun"], "start": "02:00", "end": "03:00"}}


@contextmanager
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def note(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if "maintenance_windows" in statement:
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_windows_of_the_asked_integrations_only(db_engine: Engine) -> None:
    apply(db_engine, config("a", "b", "c"))
    add_window(db_engine, "a", {**WEEKLY, "id": "sunday"}, T0)
    add_window(db_engine, "a", {**WEEKLY, "id": "again"}, T0)
    add_window(db_engine, "c", WEEKLY, T0)

    found = windows_by_integration(db_engine, {"a", "b"})
    assert set(found) == {"a"} and len(found["a"]) == 2
    assert windows_by_integration(db_engine, []) == {}
    with db_engine.connect() as connection:  # inside a caller's transaction too
        assert set(windows_by_integration(connection, ["c", "nobody"])) == {"c"}
    assert [(w.integration_id, w.name) for w in list_windows(db_engine, ["a"])] == [
        ("a", "again"),
        ("a", "sunday"),
    ]
    assert len(list_windows(db_engine)) == 3


def test_postgres_sends_the_ids_as_one_array(pg_engine: Engine) -> None:
    apply(pg_engine, config("a"))
    add_window(pg_engine, "a", WEEKLY, T0)
    with statements(pg_engine) as seen:
        windows_by_integration(pg_engine, ["a"])
        windows_by_integration(pg_engine, ["a", *(f"x{i}" for i in range(199))])
    (one, _), (many, params) = seen
    assert one == many and "ANY" in many
    assert list(params) == ["ids"] and len(params["ids"]) == 200
