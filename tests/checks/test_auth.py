"""The auth registry, token responses and the token cache, without a network."""

from __future__ import annotations

import asyncio
import typing
from typing import Any

import pytest

from checks.auth import SCHEMES, TokenCache, parse_token_response
from checks.errors import AuthFailure, ProbeFailure, TokenRequestRefused
from core.vocabulary.outcomes import Outcome
from integrations.config import Auth


def test_every_configurable_auth_type_has_a_scheme() -> None:
    models = typing.get_args(typing.get_args(Auth)[0])  # Annotated[Union[...], Field]
    types = {typing.get_args(model.model_fields["type"].annotation)[0] for model in models}

    assert types == set(SCHEMES)


@pytest.mark.parametrize(
    ("name", "status", "body", "expected"),
    [
        ("token with lifetime", 200, b'{"access_token": "t", "expires_in": 3600}', ("t", 3570.0)),
        ("lifetime as text", 200, b'{"access_token": "t", "expires_in": "120"}', ("t", 90.0)),
        ("no lifetime: 300 s", 200, b'{"access_token": "t"}', ("t", 270.0)),
        ("shorter than the skew", 200, b'{"access_token": "t", "expires_in": 10}', ("t", 0.0)),
        ("odd lifetime ignored", 200, b'{"access_token": "t", "expires_in": "soon"}', ("t", 270.0)),
    ],
)
def test_token_response_accepted(
    name: str, status: int, body: bytes, expected: tuple[str, float]
) -> None:
    assert parse_token_response(status, body) == expected


@pytest.mark.parametrize(
    ("name", "status", "body", "error", "detail"),
    [
        (
            "401",
            401,
            b'{"error": "invalid_client"}',
            TokenRequestRefused,
            "HTTP 401 (invalid_client)",
        ),
        (
            "400 not JSON",
            400,
            b"bad request",
            TokenRequestRefused,
            "token request refused: HTTP 400",
        ),
        ("200 without token", 200, b'{"token_type": "Bearer"}', TokenRequestRefused, "without"),
        ("200 not JSON", 200, b"<html>", TokenRequestRefused, "without an access_token"),
        ("302", 302, b"", TokenRequestRefused, "HTTP 302"),
        ("503", 503, b"", ProbeFailure, "token endpoint failed: HTTP 503"),
    ],
)
def test_token_response_refused(
    name: str, status: int, body: bytes, error: type[Exception], detail: str
) -> None:
    with pytest.raises(error) as raised:
        parse_token_response(status, body)

    assert isinstance(raised.value, ProbeFailure)
    assert detail in raised.value.detail
    expected = Outcome.SERVER_ERROR if status >= 500 else Outcome.AUTH_FAILURE
    assert raised.value.outcome is expected
    assert raised.value.permanent


@pytest.mark.anyio
async def test_token_cache_fetches_once_per_key_until_expiry(clock: Any) -> None:
    cache = TokenCache(clock=clock)
    fetches: list[str] = []

    async def fetch() -> tuple[str, float]:
        fetches.append("x")
        await asyncio.sleep(0)  # let the other waiters pile up on the lock
        return f"token-{len(fetches)}", 1.0

    key = ("partner", "https://auth.example/token", "client")
    tokens = await asyncio.gather(*(cache.get(key, fetch) for _ in range(10)))
    assert set(tokens) == {"token-1"} and len(fetches) == 1

    other = await cache.get(("other", "https://auth.example/token", "client"), fetch)
    assert other == "token-2"

    clock.now += 1.0
    assert await cache.get(key, fetch) == "token-3"
    cache.invalidate(key)
    assert await cache.get(key, fetch) == "token-4"


@pytest.mark.anyio
async def test_failed_fetch_is_not_cached(clock: Any) -> None:
    cache = TokenCache(clock=clock)
    key = ("partner", "https://auth.example/token", "client")

    async def refuse() -> tuple[str, float]:
        raise AuthFailure("no")

    async def grant() -> tuple[str, float]:
        return "fresh", 60.0

    with pytest.raises(AuthFailure):
        await cache.get(key, refuse)
    assert await cache.get(key, grant) == "fresh"
