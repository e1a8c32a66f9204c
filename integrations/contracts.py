"""Learned response contracts in the database, and the change evidence they give.

    learn(connection, results)        passing results with a sampled shape → one
                                      upsert per batch (worker's transaction)
    incident_diff(connection, result) the failing answer against the learned
                                      contract → the incident's `contract_diff`
    change_evidence(incident)         an incident row → ChangeEvidence | None,
                                      what the liability rule reads

The learned contract is the last sampled passing shape of the check (the probe
samples a passing answer at most every `contract_sample_s`, checks.contract):
simple, and it follows a deliberate change the partner made and we adapted to.
`since` is when that shape was first sampled, so "stable since" reads off it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Insert, case, func, select
from sqlalchemy.dialects import postgresql, sqlite

from core.db import table_of
from core.vocabulary.outcomes import CheckResult, Outcome
from core.vocabulary.shapes import Change, Shape, describe, diff
from integrations.models import CheckContract, CheckResultRow

CONTRACTS = table_of(CheckContract)
RESULTS = table_of(CheckResultRow)
PASSING = (Outcome.OK.value, Outcome.SLOW.value)


@dataclass(frozen=True, slots=True)
class LearnedContract:
    shape: Shape
    since: datetime
    learned_at: datetime


@dataclass(frozen=True, slots=True)
class ChangeEvidence:
    """What an auth or contract incident's failing answer changed, as evidence.

    `changes` is empty when the answer matched the learned contract. A change of
    status alone (200 → 401) does not show that the broker changed anything: our
    credentials may have expired; `shape_changed` says whether more changed.
    """

    check: str
    changes: tuple[Change, ...]
    last_passing_at: datetime | None
    contract_since: datetime
    observed_at: datetime

    @property
    def shape_changed(self) -> bool:
        return any(change.kind != "status" for change in self.changes)

    @property
    def summary(self) -> str:
        return describe(self.changes)


def learn(connection: Connection, results: Sequence[CheckResult]) -> None:
    """Refresh the learned contract of every check with a sampled passing answer
    in this batch: one executemany, nothing at all in the common case."""
    latest: dict[tuple[str, str], CheckResult] = {}
    for result in results:
        if result.shape is None or not result.outcome.is_up:
            continue
        key = (result.integration_id, result.check_name)
        if key not in latest or latest[key].started_at <= result.started_at:
            latest[key] = result
    if not latest:
        return
    rows = []
    for result in latest.values():
        assert result.shape is not None
        document = result.shape.to_json()
        rows.append(
            {
                "integration_id": result.integration_id,
                "check_name": result.check_name,
                "shape": document,
                "shape_hash": _hash(document),
                "since": result.started_at,
                "learned_at": result.started_at,
            }
        )
    connection.execute(_upsert(connection.dialect.name), rows)


def _hash(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _upsert(dialect: str) -> Insert:
    module: Any = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(CONTRACTS)
    new, old = stmt.excluded, CONTRACTS.c
    # A late batch must not put an older shape over a newer one.
    newer = new.learned_at >= old.learned_at
    same = old.shape_hash == new.shape_hash
    return stmt.on_conflict_do_update(
        index_elements=[old.integration_id, old.check_name],
        set_={
            "shape": case((newer, new.shape), else_=old.shape),
            "shape_hash": case((newer, new.shape_hash), else_=old.shape_hash),
            "since": case((same, old.since), (newer, new.since), else_=old.since),
            "learned_at": case((newer, new.learned_at), else_=old.learned_at),
        },
    )


def learned(connection: Connection, integration_id: str, check_name: str) -> LearnedContract | None:
    row = connection.execute(
        select(CONTRACTS.c.shape, CONTRACTS.c.since, CONTRACTS.c.learned_at).where(
            CONTRACTS.c.integration_id == integration_id, CONTRACTS.c.check_name == check_name
        )
    ).first()
    if row is None:
        return None
    return LearnedContract(Shape.from_json(row.shape), row.since, row.learned_at)


def last_passing_at(
    connection: Connection, integration_id: str, check_name: str, before: datetime
) -> datetime | None:
    """The latest passing run of the check before `before` (index on the check and
    its start time: the run just before a failure streak is read first)."""
    value = connection.execute(
        select(func.max(RESULTS.c.started_at)).where(
            RESULTS.c.integration_id == integration_id,
            RESULTS.c.check_name == check_name,
            RESULTS.c.started_at < before,
            RESULTS.c.outcome.in_(PASSING),
        )
    ).scalar()
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))  # SQLite's max() returns the stored text
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def incident_diff(connection: Connection, result: CheckResult) -> dict[str, Any] | None:
    """The `contract_diff` an incident opening on `result` stores; None when the
    answer was not shaped (no answer at all) or the check never passed."""
    if result.shape is None:
        return None
    contract = learned(connection, result.integration_id, result.check_name)
    if contract is None:
        return None
    changes = diff(contract.shape, result.shape)
    passed = last_passing_at(
        connection, result.integration_id, result.check_name, result.started_at
    )
    return {
        "check": result.check_name,
        "changes": [change.to_json() for change in changes],
        "summary": describe(changes),
        "observed_at": result.started_at.isoformat(),
        "last_passing_at": None if passed is None else passed.isoformat(),
        "contract_since": contract.since.isoformat(),
        "learned": contract.shape.to_json(),
        "observed": result.shape.to_json(),
    }


def change_evidence(incident: Any) -> ChangeEvidence | None:
    """An incident (a Row, a mapping or an `Incident`) → its change evidence, or
    None when it has none (not auth or contract, no answer, never passed)."""
    if isinstance(incident, Mapping):
        stored = incident.get("contract_diff")
    elif hasattr(incident, "_mapping"):
        stored = incident._mapping.get("contract_diff")
    else:
        stored = getattr(incident, "contract_diff", None)
    if not stored:
        return None
    try:
        return ChangeEvidence(
            check=str(stored["check"]),
            changes=tuple(Change.from_json(change) for change in stored["changes"]),
            last_passing_at=_time(stored.get("last_passing_at")),
            contract_since=_time(stored["contract_since"]) or datetime.min.replace(tzinfo=UTC),
            observed_at=_time(stored["observed_at"]) or datetime.min.replace(tzinfo=UTC),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"incident contract_diff is malformed: missing or bad {exc}") from None


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
