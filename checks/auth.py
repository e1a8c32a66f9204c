"""Auth schemes: how a check proves who it is to the partner.

One class per scheme and one mapping, `SCHEMES`, from the configuration's
`type` string to the class (as healthchecks does with its transports). Adding
a scheme is a class here, one line in `SCHEMES`, and its model in
`integrations.config`.

Every scheme resolves its `${ENV}` / `${file:…}` references when it is applied
and adds the values (and anything derived from them, such as a Basic header)
to the check's secrets set, so the engine can redact them from what it stores.
A reference that cannot be read is a `ConfigError` naming the variable: the
platform's environment lacks it, the partner refused nothing.

OAuth2 client-credentials tokens are cached per process in a `TokenCache`,
keyed by (integration id, token URL, client id), until `expires_in` minus a
30-second skew; one fetch is in flight per key.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from checks.errors import ConfigError, ProbeFailure, TokenRequestRefused
from core.vocabulary.outcomes import Outcome
from integrations.config import (
    Auth,
    BasicAuth,
    BearerAuth,
    HeaderAuth,
    NoAuth,
    OAuth2ClientCredentials,
    QueryAuth,
)
from integrations.errors import SecretUnavailable
from integrations.secrets import resolve

__all__ = [
    "SCHEMES",
    "AuthContext",
    "AuthScheme",
    "RequestParts",
    "TokenCache",
    "default_token_cache",
    "parse_token_response",
    "scheme_for",
]

TOKEN_SKEW_S = 30.0
DEFAULT_TOKEN_LIFETIME_S = 300.0
TOKEN_BODY_CAP = 65_536

TokenKey = tuple[str, str, str]


@dataclass(slots=True)
class RequestParts:
    """The parts of an outgoing request a scheme may add to."""

    headers: dict[str, str]
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class AuthContext:
    """What a scheme needs to apply itself to one check run."""

    integration_id: str
    client: httpx.AsyncClient
    secrets: set[str]
    environ: Mapping[str, str] | None
    timeout_s: float
    token_cache: TokenCache

    def resolve(self, text: str) -> str:
        """Resolve references in `text`; an unreadable one is a `ConfigError`."""
        try:
            return resolve(text, self.secrets, self.environ)
        except SecretUnavailable as exc:
            raise ConfigError(f"credentials unavailable here: {exc}") from None


SpecT = TypeVar("SpecT", bound=Auth)


class AuthScheme(ABC, Generic[SpecT]):
    """One way to authenticate; built from its configuration model."""

    def __init__(self, spec: SpecT) -> None:
        self.spec = spec

    @abstractmethod
    async def apply(self, request: RequestParts, context: AuthContext) -> None:
        """Add credentials to `request`; raise `AuthFailure` when they are unavailable."""

    def unauthorized(self, context: AuthContext) -> None:
        """The partner answered 401 to credentials this scheme supplied."""
        return None


class NoAuthScheme(AuthScheme[NoAuth]):
    async def apply(self, request: RequestParts, context: AuthContext) -> None:
        return None


class BasicAuthScheme(AuthScheme[BasicAuth]):
    async def apply(self, request: RequestParts, context: AuthContext) -> None:
        username = context.resolve(self.spec.username)
        password = context.resolve(self.spec.password)
        encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        context.secrets.add(encoded)
        request.headers["Authorization"] = f"Basic {encoded}"


class BearerAuthScheme(AuthScheme[BearerAuth]):
    async def apply(self, request: RequestParts, context: AuthContext) -> None:
        request.headers["Authorization"] = f"Bearer {context.resolve(self.spec.token)}"


class HeaderAuthScheme(AuthScheme[HeaderAuth]):
    async def apply(self, request: RequestParts, context: AuthContext) -> None:
        request.headers[self.spec.header] = context.resolve(self.spec.value)


class QueryAuthScheme(AuthScheme[QueryAuth]):
    async def apply(self, request: RequestParts, context: AuthContext) -> None:
        request.params[self.spec.param] = context.resolve(self.spec.value)


class OAuth2ClientCredentialsScheme(AuthScheme[OAuth2ClientCredentials]):
    """RFC 6749 §4.4: trade the client's credentials for a bearer token."""

    def _key(self, context: AuthContext) -> TokenKey:
        return (context.integration_id, self.spec.token_url, self.spec.client_id)

    async def apply(self, request: RequestParts, context: AuthContext) -> None:
        token = await context.token_cache.get(self._key(context), lambda: self._fetch(context))
        context.secrets.add(token)
        request.headers["Authorization"] = f"Bearer {token}"

    def unauthorized(self, context: AuthContext) -> None:
        context.token_cache.invalidate(self._key(context))

    async def _fetch(self, context: AuthContext) -> tuple[str, float]:
        spec = self.spec
        secret = context.resolve(spec.client_secret)
        client_id = context.resolve(spec.client_id)
        form = {"grant_type": "client_credentials"}
        if spec.scope:
            form["scope"] = spec.scope
        if spec.audience:
            form["audience"] = spec.audience
        auth: httpx.BasicAuth | None = None
        if spec.client_auth == "basic":
            auth = httpx.BasicAuth(client_id, secret)
            context.secrets.add(base64.b64encode(f"{client_id}:{secret}".encode()).decode())
        else:
            form.update(client_id=client_id, client_secret=secret)
        request = context.client.build_request(
            "POST",
            spec.token_url,
            data=form,
            headers={"Accept": "application/json"},
            timeout=context.timeout_s,
        )
        response = await context.client.send(request, auth=auth, stream=True)
        try:
            body = await _read_capped(response, TOKEN_BODY_CAP)
        finally:
            await response.aclose()
        return parse_token_response(response.status_code, body)


