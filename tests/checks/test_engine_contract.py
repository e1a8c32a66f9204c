"""The probe shapes answers for the learned contracts (checks.contract): when, and redacted."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from checks.engine import ProbeEngine, ProbeSettings
from integrations.config import IntegrationSpec

pytestmark = pytest.mark.anyio

TOKEN = "bearer-secret-2"


def respond(status: int, body: str, *headers: str) -> dict[str, Any]:
    query: dict[str, Any] = {"status": str(status), "body": body}
    if headers:
        query["header"] = headers[0]
    return {"name": "health", "path": "/respond", "query": query, "expect": {"status": [200]}}


async def test_a_failing_auth_answer_is_shaped_with_secrets_redacted(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    # The partner echoes our token as a key and in its challenge.
    spec = integration(
        partners.http,
        auth={"type": "bearer", "token": "${PARTNER_TOKEN}"},
        checks=[respond(401, f'{{"{TOKEN}": 1}}', f'WWW-Authenticate:Bearer realm="{TOKEN}"')],
    )
    result = await engine.run_check(spec, spec.checks[0], environ={"PARTNER_TOKEN": TOKEN})
    assert result.shape is not None and result.shape.status == 401
    stored = json.dumps(result.shape.to_json())
    assert TOKEN not in stored and "[REDACTED]" in stored
    assert result.shape.auth_challenge == 'Bearer realm="[REDACTED]"'


@pytest.mark.parametrize(("every_s", "shaped"), [(300.0, [True, False]), (0.0, [True, True])])
async def test_passing_answers_are_shaped_once_per_interval(
    partners: Any,
    integration: Callable[..., IntegrationSpec],
    transport: str,
    every_s: float,
    shaped: list[bool],
) -> None:
    probe = ProbeEngine(ProbeSettings(transport=transport, contract_sample_s=every_s))  # type: ignore[arg-type]
    try:
        spec = integration(partners.http, checks=[respond(200, '{"status": "ok", "id": 1}')])
        results = [await probe.run_check(spec, spec.checks[0]) for _ in shaped]
        assert [r.shape is not None for r in results] == shaped
        first = results[0].shape
        assert first is not None and dict(first.json or ()) == {
            "$": "object",
            "$.id": "number",
            "$.status": "string",
        }
        down = integration(partners.http, checks=[respond(503, "{}")])
        assert (await probe.run_check(down, down.checks[0])).shape is None  # says nothing
    finally:
        await probe.aclose()
