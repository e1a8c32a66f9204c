"""Raw check results for the history tests, and the brute-force count they are checked against."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, insert, select

from core.vocabulary.outcomes import Outcome
from integrations.apply import apply
from integrations.loader import load_text
from integrations.models import CheckResultRow, CheckRollup, CheckState, RollupWatermark

T0 = datetime(2026, 11, 2, tzinfo=UTC)
INTEGRATIONS = ("acme", "orbit")
CHECKS = ("health", "orders")

CONFIG = "version: 1\nintegrations:\n" + "".join(
    f"""  - id: {integration}
    name: {integration.title()}
    kind: broker
    client: {integration}-client
    base_url: http://127.0.0.1:9
    interval_s: 60
    checks: [{{name: health, path: /health}}, {{name: orders, path: /orders}}]
{slo}"""
    for integration, slo in zip(
        INTEGRATIONS, ("    slo: {target: 99.0, window_days: 7}\n", ""), strict=True
    )
)


@dataclass(frozen=True, slots=True)
class Raw:
    integration_id: str
    check_name: str
    started_at: datetime
    outcome: Outcome
    duration_s: float = 0.1
    maintenance: bool = False
    inhibited: bool = False


def register(engine: Engine) -> None:
    apply(engine, load_text(CONFIG), T0 - timedelta(days=30))


def store(engine: Engine, rows: Sequence[Raw]) -> None:
    if not rows:
        return
    with engine.begin() as connection:
        connection.execute(
            insert(CheckResultRow),
            [
                {
                    "integration_id": row.integration_id,
                    "check_name": row.check_name,
                    "started_at": row.started_at,
                    "duration_s": row.duration_s,
                    "outcome": row.outcome.value,
                    "maintenance": row.maintenance,
                    "inhibited": row.inhibited,
                    "detail": "",
                    "response_excerpt": "",
                    "warnings": [],
                }
                for row in rows
            ],
        )
        # As `record_results` leaves it: every check that has results has a state
        # (the readers of a few integrations find their checks there).
        stated = set(connection.execute(select(CheckState.integration_id, CheckState.check_name)))
        newest: dict[tuple[str, str], Raw] = {}
        for row in rows:
            key = (row.integration_id, row.check_name)
            if key not in stated and (key not in newest or newest[key].started_at < row.started_at):
                newest[key] = row
        if newest:
            connection.execute(
                insert(CheckState),
                [
                    {
                        "integration_id": row.integration_id,
                        "check_name": row.check_name,
                        "outcome": row.outcome.value,
                        "up": row.outcome.is_up,
                        "streak": 1,
                        "since": row.started_at,
                        "started_at": row.started_at,
                        "duration_s": row.duration_s,
                    }
                    for row in newest.values()
                ],
            )


def forget_history(engine: Engine) -> None:
    with engine.begin() as connection:
        for model in (CheckResultRow, CheckRollup, RollupWatermark):
            connection.execute(delete(model))


def brute_force(
    rows: Iterable[Raw], start: datetime, end: datetime, *, per_check: bool = False
) -> dict[tuple[str, str | None], tuple[int, int, int, int, int]]:
    """(total, up, down, maintenance, inhibited) per integration (or check), from raw rows."""
    found: dict[tuple[str, str | None], list[int]] = {}
    for row in rows:
        if not start <= row.started_at < end:
            continue
        key = (row.integration_id, row.check_name if per_check else None)
        counts = found.setdefault(key, [0, 0, 0, 0, 0])
        counts[0] += 1
        if row.maintenance:
            counts[3] += 1
        elif row.inhibited:
            counts[4] += 1
        elif row.outcome.is_up:
            counts[1] += 1
        else:
            counts[2] += 1
    return {key: (c[0], c[1], c[2], c[3], c[4]) for key, c in found.items()}
