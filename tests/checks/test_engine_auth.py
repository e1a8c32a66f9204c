"""Auth schemes against a real partner that checks the credentials, over both transports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import checks.engine
from checks.engine import ProbeEngine, ProbeSettings
from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.config import IntegrationSpec

pytestmark = pytest.mark.anyio

ENV = {
    "PARTNER_USER": "alice",
    "PARTNER_PASSWORD": "wonderland-pass-1",
    "PARTNER_TOKEN": "bearer-secret-2",
    "PARTNER_API_KEY": "apikey-secret-3",
    "PARTNER_QUERY_KEY": "query-secret-4",
    "PARTNER_CLIENT_SECRET": "client-secret-5",
}
WRONG_ENV = {name: f"wrong-{value}" for name, value in ENV.items()}

AUTH = {
    "basic": {"type": "basic", "username": "${PARTNER_USER}", "password": "${PARTNER_PASSWORD}"},
    "bearer": {"type": "bearer", "token": "${PARTNER_TOKEN}"},
    "header": {"type": "header", "header": "X-Api-Key", "value": "${PARTNER_API_KEY}"},
    "query": {"type": "query", "param": "api_key", "value": "${PARTNER_QUERY_KEY}"},
}
SECRET_OF = {
    "basic": "wonderland-pass-1",
    "bearer": "bearer-secret-2",
    "header": "apikey-secret-3",
    "query": "query-secret-4",
}


def assert_redacted(result: CheckResult, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in result.detail
        assert secret not in result.response_excerpt


@pytest.mark.parametrize("scheme", sorted(AUTH))
async def test_scheme_reaches_the_partner(
    scheme: str,
    engine: ProbeEngine,
    partners: Any,
    integration: Callable[..., IntegrationSpec],
) -> None:
    spec = integration(
        partners.http,
        auth=AUTH[scheme],
        checks=[
            {"name": "auth", "path": f"/auth/{scheme}", "expect": {"json": ["$.accepted == true"]}}
        ],
    )

    result = await engine.run_check(spec, spec.checks[0], environ=ENV)

    assert result.outcome is Outcome.OK, result.detail
    assert "[REDACTED]" in result.response_excerpt  # the partner echoed the credential
    assert_redacted(result, SECRET_OF[scheme])


@pytest.mark.parametrize("scheme", sorted(AUTH))
async def test_refused_credentials_are_auth_failure_and_redacted(
    scheme: str,
    engine: ProbeEngine,
    partners: Any,
    integration: Callable[..., IntegrationSpec],
) -> None:
    spec = integration(
        partners.http, auth=AUTH[scheme], checks=[{"name": "auth", "path": f"/auth/{scheme}"}]
    )

    result = await engine.run_check(spec, spec.checks[0], environ=WRONG_ENV)

    assert result.outcome is Outcome.AUTH_FAILURE
    assert result.http_status == 401
    assert_redacted(result, f"wrong-{SECRET_OF[scheme]}")


@pytest.mark.parametrize("transport", ["native", "curl", "aiohttp", "httpx"])
async def test_secret_cut_by_the_excerpt_is_still_redacted(
    transport: str, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    # The partner answers {"accepted": true, "you_sent": "Bearer bearer-secret-2"}:
    # 45 bytes end in the middle of the token.
    engine = ProbeEngine(ProbeSettings(transport=transport, excerpt_bytes=45))  # type: ignore[arg-type]
    spec = integration(
        partners.http, auth=AUTH["bearer"], checks=[{"name": "auth", "path": "/auth/bearer"}]
    )
    try:
        result = await engine.run_check(spec, spec.checks[0], environ=ENV)
    finally:
        await engine.aclose()

    assert result.outcome is Outcome.OK
    assert "bearer-se" not in result.response_excerpt
    assert len(result.response_excerpt) <= 45


async def test_credentials_from_the_process_environment(
    engine: ProbeEngine,
    partners: Any,
    integration: Callable[..., IntegrationSpec],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PARTNER_TOKEN", ENV["PARTNER_TOKEN"])
    spec = integration(
        partners.http, auth=AUTH["bearer"], checks=[{"name": "auth", "path": "/auth/bearer"}]
    )

    result = await engine.run_check(spec, spec.checks[0])

    assert result.outcome is Outcome.OK, result.detail


async def test_missing_variable_is_a_config_error_naming_it(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    """The platform's environment lacks the secret: intmon's side, not the partner's."""
    spec = integration(
        partners.http,
        auth=AUTH["bearer"],
        checks=[{"name": "auth", "path": "/auth/bearer?key=missing-var"}],
    )

    result = await engine.run_check(spec, spec.checks[0], environ={})

    assert result.outcome is Outcome.CONFIG_ERROR
    assert "PARTNER_TOKEN" in result.detail and "not set" in result.detail
    assert partners.count("missing-var") == 0  # nothing was sent