def parse_token_response(status: int, body: bytes) -> tuple[str, float]:
    """(access token, seconds to keep it) from a token endpoint's answer, or raise.

    4xx, 3xx or a 2xx without `access_token` → `TokenRequestRefused` (auth_failure);
    5xx → `ProbeFailure(server_error)`. Lifetime: `expires_in` (default 300 s) − 30 s.
    """
    document: Any
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if status >= 500:
        raise ProbeFailure(Outcome.SERVER_ERROR, f"token endpoint failed: HTTP {status}")
    if not 200 <= status <= 299:
        error = document.get("error") if isinstance(document, dict) else None
        said = f" ({str(error)[:80]})" if error else ""
        raise TokenRequestRefused(f"token request refused: HTTP {status}{said}", status=status)
    token = document.get("access_token") if isinstance(document, dict) else None
    if not isinstance(token, str) or not token:
        raise TokenRequestRefused(
            f"token request refused: HTTP {status} without an access_token", status=status
        )
    lifetime = DEFAULT_TOKEN_LIFETIME_S
    expires_in = document.get("expires_in")
    try:
        if expires_in is not None:
            lifetime = float(expires_in)
    except (TypeError, ValueError):
        pass
    return token, max(0.0, lifetime - TOKEN_SKEW_S)


async def _read_capped(response: httpx.Response, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= cap:
            break
    return b"".join(chunks)[:cap]


class TokenCache:
    """Bearer tokens by key until they expire; one fetch in flight per key.

    Tokens are plain data shared by the whole process; the locks that keep one
    fetch in flight belong to an event loop, so a lock is replaced when another
    loop asks (tests run a loop each; production has one loop per process).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[TokenKey, tuple[str, float]] = {}
        self._locks: dict[TokenKey, tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = {}

    async def get(self, key: TokenKey, fetch: Callable[[], Awaitable[tuple[str, float]]]) -> str:
        """The cached token for `key`, or `fetch()`'s (token, lifetime in seconds)."""
        token = self._fresh(key)
        if token is not None:
            return token
        async with self._lock(key):
            token = self._fresh(key)
            if token is not None:
                return token
            token, lifetime = await fetch()
            self._tokens[key] = (token, self._clock() + lifetime)
            return token

    def invalidate(self, key: TokenKey) -> None:
        self._tokens.pop(key, None)

    def clear(self) -> None:
        self._tokens.clear()

    def _fresh(self, key: TokenKey) -> str | None:
        entry = self._tokens.get(key)
        if entry is not None and self._clock() < entry[1]:
            return entry[0]
        return None

    def _lock(self, key: TokenKey) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        entry = self._locks.get(key)
        if entry is None or entry[0] is not loop:
            entry = (loop, asyncio.Lock())
            self._locks[key] = entry
        return entry[1]


default_token_cache = TokenCache()

SCHEMES: dict[str, type[AuthScheme[Any]]] = {
    "none": NoAuthScheme,
    "basic": BasicAuthScheme,
    "bearer": BearerAuthScheme,
    "header": HeaderAuthScheme,
    "query": QueryAuthScheme,
    "oauth2_client_credentials": OAuth2ClientCredentialsScheme,
}


def scheme_for(spec: Auth) -> AuthScheme[Any]:
    """The scheme object for an integration's `auth` block."""
    return SCHEMES[spec.type](spec)
