"""Retries happen once, only for transient network errors; batches are not held up."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from checks.engine import ProbeEngine, ProbeSettings
from core.vocabulary.outcomes import Outcome
from integrations.config import IntegrationSpec

pytestmark = pytest.mark.anyio


async def test_dropped_connection_is_retried_once(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    partners.drop_first_connections[0] = 0
    spec = integration(partners.drop_first, retries=1, checks=[{"name": "flaky", "path": "/"}])

    result = await engine.run_check(spec, spec.checks[0])

    assert result.outcome is Outcome.OK, result.detail
    assert partners.drop_first_connections[0] == 2


async def test_retries_stop_after_the_configured_number(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    partners.drop_first_connections[0] = 0
    partners.drops_before_answer[0] = 5
    try:
        spec = integration(partners.drop_first, retries=2, checks=[{"name": "flaky", "path": "/"}])

        result = await engine.run_check(spec, spec.checks[0])
    finally:
        partners.drops_before_answer[0] = 1

    assert result.outcome is Outcome.SERVER_ERROR
    assert partners.drop_first_connections[0] == 3


async def test_dropped_connection_without_retries_is_server_error(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    partners.drop_first_connections[0] = 0
    spec = integration(partners.drop_first, retries=0, checks=[{"name": "flaky", "path": "/"}])

    result = await engine.run_check(spec, spec.checks[0])

    assert result.outcome is Outcome.SERVER_ERROR
    assert result.detail == "server closed the connection without answering"
    assert partners.drop_first_connections[0] == 1


@pytest.mark.parametrize("status", [401, 429, 500])
async def test_http_answers_are_never_retried(
    status: int,
    engine: ProbeEngine,
    partners: Any,
    integration: Callable[..., IntegrationSpec],
) -> None:
    key = f"once-{status}-{engine.settings.transport}"
    spec = integration(
        partners.http,
        retries=3,
        checks=[{"name": "once", "path": f"/respond?status={status}&key={key}"}],
    )

    await engine.run_check(spec, spec.checks[0])

    assert partners.count(key) == 1


async def test_timeouts_are_not_retried(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    spec = integration(partners.stall, timeout_s=0.3, retries=2)

    result = await engine.run_check(spec, spec.checks[0])

    assert result.outcome is Outcome.TIMEOUT
    assert result.duration_s < 0.6


async def test_batch_is_not_held_up_by_a_stalling_partner(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    stalling = integration(partners.stall, id="stalling", timeout_s=1)
    fast = integration(
        partners.http,
        id="fast",
        checks=[{"name": f"c{i}", "path": f"/respond?key=batch{i}"} for i in range(20)],
    )
    items = [(stalling, stalling.checks[0], None)] + [(fast, c, None) for c in fast.checks]
    started = time.perf_counter()

    results = await engine.run_batch(items)

    assert time.perf_counter() - started < 1.5
    assert [r.check_name for r in results] == ["health"] + [f"c{i}" for i in range(20)]
    assert results[0].outcome is Outcome.TIMEOUT
    for result in results[1:]:
        assert result.outcome is Outcome.OK, result.detail
        assert result.duration_s < 0.5


async def test_scheduled_at_and_timestamps_are_kept(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    from datetime import UTC, datetime

    scheduled = datetime(2030, 1, 1, tzinfo=UTC)
    spec = integration(partners.http)

    [result] = await engine.run_batch([(spec, spec.checks[0], scheduled)])

    assert result.scheduled_at == scheduled
    assert result.started_at.tzinfo is UTC
    assert result.http_status == 200


@pytest.mark.parametrize("transport", ["native", "curl", "aiohttp", "httpx"])
async def test_one_connection_per_check_without_keepalive(
    transport: str, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    spec = integration(partners.http)
    engine = ProbeEngine(ProbeSettings(transport=transport, keepalive=False))  # type: ignore[arg-type]
    try:
        results = await engine.run_batch([(spec, spec.checks[0], None)] * 3)
    finally:
        await engine.aclose()

    assert [r.outcome for r in results] == [Outcome.OK] * 3


async def test_closed_engine_reports_instead_of_raising(
    partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    engine = ProbeEngine()
    await engine.aclose()
    spec = integration(partners.http)

    result = await engine.run_check(spec, spec.checks[0])

    assert result.detail == "probe engine is closed"


@pytest.mark.parametrize(
    "changes",
    [{"transport": "requests"}, {"max_connections": 0}, {"body_cap_bytes": 0}],
)
def test_settings_are_validated(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ProbeSettings(**changes)
