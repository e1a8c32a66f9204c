"""Uptime windows and service level objectives, from rollups (`integrations.uptime`).

An SLO (`slo:` of an integration) asks that `target` percent of counted results
be up over the last `window_days`. Its error budget is the share of results
allowed to fail: `remaining` is 1 while nothing failed, 0 when exactly the
allowance failed, negative beyond. A burn rate is the failing share over a short
window divided by the allowed share: at 1 the budget lasts exactly the SLO
window; at 14.4 over an hour, 2 % of a 30-day budget went in that hour (the
fast-burn alert in deploy/prometheus/rules.yml).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from integrations.config import SloSpec
from integrations.models import Integration
from integrations.uptime import Availability, availability

UPTIME_WINDOWS: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
BURN_WINDOWS: dict[str, timedelta] = {"1h": timedelta(hours=1), "6h": timedelta(hours=6)}


@dataclass(frozen=True, slots=True)
class SloStatus:
    integration_id: str
    target_percent: float
    window_days: int
    ratio: float | None  # over the SLO window; None when nothing counted
    budget_remaining: float | None
    burn_rates: dict[str, float | None]  # window label → burn rate


def uptime_windows(
    engine: Engine, now: datetime, integration_ids: Sequence[str] | None = None
) -> dict[str, dict[str, Availability]]:
    """Window label (24h, 7d, 30d) → integration → its availability up to now."""
    return {
        label: {
            found.integration_id: found
            for found in availability(engine, now - span, now, integration_ids=integration_ids)
        }
        for label, span in UPTIME_WINDOWS.items()
    }


def active_integrations(engine: Engine) -> list[str]:
    """The integrations applied and not removed, sorted."""
    query = select(Integration.id).where(Integration.removed_at.is_(None)).order_by(Integration.id)
    with engine.connect() as connection:
        return list(connection.execute(query).scalars())


def configured_slos(engine: Engine) -> dict[str, SloSpec]:
    """Integration → its SLO, for the integrations applied, enabled and with one."""
    query = select(Integration.id, Integration.spec).where(
        Integration.removed_at.is_(None), Integration.enabled.is_(True)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return {
        integration: SloSpec.model_validate(spec["slo"])
        for integration, spec in rows
        if spec.get("slo")
    }


def failing_share(found: Availability | None) -> float | None:
    if found is None or found.ratio is None:
        return None
    return 1.0 - found.ratio


def slo_statuses(engine: Engine, now: datetime) -> list[SloStatus]:
    slos = configured_slos(engine)
    if not slos:
        return []
    ids = sorted(slos)
    burns = {
        label: {
            a.integration_id: a for a in availability(engine, now - span, now, integration_ids=ids)
        }
        for label, span in BURN_WINDOWS.items()
    }
    statuses = []
    by_window: dict[int, dict[str, Availability]] = {}
    for integration in ids:
        slo = slos[integration]
        if slo.window_days not in by_window:
            start = now - timedelta(days=slo.window_days)
            by_window[slo.window_days] = {
                a.integration_id: a for a in availability(engine, start, now, integration_ids=ids)
            }
        found = by_window[slo.window_days].get(integration)
        allowed = 1.0 - slo.target / 100.0
        failing = failing_share(found)
        rates: dict[str, float | None] = {}
        for label in BURN_WINDOWS:
            share = failing_share(burns[label].get(integration))
            rates[label] = None if share is None else share / allowed
        statuses.append(
            SloStatus(
                integration_id=integration,
                target_percent=slo.target,
                window_days=slo.window_days,
                ratio=found.ratio if found else None,
                budget_remaining=None if failing is None else 1.0 - failing / allowed,
                burn_rates=rates,
            )
        )
    return statuses


def uptime_summary(
    engine: Engine,
    now: datetime,
    start: datetime,
    end: datetime,
    *,
    integration_ids: Sequence[str],
    per_check: bool = False,
    windows: bool = False,
) -> list[dict[str, object]]:
    """One plain row per integration (or check) for the CLI and the API: the period's
    figures, and with `windows` the 24 h / 7 d / 30 d ratios up to now."""
    recent: dict[str, dict[tuple[str, str | None], float | None]] = {}
    if windows:
        for label, span in UPTIME_WINDOWS.items():
            window = availability(
                engine, now - span, now, integration_ids=integration_ids, per_check=per_check
            )
            recent[label] = {(a.integration_id, a.check_name): a.ratio for a in window}
    rows: list[dict[str, object]] = []
    for found in availability(
        engine, start, end, integration_ids=integration_ids, per_check=per_check
    ):
        row: dict[str, object] = {
            "integration": found.integration_id,
            "check": found.check_name,
            "from": found.start,
            "to": found.end,
            "total": found.total,
            "up": found.up,
            "down": found.down,
            "maintenance": found.maintenance,
            "inhibited": found.inhibited,
            "ratio": found.ratio,
        }
        if windows:
            at = (found.integration_id, found.check_name)
            row["windows"] = {label: recent[label].get(at) for label in UPTIME_WINDOWS}
        rows.append(row)
    return rows
