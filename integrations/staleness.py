"""Stale checks: a check that has produced no result for two of its intervals, and why.

A check can go quiet without failing: the partner's request budget leaves it no
room, its previous run never ends, or no worker (or scheduler) takes it. Until
issue 21 the board then kept showing the last "ok". Here a check is `stale` once
its latest result is `STALE_AFTER_INTERVALS` intervals old, with the reason:

- `budget`    — its due runs were skipped by the partner's request budget;
- `in_flight` — its due runs were skipped because the previous run is still running;
- `no_worker` — it was due but nothing ran it or recorded a skip: no worker
  took its batch, or no scheduler is sending it.

`freshness` is the pure rule; `check_freshness` reads what it needs (the
registry, each check's latest result, the skips `integrations.skips` recorded)
for the surfaces: `intmon status`, the API, the web board and the metrics.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from integrations.config import IntegrationSpec
from integrations.models import CheckSkip, CheckState, Integration
from integrations.registry import load_specs
from integrations.results import StateView

STALE_AFTER_INTERVALS = 2


class QuietReason(enum.StrEnum):
    BUDGET = "budget"
    IN_FLIGHT = "in_flight"
    NO_WORKER = "no_worker"


@dataclass(frozen=True, slots=True)
class Skip:
    """The latest skip of a check's due run."""

    reason: QuietReason
    at: datetime


@dataclass(frozen=True, slots=True)
class Freshness:
    stale: bool
    # Since the latest result, or since the check was configured when it has none.
    seconds_since_result: float
    reason: QuietReason | None  # why it is stale; None while it is not

    def as_dict(self) -> dict[str, Any]:
        return {
            "stale": self.stale,
            "stale_reason": self.reason.value if self.reason else None,
            "seconds_since_result": round(self.seconds_since_result, 1),
        }


def freshness(
    last_result_at: datetime, interval_s: float, now: datetime, skip: Skip | None
) -> Freshness:
    """Whether a check whose latest result (or configuration, before any) is from
    `last_result_at` is stale at `now`, and why. A skip only explains the silence
    when it is newer than that result: an older one was followed by a run."""
    age = max(0.0, (now - last_result_at).total_seconds())
    if age < STALE_AFTER_INTERVALS * interval_s:
        return Freshness(False, age, None)
    if skip is not None and skip.at > last_result_at:
        return Freshness(True, age, skip.reason)
    return Freshness(True, age, QuietReason.NO_WORKER)


CheckId = tuple[str, str]  # (integration id, check name)


def check_freshness(
    engine: Engine,
    now: datetime,
    integration_id: str | None = None,
    *,
    specs: Mapping[str, IntegrationSpec] | None = None,
    last_results: Mapping[CheckId, datetime] | None = None,
) -> dict[CheckId, Freshness]:
    """Every configured check of the active, enabled integrations (or of one) → its
    freshness at `now`. The specs come from the registry's cache of validated specs
    (`load_specs`: only those changed since are read again).

    A caller that has read them already (the board) passes `specs` (then only those
    integrations are judged) and each check's `last_results` time, and saves reading
    them twice."""
    integrations = select(Integration.id, Integration.updated_at).where(
        Integration.removed_at.is_(None), Integration.enabled.is_(True)
    )
    states = select(CheckState.integration_id, CheckState.check_name, CheckState.started_at)
    skips = select(CheckSkip)
    if integration_id is not None:
        integrations = integrations.where(Integration.id == integration_id)
        states = states.where(CheckState.integration_id == integration_id)
        skips = skips.where(CheckSkip.integration_id == integration_id)
    with engine.connect() as connection:
        registered = connection.execute(integrations).all()
        if last_results is None:
            last_results = {
                (r.integration_id, r.check_name): r.started_at for r in connection.execute(states)
            }
        skipped = {
            (r.integration_id, r.check_name): Skip(QuietReason(r.reason), r.skipped_at)
            for r in connection.execute(skips)
        }
    if specs is None:
        ids = None if integration_id is None else [integration_id]
        specs = {i: found.spec for i, found in load_specs(engine, ids).items()}
    out: dict[CheckId, Freshness] = {}
    for row in registered:
        spec = specs.get(row.id)
        for name, interval_s in _checks(spec) if spec is not None else ():
            key = (row.id, name)
            # A check that never ran counts from when its integration last changed.
            since = last_results.get(key) or row.updated_at
            out[key] = freshness(since, interval_s, now, skipped.get(key))
    return out


def _checks(spec: IntegrationSpec) -> list[tuple[str, float]]:
    return [(check.name, spec.interval_s) for check in spec.checks]


def state_rows(
    states: Sequence[StateView], fresh: Mapping[CheckId, Freshness]
) -> list[dict[str, Any]]:
    """The check states as plain dicts with their freshness (`stale`, `stale_reason`,
    `seconds_since_result`), then the stale checks that never produced a result
    (`outcome` None): what `intmon status --json` and the API return."""
    rows: list[dict[str, Any]] = []
    for state in states:
        key = (state.integration_id, state.check_name)
        found = fresh.get(key)
        # A check no longer configured, or of a disabled integration, is not expected to run.
        extra = found.as_dict() if found else {"stale": False, "stale_reason": None}
        rows.append({**asdict(state), **extra})
    shown = {(state.integration_id, state.check_name) for state in states}
    for key in sorted(k for k, f in fresh.items() if f.stale and k not in shown):
        rows.append(
            {
                "integration_id": key[0],
                "check_name": key[1],
                "outcome": None,
                **fresh[key].as_dict(),
            }
        )
    return rows
