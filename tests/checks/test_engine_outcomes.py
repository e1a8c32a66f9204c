"""Every outcome, produced by a real server on 127.0.0.1, over both transports.

One row per case: name, where the check goes, what it expects, the outcome.
The `engine` fixture is parametrized over "aiohttp" and "httpx", so the two
transports cannot drift apart in how they classify.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest

from checks.engine import ProbeEngine
from core.vocabulary.outcomes import Outcome
from integrations.config import IntegrationSpec

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Case:
    name: str
    target: str  # attribute of Partner holding the base URL, or a literal URL
    path: str
    outcome: Outcome
    expect: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    detail: str = ""  # a fragment the detail must contain


def respond(**query: str | int) -> str:
    return "/respond?" + "&".join(f"{k}={quote(str(v))}" for k, v in query.items())


CASES = [
    Case("closed port", "closed", "/", Outcome.CONNECTION_REFUSED, detail="refused"),
    Case("unknown host", "http://partner.invalid", "/", Outcome.DNS_FAILURE, detail="DNS"),
    Case("never answers", "stall", "/", Outcome.TIMEOUT, fields={"timeout_s": 0.5}),
    Case(
        "untrusted certificate",
        "https_untrusted",
        respond(),
        Outcome.TLS_ERROR,
        detail="verify failed",
    ),
    Case(
        "expired certificate from a trusted CA",
        "https_expired",
        respond(),
        Outcome.TLS_ERROR,
        fields={"tls": {"ca_file": "{ca_file}"}},
        detail="expired",
    ),
    Case("401", "http", respond(status=401), Outcome.AUTH_FAILURE, detail="HTTP 401"),
    Case("403", "http", respond(status=403), Outcome.AUTH_FAILURE, detail="HTTP 403"),
    Case("500", "http", respond(status=500), Outcome.SERVER_ERROR, detail="HTTP 500"),
    Case("503", "http", respond(status=503), Outcome.SERVER_ERROR, detail="HTTP 503"),
    Case("404", "http", respond(status=404), Outcome.CLIENT_ERROR, detail="HTTP 404"),
    Case(
        "auth error in a 200 body",
        "http",
        respond(body='{"error":"invalid token"}'),
        Outcome.AUTH_FAILURE,
        expect={"auth_error_patterns": ["invalid token"]},
    ),
    Case(
        "JSON assertion fails",
        "http",
        respond(body='{"status":"down"}'),
        Outcome.CONTRACT_VIOLATION,
        expect={"json": ['$.status == "ok"']},
        detail='got "down"',
    ),
    Case(
        "body not JSON while assertions exist",
        "http",
        respond(body="<html>maintenance</html>", type="text/html"),
        Outcome.CONTRACT_VIOLATION,
        expect={"json": ["$.status exists"]},
        detail="not JSON",
    ),
    Case(
        "expected header missing",
        "http",
        respond(),
        Outcome.CONTRACT_VIOLATION,
        expect={"headers": {"X-Request-Id": ".+"}},
        detail="X-Request-Id missing",
    ),
    Case(
        "expected header present (any case)",
        "http",
        respond(header="x-request-id:abc-1"),
        Outcome.OK,
        expect={"headers": {"X-Request-Id": "^abc"}},
    ),
    Case(
        "slower than max latency",
        "http",
        respond(delay=0.3),
        Outcome.SLOW,
        expect={"max_latency_ms": 100},
    ),
    Case(
        "happy path",
        "http",
        respond(),
        Outcome.OK,
        expect={"json": ['$.status == "ok"'], "max_latency_ms": 5000},
    ),
    Case("allowed 500", "http", respond(status=500), Outcome.OK, expect={"status": [500]}),
    Case(
        "redirect loop",
        "http",
        "/redirect-loop",
        Outcome.CONTRACT_VIOLATION,
        detail="redirect",
    ),
    Case(
        "redirect not followed",
        "http",
        "/redirect-loop",
        Outcome.CONTRACT_VIOLATION,
        fields={"follow_redirects": False},
        detail="HTTP 302",
    ),
    Case(
        "redirect followed",
        "http",
        respond(status=302, header="Location:/respond"),
        Outcome.OK,
    ),
    Case("10 MB body", "http", "/big", Outcome.OK),
    Case("endless chunked body", "http", "/endless", Outcome.OK),
    Case("gzip bomb", "http", "/bomb", Outcome.OK),
    Case("invalid UTF-8 body", "http", "/invalid-utf8", Outcome.OK),
    Case(
        "JSON assertions on a capped body",
        "http",
        "/big",
        Outcome.CONTRACT_VIOLATION,
        expect={"json": ["$.x exists"]},
        detail="read limit",
    ),
]


def _spec(case: Case, partners: Any, integration: Callable[..., IntegrationSpec]) -> Any:
    base = getattr(partners, case.target) if "://" not in case.target else case.target
    fields = dict(case.fields)
    if "tls" in fields:
        fields["tls"] = {k: v.format(ca_file=partners.ca_file) for k, v in fields["tls"].items()}
    checks = [{"name": "probe", "path": case.path, "expect": case.expect}]
    return integration(base, checks=checks, **fields)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_outcome(
    case: Case,
    engine: ProbeEngine,
    partners: Any,
    integration: Callable[..., IntegrationSpec],
) -> None:
    spec = _spec(case, partners, integration)
    limit = spec.timeout_s * (spec.retries + 1) + 1
    started = time.perf_counter()

    result = await engine.run_check(spec, spec.checks[0])

    assert result.outcome is case.outcome, result.detail
    assert case.detail in result.detail
    assert time.perf_counter() - started < limit
    assert result.duration_s < limit


async def test_rate_limited_reads_retry_after(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    spec = integration(
        partners.http, checks=[{"name": "rl", "path": respond(status=429, header="Retry-After:7")}]
    )

    result = await engine.run_check(spec, spec.checks[0])

    assert result.outcome is Outcome.RATE_LIMITED
    assert result.retry_after_s == 7
    assert result.http_status == 429


async def test_trusted_certificate_reports_expiry_and_warns(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    spec = integration(
        partners.https_trusted,
        checks=[{"name": "tls", "path": respond()}],
        tls={"ca_file": partners.ca_file},
    )

    result = await engine.run_check(spec, spec.checks[0])

    assert result.outcome is Outcome.OK, result.detail
    assert result.certificate_expires_at is not None
    days_left = (result.certificate_expires_at - time.time()) / 86_400
    assert 4.9 < days_left < 5.1
    assert len(result.warnings) == 1
    assert "expires in 5.0 days" in result.warnings[0]


async def test_no_warning_when_expiry_is_far(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    spec = integration(
        partners.https_trusted,
        checks=[{"name": "tls", "path": respond()}],
        tls={"ca_file": partners.ca_file, "expiry_warning_days": 3},
    )

    result = await engine.run_check(spec, spec.checks[0])

    assert result.outcome is Outcome.OK
    assert result.certificate_expires_at is not None
    assert result.warnings == []


async def test_unverified_tls_still_reads_the_certificate(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    spec = integration(
        partners.https_untrusted,
        checks=[{"name": "tls", "path": respond()}],
        tls={"verify": False},
    )

    result = await engine.run_check(spec, spec.checks[0])

    assert result.outcome is Outcome.OK, result.detail
    assert result.certificate_expires_at is not None


async def test_capped_bodies_are_bounded(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    spec = integration(
        partners.http,
        checks=[
            {"name": "big", "path": "/big"},
            {"name": "endless", "path": "/endless"},
            {"name": "bomb", "path": "/bomb"},
        ],
    )

    results = await engine.run_batch([(spec, check, None) for check in spec.checks])

    for result in results:
        assert result.outcome is Outcome.OK, (result.check_name, result.detail)
        assert len(result.response_excerpt) == engine.settings.excerpt_bytes
        assert result.duration_s < 2
    assert set(results[2].response_excerpt) == {"\0"}  # the bomb was inflated, but only so far


async def test_invalid_utf8_excerpt_is_replaced(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    spec = integration(partners.http, checks=[{"name": "bad", "path": "/invalid-utf8"}])

    result = await engine.run_check(spec, spec.checks[0])

    assert result.outcome is Outcome.OK
    assert "\ufffd" in result.response_excerpt
    assert "broken" in result.response_excerpt


async def test_request_is_built_from_the_spec(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    check = {
        "name": "post",
        "method": "post",
        "path": "/echo?fixed=1",
        "headers": {"X-Trace": "abc"},
        "query": {"extra": "2"},
        "json": {"ping": [1, "${ECHO_VALUE}"]},
        "expect": {
            "json": [
                '$.method == "POST"',
                '$.headers["x-trace"] == "abc"',
                '$.headers["content-type"] == "application/json"',
                '$.headers["user-agent"] matches "^intmon/"',
                '$.query.fixed == "1"',
                '$.query.extra == "2"',
                '$.body contains "resolved-value"',
            ]
        },
    }
    spec = integration(partners.http, checks=[check])

    result = await engine.run_check(spec, spec.checks[0], environ={"ECHO_VALUE": "resolved-value"})

    assert result.outcome is Outcome.OK, result.detail
    assert "resolved-value" not in result.response_excerpt


async def test_cookies_do_not_leak_between_checks(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    spec = integration(
        partners.http,
        checks=[
            {"name": "sets", "path": respond(header="Set-Cookie:session=partner-cookie")},
            {"name": "echo", "path": "/echo", "expect": {"json": ["$.headers.Cookie not exists"]}},
        ],
    )

    first = await engine.run_check(spec, spec.checks[0])
    second = await engine.run_check(spec, spec.checks[1])

    assert first.outcome is Outcome.OK
    assert second.outcome is Outcome.OK, second.detail
