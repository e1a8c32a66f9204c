"""Sending one scenario request: the engine's pooled clients, the integration's auth.

Unlike a check, a scenario step needs the whole answer (headers and body, up to
the cap) to extract values from, so it does not go through `ProbeEngine`; it
uses the same parts: `ClientPool`, the auth scheme registry, `read_capped`,
`send_following` (redirects, with each hop judged by the egress policy) and
`diagnose_exception` to turn a failed request into an outcome.

A connection that was refused is tried again up to the integration's
`retries` (the request never reached the partner); nothing else is retried:
a scenario's POST may create a lead, and sending it twice is not a test.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from checks._identity import IdentityCache
from checks.auth import AuthContext, AuthScheme, RequestParts, TokenCache, default_token_cache
from checks.auth import scheme_for as auth_scheme_for
from checks.body import read_capped
from checks.classify import Observation
from checks.clients import ClientPool
from checks.engine import ProbeSettings, bounded_attempt, collect_sensitive
from checks.errors import ProbeFailure
from checks.redirects import send_following
from core.vocabulary.outcomes import Outcome
from integrations.config import IntegrationSpec

__all__ = ["OutgoingRequest", "Sent", "StepClient"]


@dataclass(frozen=True, slots=True)
class OutgoingRequest:
    """A rendered request: templates filled in, secrets resolved, no auth yet."""

    method: str
    url: str
    path: str = "/"
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    content: str | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    """What went on the wire (with auth) and what came back."""

    url: str
    headers: dict[str, str]
    observation: Observation


class StepClient:
    """Sends scenario requests; one per event loop, closed with `aclose`."""

    def __init__(
        self, settings: ProbeSettings | None = None, *, token_cache: TokenCache | None = None
    ) -> None:
        self.settings = settings or ProbeSettings()
        self._clients = ClientPool(self.settings)
        self._token_cache = token_cache or default_token_cache
        self._schemes: IdentityCache[IntegrationSpec, AuthScheme[Any]] = IdentityCache(
            lambda spec: auth_scheme_for(spec.auth)
        )

    async def send(
        self,
        integration: IntegrationSpec,
        request: OutgoingRequest,
        secrets: set[str],
        environ: Mapping[str, str] | None = None,
    ) -> Sent:
        """Send once (again only after a refused connection); raise `ProbeFailure`."""
        attempts = integration.retries + 1
        for attempt in range(attempts):
            try:
                return await self._attempt(integration, request, secrets, environ)
            except ProbeFailure as failure:
                refused = failure.outcome is Outcome.CONNECTION_REFUSED
                if not refused or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable: the last attempt raises")

    async def aclose(self) -> None:
        await self._clients.aclose()

    async def _attempt(
        self,
        integration: IntegrationSpec,
        request: OutgoingRequest,
        secrets: set[str],
        environ: Mapping[str, str] | None,
    ) -> Sent:
        exchange = self._exchange(integration, request, secrets, environ)
        return await bounded_attempt(integration.timeout_s, exchange)

    async def _exchange(
        self,
        integration: IntegrationSpec,
        request: OutgoingRequest,
        secrets: set[str],
        environ: Mapping[str, str] | None,
    ) -> Sent:
        client = self._clients.get(integration.tls)
        parts = RequestParts(headers=dict(request.headers), params=dict(request.params))
        scheme = self._schemes.get(integration)
        context = AuthContext(
            integration_id=integration.id,
            client=client,
            secrets=secrets,
            environ=environ,
            timeout_s=integration.timeout_s,
            token_cache=self._token_cache,
        )
        await scheme.apply(parts, context)
        collect_sensitive(parts.headers, parts.params, secrets)
        target = httpx.URL(request.url)
        if parts.params:
            target = target.copy_merge_params(parts.params)
        built = client.build_request(
            request.method,
            target,
            headers=parts.headers,
            json=request.json,
            content=request.content,
            timeout=integration.timeout_s,
        )
        started = time.perf_counter()
        # Redirects as a check follows them (checks.redirects): secrets stay with their
        # origin, and each hop is judged by the egress policy (egress_denied / config_error).
        response = await send_following(
            self._clients.transport(integration.tls),
            built,
            follow=integration.follow_redirects,
            secrets=secrets,
        )
        try:
            content, truncated = await read_capped(response, self.settings.body_cap_bytes)
        finally:
            await response.aclose()
        elapsed = time.perf_counter() - started
        if response.status_code == 401:
            scheme.unauthorized(context)
        observation = Observation(
            response.status_code, dict(response.headers), content, elapsed, truncated
        )
        return Sent(str(target), dict(built.headers), observation)
