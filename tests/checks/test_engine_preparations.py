"""What the engine prepares once per spec: each check gets its own preparation,
and equal parts (expectations, auth blocks) are prepared once for all specs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from checks.classify import compile_expectation
from checks.engine import ProbeEngine, ProbeSettings
from core.vocabulary.outcomes import Outcome
from integrations.config import CheckSpec, Expectation, IntegrationSpec

pytestmark = pytest.mark.anyio


@pytest.fixture
async def native() -> AsyncIterator[ProbeEngine]:
    engine = ProbeEngine(ProbeSettings(transport="native"))
    yield engine
    await engine.aclose()


async def test_each_check_runs_with_its_own_expectation(
    native: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    spec = integration(
        partners.http,
        checks=[
            {"name": "any-2xx", "path": "/respond"},
            {"name": "wants-201", "path": "/respond", "expect": {"status": [201]}},
        ],
    )
    # A check that is not one of the spec's (as a load test sends), equal in
    # value to none of them.
    other = CheckSpec.model_validate(
        {"name": "wants-500", "path": "/respond", "expect": {"status": [500]}}
    )

    for _ in range(2):  # prepared on the first round, taken as prepared on the second
        results = await native.run_batch([(spec, check, None) for check in (*spec.checks, other)])
        assert [r.outcome for r in results] == [
            Outcome.OK,
            Outcome.CONTRACT_VIOLATION,
            Outcome.CONTRACT_VIOLATION,
        ]
        assert "expected 201" in results[1].detail and "expected 500" in results[2].detail


async def test_a_check_that_cannot_be_prepared_fails_alone(
    native: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    spec = integration(partners.http)
    # Built without validation: an assertion that does not compile.
    broken = CheckSpec.model_construct(
        name="broken",
        path="/respond",
        expect=Expectation.model_construct(json_=["$.status =="]),
    )
    spec = spec.model_copy(update={"checks": [spec.checks[0], broken]})

    good, bad = await native.run_batch([(spec, check, None) for check in spec.checks])

    assert good.outcome is Outcome.OK
    assert bad.outcome is Outcome.SERVER_ERROR and bad.detail.startswith("invalid check")


def test_equal_expectations_compile_to_one_object() -> None:
    def expectation(**fields: Any) -> Expectation:
        return Expectation.model_validate({"json": ['$.status == "ok"'], **fields})

    first = compile_expectation(expectation())
    assert compile_expectation(expectation()) is first
    assert compile_expectation(expectation(status=[200])) is not first
    assert compile_expectation(expectation(headers={"x-a": "b"})) is not first
    assert compile_expectation(expectation(max_latency_ms=500)) is not first
    assert first.allows(204) and not first.allows(404)


async def test_equal_auth_blocks_share_one_scheme(
    native: ProbeEngine, integration: Callable[..., IntegrationSpec]
) -> None:
    bearer = {"type": "bearer", "token": "${PARTNER_TOKEN}"}
    a = integration("http://127.0.0.1:9", auth=bearer)
    b = integration("http://127.0.0.1:9", auth=bearer)
    c = integration("http://127.0.0.1:9", auth={**bearer, "token": "${OTHER_TOKEN}"})
    assert a.auth is not b.auth  # equal blocks, separate objects

    schemes = [native._prepared.integration(spec).auth for spec in (a, b, c)]

    assert schemes[0] is schemes[1] and schemes[2] is not schemes[0]
    assert schemes[2].spec == c.auth