async def test_unreadable_secret_file_is_a_config_error_naming_it(
    engine: ProbeEngine,
    partners: Any,
    integration: Callable[..., IntegrationSpec],
    tmp_path: Any,
) -> None:
    missing = tmp_path / "nope" / "token"
    spec = integration(
        partners.http,
        auth={"type": "bearer", "token": f"${{file:{missing}}}"},
        checks=[{"name": "auth", "path": "/auth/bearer?key=missing-file"}],
    )

    result = await engine.run_check(spec, spec.checks[0], environ={})

    assert result.outcome is Outcome.CONFIG_ERROR
    assert str(missing) in result.detail
    assert partners.count("missing-file") == 0


async def test_a_secret_that_would_split_the_request_is_a_config_error(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    spec = integration(
        partners.http,
        auth=AUTH["bearer"],
        checks=[{"name": "auth", "path": "/auth/bearer?key=split"}],
    )

    environ = {"PARTNER_TOKEN": "abc\r\nX-Injected: 1"}
    result = await engine.run_check(spec, spec.checks[0], environ=environ)

    assert result.outcome is Outcome.CONFIG_ERROR
    assert "Authorization" in result.detail and "X-Injected" not in result.detail
    assert partners.count("split") == 0


async def test_secret_in_check_headers_and_query_is_resolved_and_redacted(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    check = {
        "name": "echo",
        "path": "/auth/header",
        "headers": {"X-Api-Key": "${PARTNER_API_KEY}"},
        "query": {"note": "${PARTNER_TOKEN}"},
    }
    spec = integration(partners.http, checks=[check])

    result = await engine.run_check(spec, spec.checks[0], environ=ENV)

    assert result.outcome is Outcome.OK, result.detail
    assert_redacted(result, ENV["PARTNER_API_KEY"], ENV["PARTNER_TOKEN"])


async def test_a_crash_is_logged_without_the_credentials(
    engine: ProbeEngine,
    partners: Any,
    integration: Callable[..., IntegrationSpec],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def crash(observation: Any, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"cannot read {observation.body.decode()}")  # the echoed header

    monkeypatch.setattr(checks.engine, "classify", crash)
    spec = integration(
        partners.http, auth=AUTH["bearer"], checks=[{"name": "auth", "path": "/auth/bearer"}]
    )

    result = await engine.run_check(spec, spec.checks[0], environ=ENV)

    (record,) = [r for r in caplog.records if "crashed" in r.getMessage()]
    assert "RuntimeError: cannot read" in record.getMessage()
    logged = caplog.handler.format(record)
    assert ENV["PARTNER_TOKEN"] not in logged and "[REDACTED]" in logged
    assert_redacted(result, ENV["PARTNER_TOKEN"])


# --- OAuth2 client credentials -------------------------------------------------


def oauth(partners: Any, query: str = "expires_in=3600", **extra: Any) -> dict[str, Any]:
    return {
        "type": "oauth2_client_credentials",
        "token_url": f"{partners.http}/oauth/token?{query}",
        "client_id": "good-client",
        "client_secret": "${PARTNER_CLIENT_SECRET}",
        "scope": "health:read",
        **extra,
    }


@pytest.mark.parametrize("client_auth", ["basic", "body"])
async def test_oauth2_token_fetched_once_then_refreshed_after_expiry(
    client_auth: str,
    engine: ProbeEngine,
    partners: Any,
    clock: Any,
    integration: Callable[..., IntegrationSpec],
) -> None:
    query = f"expires_in=31&key=token-{client_auth}-{engine.settings.transport}"
    spec = integration(
        partners.http,
        auth=oauth(partners, query, client_auth=client_auth),
        checks=[{"name": "api", "path": "/oauth/api"}],
    )
    key = f"token-{client_auth}-{engine.settings.transport}"

    first = await engine.run_batch([(spec, spec.checks[0], None)] * 5, environ=ENV)
    assert [r.outcome for r in first] == [Outcome.OK] * 5, first[0].detail
    assert partners.count(key) == 1  # five concurrent checks, one token request

    clock.now += 0.5  # 31 s lifetime - 30 s skew = 1 s: still fresh
    await engine.run_check(spec, spec.checks[0], environ=ENV)
    assert partners.count(key) == 1

    clock.now += 1.0  # now stale
    refreshed = await engine.run_check(spec, spec.checks[0], environ=ENV)
    assert refreshed.outcome is Outcome.OK, refreshed.detail
    assert partners.count(key) == 2
    assert_redacted(refreshed, ENV["PARTNER_CLIENT_SECRET"], partners.tokens_issued[-1])


async def test_oauth2_refused_token_request_is_auth_failure_without_retry(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    key = f"refused-{engine.settings.transport}"
    spec = integration(
        partners.http,
        auth=oauth(partners, f"refuse=1&key={key}"),
        checks=[{"name": "api", "path": f"/oauth/api?key=api-{key}"}],
    )

    result = await engine.run_check(spec, spec.checks[0], environ=ENV)

    assert result.outcome is Outcome.AUTH_FAILURE
    assert result.detail == "token request refused: HTTP 401 (invalid_client)"
    assert partners.count(key) == 1
    assert partners.count(f"api-{key}") == 0


async def test_oauth2_wrong_secret_is_auth_failure(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    spec = integration(
        partners.http, auth=oauth(partners), checks=[{"name": "api", "path": "/oauth/api"}]
    )

    result = await engine.run_check(spec, spec.checks[0], environ=WRONG_ENV)

    assert result.outcome is Outcome.AUTH_FAILURE
    assert "HTTP 401" in result.detail
    assert_redacted(result, WRONG_ENV["PARTNER_CLIENT_SECRET"])


async def test_oauth2_missing_secret_names_the_variable(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    spec = integration(
        partners.http, auth=oauth(partners), checks=[{"name": "api", "path": "/oauth/api"}]
    )

    result = await engine.run_check(spec, spec.checks[0], environ={})

    assert result.outcome is Outcome.CONFIG_ERROR
    assert "PARTNER_CLIENT_SECRET" in result.detail


async def test_oauth2_token_endpoint_down_is_a_network_outcome(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    auth = oauth(partners) | {"token_url": f"{partners.closed}/oauth/token"}
    spec = integration(partners.http, auth=auth, checks=[{"name": "api", "path": "/oauth/api"}])

    result = await engine.run_check(spec, spec.checks[0], environ=ENV)

    assert result.outcome is Outcome.CONNECTION_REFUSED


async def test_oauth2_401_from_the_api_invalidates_the_token(
    engine: ProbeEngine, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    key = f"invalidate-{engine.settings.transport}"
    spec = integration(
        partners.http,
        auth=oauth(partners, f"expires_in=3600&key={key}"),
        checks=[{"name": "api", "path": f"/oauth/api?reject_once={key}"}],
    )

    rejected = await engine.run_check(spec, spec.checks[0], environ=ENV)
    accepted = await engine.run_check(spec, spec.checks[0], environ=ENV)

    assert rejected.outcome is Outcome.AUTH_FAILURE
    assert accepted.outcome is Outcome.OK, accepted.detail
    assert partners.count(key) == 2  # the rejected token was dropped and a new one fetched
