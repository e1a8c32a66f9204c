"""Storing check results a batch at a time, and reading history and state back.

One transaction per batch: the result rows (COPY on PostgreSQL, one multi-row
INSERT on SQLite) and the per-check state (one upsert). A row per commit would
cap the pipeline at a few hundred checks/s on PostgreSQL. On PostgreSQL the
state upsert is one statement per batch over arrays (`INSERT … SELECT FROM
unnest(…) ON CONFLICT`): with the COPY, a batch of 200 costs the worker and the
database 17% less CPU than with the upsert sent row by row (`executemany`;
docs/benchmarks.md, issue 27).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Insert,
    bindparam,
    case,
    column,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from core.db import table_of
from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.models import CheckResultRow, CheckState


@dataclass(frozen=True, slots=True)
class Recorded:
    """A result as stored: with whether it ran in maintenance, whether a platform
    outage held it back (`inhibited`: intmon's own network was failing) and its
    failure family (None when it passed). All come from later stages; storing them
    here keeps the per-check streaks that open and resolve incidents in the same
    upsert. A result in maintenance or inhibited neither extends nor breaks a streak."""

    result: CheckResult
    maintenance: bool = False
    family: str | None = None
    inhibited: bool = False

    @property
    def paused(self) -> bool:
        return self.maintenance or self.inhibited


def record_results(target: Engine | Connection, results: Sequence[CheckResult | Recorded]) -> None:
    """Append the results and move each check's state forward, in one transaction
    (the caller's, when given a connection).

    Results for the same check must arrive in the order they ran; the scheduler
    guarantees it by never running a check while its previous run is in flight.
    """
    if not results:
        return
    rows = [r if isinstance(r, Recorded) else Recorded(r) for r in results]
    if isinstance(target, Connection):
        _write(target, rows)
        return
    with target.begin() as connection:
        _write(connection, rows)


def _write(connection: Connection, rows: list[Recorded]) -> None:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        _copy_results(connection, rows)
    else:
        connection.execute(insert(CheckResultRow), [_result_row(r) for r in rows])
    states = [_state_row(r) for r in rows]
    if dialect == "postgresql":
        for round_ in _rounds(states):
            connection.execute(_state_upsert_unnest(), _as_arrays(round_))
    else:
        connection.execute(_state_upsert(dialect), states)


RESULT_COLUMNS = (
    "integration_id",
    "check_name",
    "scheduled_at",
    "started_at",
    "duration_s",
    "http_status",
    "outcome",
    "detail",
    "response_excerpt",
    "warnings",
    "maintenance",
    "inhibited",
)


def _copy_results(connection: Connection, results: Sequence[Recorded]) -> None:
    """COPY the rows in, inside the caller's transaction: on PostgreSQL several
    times cheaper per row than a multi-row INSERT, and this is the hot path."""
    from psycopg.types.json import Json

    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY check_results ({', '.join(RESULT_COLUMNS)}) FROM STDIN") as copy:
        for result in results:
            row = _result_row(result)
            row["warnings"] = Json(row["warnings"])
            copy.write_row(tuple(row[column] for column in RESULT_COLUMNS))


def storable(text: str) -> str:
    """Text as PostgreSQL can store it: a partner's body may hold NUL bytes, which
    text columns reject (and one bad row would lose its whole batch)."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _result_row(recorded: Recorded) -> dict[str, Any]:
    result = recorded.result
    return {
        "integration_id": result.integration_id,
        "check_name": result.check_name,
        "scheduled_at": result.scheduled_at,
        "started_at": result.started_at,
        "duration_s": result.duration_s,
        "http_status": result.http_status,
        "outcome": result.outcome.value,
        "detail": storable(result.detail),
        "response_excerpt": storable(result.response_excerpt),
        "warnings": list(result.warnings),
        "maintenance": recorded.maintenance,
        "inhibited": recorded.inhibited,
    }


def _state_row(recorded: Recorded) -> dict[str, Any]:
    result = recorded.result
    return {
        "integration_id": result.integration_id,
        "check_name": result.check_name,
        "outcome": result.outcome.value,
        "up": result.outcome.is_up,
        "streak": 1,
        "since": result.started_at,
        "started_at": result.started_at,
        "duration_s": result.duration_s,
        "http_status": result.http_status,
        "detail": storable(result.detail),
        "certificate_expires_at": result.certificate_expires_at,
        "family": None if recorded.paused else recorded.family,
        "family_streak": 0 if recorded.paused else 1,
        "family_since": None if recorded.paused else result.started_at,
        "in_maintenance": recorded.maintenance,
        "inhibited": recorded.inhibited,
    }


STATE_COLUMNS = (
    "integration_id",
    "check_name",
    "outcome",
    "up",
    "streak",
    "since",
    "started_at",
    "duration_s",
    "http_status",
    "detail",
    "certificate_expires_at",
    "family",
    "family_streak",
    "family_since",
    "in_maintenance",
    "inhibited",
)


def _rounds(states: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split a batch's state rows so no check appears twice in one statement.

    One `INSERT … ON CONFLICT DO UPDATE` may not touch a row twice (PostgreSQL
    refuses), while the rows of one check must apply in batch order, each on top
    of the one before, as row-by-row statements would. Round k holds the k-th row
    of every check: one round in the usual batch (one run per check), and the
    rounds run in order. Within a round the rows are sorted by key, so two
    transactions upserting the same checks lock them in the same order.
    """
    rounds: list[list[dict[str, Any]]] = []
    seen: dict[tuple[str, str], int] = {}
    for state in states:
        key = (state["integration_id"], state["check_name"])
        k = seen.get(key, 0)
        seen[key] = k + 1
        if k == len(rounds):
            rounds.append([])
        rounds[k].append(state)
    for round_ in rounds:
        round_.sort(key=lambda state: (state["integration_id"], state["check_name"]))
    return rounds


def _as_arrays(states: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Column name → the round's values of it, in row order (one array parameter each)."""
    return {name: [state[name] for state in states] for name in STATE_COLUMNS}


@lru_cache(maxsize=1)
def _state_upsert_unnest() -> Insert:
    """PostgreSQL: the state upsert for a whole round of rows in one statement,
    the rows passed as one typed array per column and turned back into rows by
    `unnest`; on conflict the same per-row update as `_state_upsert`."""
    table = table_of(CheckState)
    # psycopg renders each as `%(name)s::TYPE[]`: typed even when all its values are NULL.
    arrays = [bindparam(name, type_=postgresql.ARRAY(table.c[name].type)) for name in STATE_COLUMNS]
    rows = (
        func.unnest(*arrays)
        .table_valued(*(column(name, table.c[name].type) for name in STATE_COLUMNS))
        .render_derived(name="given")
    )
    stmt = postgresql.insert(table).from_select(list(STATE_COLUMNS), select(*rows.c))
    return _on_conflict_update(stmt)


@lru_cache(maxsize=4)
def _state_upsert(dialect: str) -> Insert:
    # Built once per dialect: a statement object memoizes its cache key, and building
    # a new one every batch made SQLAlchemy walk the whole upsert each time.
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return _on_conflict_update(module.insert(CheckState.__table__))


def _on_conflict_update(stmt: Any) -> Insert:
    """Move a check's state forward by one result (the row `excluded` holds)."""
    table = CheckState.__table__
    new = stmt.excluded
    same_state = table.c.up == new.up
    # A result in maintenance, or held back by a platform outage, neither extends
    # nor breaks a failure streak.
    paused = or_(new.in_maintenance, new.inhibited)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.integration_id, table.c.check_name],
        set_={
            "outcome": new.outcome,
            "up": new.up,
            "streak": case((same_state, table.c.streak + 1), else_=1),
            "since": case((same_state, table.c.since), else_=new.since),
            "started_at": new.started_at,
            "duration_s": new.duration_s,
            "http_status": new.http_status,
            "detail": new.detail,
            "certificate_expires_at": case(
                (new.certificate_expires_at.is_(None), table.c.certificate_expires_at),
                else_=new.certificate_expires_at,
            ),
            "family": case((paused, table.c.family), else_=new.family),
            "family_streak": case(
                (paused, table.c.family_streak),
                (table.c.family.is_not_distinct_from(new.family), table.c.family_streak + 1),
                else_=1,
            ),
            "family_since": case(
                (paused, table.c.family_since),
                (table.c.family.is_not_distinct_from(new.family), table.c.family_since),
                else_=new.family_since,
            ),
            "in_maintenance": new.in_maintenance,
            "inhibited": new.inhibited,
        },
    )


@dataclass(frozen=True, slots=True)
class StateView:
    integration_id: str
    check_name: str
    outcome: Outcome
    up: bool
    streak: int
    since: datetime
    started_at: datetime
    duration_s: float
    http_status: int | None
    detail: str
    # Its latest result was a connectivity failure held back by a platform outage.
    inhibited: bool = False
    # Unix time the partner's TLS certificate expires, as last read (None: never read).
    certificate_expires_at: float | None = None


def current_states(engine: Engine, integration_id: str | None = None) -> list[StateView]:
    query = select(CheckState).order_by(CheckState.integration_id, CheckState.check_name)
    if integration_id is not None:
        query = query.where(CheckState.integration_id == integration_id)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        StateView(
            integration_id=row.integration_id,
            check_name=row.check_name,
            outcome=Outcome(row.outcome),
            up=row.up,
            streak=row.streak,
            since=row.since,
            started_at=row.started_at,
            duration_s=row.duration_s,
            http_status=row.http_status,
            detail=row.detail,
            inhibited=row.inhibited,
            certificate_expires_at=row.certificate_expires_at,
        )
        for row in rows
    ]


def history(
    engine: Engine, integration_id: str, check_name: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The latest results of an integration (newest first), as plain dicts."""
    table = CheckResultRow.__table__
    query = (
        select(table)
        .where(table.c.integration_id == integration_id)
        .order_by(table.c.started_at.desc(), table.c.id.desc())
        .limit(limit)
    )
    if check_name is not None:
        query = query.where(table.c.check_name == check_name)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def first_seen_by_outcome(engine: Engine) -> dict[Outcome, datetime]:
    """When each outcome first occurred (outcomes never seen are absent)."""
    table = CheckResultRow.__table__
    query = select(table.c.outcome, func.min(table.c.started_at)).group_by(table.c.outcome)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    # min() on SQLite returns the stored string, not a datetime; normalise through the type.
    return {
        Outcome(outcome): first if isinstance(first, datetime) else _parse(first)
        for outcome, first in rows
    }


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def count_results(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(CheckResultRow)).scalar_one()
        )
