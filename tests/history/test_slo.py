"""SLOs, uptime windows and the history metrics, read from rollups; the housekeeping
pass writes the rollups; settings and the integrations file refuse bad values."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import ValidationError
from sqlalchemy import Engine

from alerts.housekeeping import housekeep
from alerts.policy import Policy
from core.settings import Settings
from core.vocabulary.outcomes import Outcome
from integrations.loader import load_text
from integrations.rollups import rollup_retention_of, watermark
from integrations.slo import slo_statuses, uptime_windows
from intmon.metrics import HistoryCollector, aggregate_registry
from tests.history.results_data import CONFIG, T0, Raw, register, store

NOW = T0 + timedelta(days=7)


def a_week(engine: Engine) -> None:
    """acme: a result a minute for 7 days; 1 % fail in the first 6 days (as its SLO
    allows), the last hour fails 20 %. orbit: all up, half of it in maintenance."""
    rows = []
    for minute in range(7 * 24 * 60):
        at = T0 + timedelta(minutes=minute)
        last_hour = minute >= 7 * 24 * 60 - 60
        failing = minute % 5 == 0 if last_hour else minute % 100 == 0 and minute < 6 * 1440
        rows.append(Raw("acme", "health", at, Outcome.TIMEOUT if failing else Outcome.OK))
        rows.append(Raw("orbit", "health", at, Outcome.OK, maintenance=minute % 2 == 0))
    store(engine, rows)


def test_slo_budget_and_burn_rates(db_engine: Engine) -> None:
    register(db_engine)
    a_week(db_engine)
    for _ in range(5):  # 168 hours at 48 per pass
        housekeep(db_engine, Policy(), NOW, sync=False)
    assert watermark(db_engine) == NOW - timedelta(hours=1)  # the last hour still settles
    (status,) = slo_statuses(db_engine, NOW)
    assert status.integration_id == "acme" and status.window_days == 7
    failed = 87 + 12  # one in 100 over 6 days, then 12 in the last hour
    assert status.ratio == pytest.approx(1 - failed / (7 * 1440))
    assert status.budget_remaining == pytest.approx(1 - (failed / (7 * 1440)) / 0.01)
    assert status.burn_rates["1h"] == pytest.approx(0.2 / 0.01)
    assert status.burn_rates["6h"] == pytest.approx((12 / 360) / 0.01)
    windows = uptime_windows(db_engine, NOW, ["acme", "orbit"])
    assert windows["24h"]["orbit"].ratio == 1.0
    assert windows["24h"]["orbit"].maintenance == 720
    assert windows["24h"]["acme"].down == 12


def test_the_metrics_page_shows_uptime_slo_and_rollup_lag(db_engine: Engine) -> None:
    register(db_engine)
    a_week(db_engine)
    housekeep(db_engine, Policy(), NOW, sync=False)
    assert (
        "intmon_rollup_lag_seconds "
        in generate_latest(aggregate_registry(engine=db_engine)).decode()
    )
    registry = CollectorRegistry()
    registry.register(HistoryCollector(db_engine, clock=lambda: NOW))
    page = generate_latest(registry).decode()
    for sample in (
        'intmon_uptime_ratio{integration="orbit",window="30d"} 1.0',
        'intmon_uptime_ratio{integration="acme",window="24h"}',
        'intmon_slo_error_budget_remaining{integration="acme"}',
        'intmon_slo_burn_rate{integration="acme",window="1h"}',
        "intmon_rollup_lag_seconds 432000.0",  # one pass: 48 of the 168 hours
    ):
        assert sample in page, sample
    assert 'intmon_slo_error_budget_remaining{integration="orbit"}' not in page


@pytest.mark.parametrize(
    ("slo", "field"),
    [
        ("{target: 100}", "target"),
        ("{target: 99, window_days: 0}", "window_days"),
        ("{target: 99, burn: 2}", "burn"),
    ],
)
def test_a_bad_slo_is_refused_naming_the_field(slo: str, field: str) -> None:
    text = CONFIG.replace("slo: {target: 99.0, window_days: 7}", f"slo: {slo}")
    with pytest.raises(Exception, match=field) as refused:
        load_text(text)
    assert "slo" in str(refused.value)


def test_day_rollups_must_outlive_hour_rollups() -> None:
    with pytest.raises(ValidationError, match="rollup_day_retention_days"):
        Settings(rollup_hour_retention_days=100, rollup_day_retention_days=30)
    assert rollup_retention_of(Settings()).hour_days == 90
