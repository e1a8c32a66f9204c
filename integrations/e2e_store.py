"""Scenario run history and postbacks in the database.

    create_run → (the runner runs, its inbox polls `take_callback`) → finish_run
    deliver_callback    what the API's `/callbacks/{run_id}/{name}` does with a postback
    list_runs/load_run  history for the CLI, the API and the console

Running a scenario around these (`DatabaseInbox`, `run_and_record`) is the
worker's: `worker.e2e_record`.

The API that receives a postback and the worker (or CLI) that waits for it may be
different processes; the table is how the callback crosses. "The first callback
of a name counts" is a unique constraint, and a run that has ended (its
`finished_at` is set) answers 410.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Insert, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.db import table_of
from core.vocabulary.callbacks import Callback, Delivery
from integrations.config import IntegrationSpec
from integrations.e2e_models import E2ECallback, E2ERun
from integrations.errors import RunNotFound
from integrations.results import storable
from integrations.scenarios import ScenarioSpec

if TYPE_CHECKING:  # the runner's report is stored here, not made here
    from checks.scenarios.report import ScenarioReport

RUNS = table_of(E2ERun)
CALLBACKS = table_of(E2ECallback)
ENDED = ("passed", "failed", "error")


def create_run(
    engine: Engine,
    run_id: str,
    spec: IntegrationSpec,
    scenario: ScenarioSpec,
    *,
    trigger: str,
    now: datetime,
    status: str = "queued",
    requested_by: str | None = None,
) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(RUNS).values(
                id=run_id,
                integration_id=spec.id,
                scenario=scenario.name,
                trigger=trigger,
                status=status,
                detail="",
                requested_by=requested_by,
                callbacks=scenario.callback_names,
                created_at=now,
                started_at=now if status == "running" else None,
            )
        )


def start_run(engine: Engine, run_id: str, now: datetime) -> bool:
    """Mark a queued run running; False when it is not queued (run by someone else)."""
    with engine.begin() as connection:
        return bool(
            connection.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id, RUNS.c.status == "queued")
                .values(status="running", started_at=now)
            ).rowcount
        )


def finish_run(engine: Engine, report: ScenarioReport, now: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(RUNS)
            .where(RUNS.c.id == report.run_id)
            .values(
                status=report.status.value,
                outcome=report.outcome.value,
                detail=storable(report.detail),
                finished_at=now,
                duration_s=report.duration_s,
                report=report.as_dict(),
            )
        )


def fail_run(engine: Engine, run_id: str, detail: str, now: datetime) -> None:
    """End a run that could not be run at all (its integration or scenario is gone)."""
    with engine.begin() as connection:
        connection.execute(
            update(RUNS)
            .where(RUNS.c.id == run_id, RUNS.c.status.in_(("queued", "running")))
            .values(status="error", detail=detail, finished_at=now)
        )


def view(row: Any, *, with_report: bool = False) -> dict[str, Any]:
    data = {
        "run_id": row.id,
        "integration": row.integration_id,
        "scenario": row.scenario,
        "trigger": row.trigger,
        "status": row.status,
        "outcome": row.outcome,
        "detail": row.detail,
        "requested_by": row.requested_by,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "duration_ms": None if row.duration_s is None else round(row.duration_s * 1000, 1),
    }
    if with_report:
        data["report"] = row.report
    return data


def load_run(engine: Engine, run_id: str) -> dict[str, Any]:
    with engine.connect() as connection:
        row = connection.execute(select(RUNS).where(RUNS.c.id == run_id)).first()
    if row is None:
        raise RunNotFound(f"no e2e run {run_id}")
    return view(row, with_report=True)


def list_runs(
    engine: Engine,
    *,
    integration_ids: Sequence[str] | None = None,
    scenario: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Runs newest first, without their reports."""
    columns = [c for c in RUNS.c if c.name != "report"]
    query = select(*columns).order_by(RUNS.c.created_at.desc(), RUNS.c.id).limit(limit)
    if integration_ids is not None:
        query = query.where(RUNS.c.integration_id.in_(list(integration_ids)))
    if scenario is not None:
        query = query.where(RUNS.c.scenario == scenario)
    with engine.connect() as connection:
        return [view(row) for row in connection.execute(query)]


# --- callbacks ---------------------------------------------------------------------


def deliver_callback(engine: Engine, run_id: str, callback: Callback) -> Delivery:
    """Store a postback for a running run (see the module docstring for the answers)."""
    with engine.begin() as connection:
        row = connection.execute(
            select(RUNS.c.status, RUNS.c.finished_at, RUNS.c.callbacks).where(RUNS.c.id == run_id)
        ).first()
        if row is None or callback.name not in (row.callbacks or []):
            return Delivery.UNKNOWN
        if row.finished_at is not None or row.status in ENDED:
            return Delivery.ENDED
        stored = connection.execute(
            _insert_once(connection.dialect.name)
            .values(
                run_id=run_id,
                name=callback.name,
                method=callback.method,
                received_at=callback.received_at,
                content_type=callback.content_type[:200],
                body=storable(callback.body.decode("utf-8", errors="replace")),
                query=callback.query,
                headers=callback.headers,
            )
            .returning(CALLBACKS.c.id)
        ).first()
    # ON CONFLICT DO NOTHING returns no row for the second callback of a name.
    return Delivery.ACCEPTED if stored is not None else Delivery.DUPLICATE


def _insert_once(dialect: str) -> Insert:
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement: Insert = module.insert(CALLBACKS).on_conflict_do_nothing(
        index_elements=[CALLBACKS.c.run_id, CALLBACKS.c.name]
    )
    return statement


def take_callback(engine: Engine, run_id: str, name: str) -> Callback | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(CALLBACKS).where(CALLBACKS.c.run_id == run_id, CALLBACKS.c.name == name)
        ).first()
    if row is None:
        return None
    return Callback(
        name=row.name,
        method=row.method,
        received_at=row.received_at,
        body=row.body.encode("utf-8"),
        content_type=row.content_type,
        query=dict(row.query or {}),
        headers=dict(row.headers or {}),
    )


def end_callbacks(engine: Engine, run_id: str, now: datetime) -> None:
    """From now on, postbacks to this run are answered 410."""
    with engine.begin() as connection:
        connection.execute(
            update(RUNS)
            .where(RUNS.c.id == run_id, RUNS.c.finished_at.is_(None))
            .values(finished_at=now)
        )
