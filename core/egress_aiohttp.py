"""The egress policy (`core.egress`) fitted to aiohttp, for the probe engine's
"aiohttp" transport (`checks.clients`).

A module of its own so that `core.egress_http`, which every process that sends
HTTP imports, does not import aiohttp (~150 modules) for processes that never
use it; the default transport is the native one.

- `GuardedResolver`: aiohttp's resolver, dropping the answers the policy refuses;
- `LiteralGuard`: judges a request whose host is an IP address, which aiohttp
  connects to without asking its resolver.

A refusal surfaces as a failed connect with `EgressDenied` as its cause, as in
`core.egress_http`.
"""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from core.egress import EgressDenied, EgressPolicy, literal_address

__all__ = ["GuardedResolver", "LiteralGuard", "guarded_connector"]


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, answering only with addresses the policy permits
    (`EgressDenied` when none is; aiohttp reports it as a failed connect)."""

    def __init__(self, policy: EgressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        allowed = set(self._policy.permitted(host, [answer["host"] for answer in answers]))
        return [answer for answer in answers if answer["host"] in allowed]

    async def close(self) -> None:
        await self._inner.close()


class LiteralGuard(httpx.AsyncBaseTransport):
    """Judges a request's host when it is an IP address, then hands the request on:
    aiohttp connects to an address without asking its resolver."""

    def __init__(self, inner: httpx.AsyncBaseTransport, policy: EgressPolicy) -> None:
        self._inner = inner
        self._policy = policy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        literal = literal_address(request.url.host)
        if literal is not None:
            try:
                self._policy.check(request.url.host, literal)
            except EgressDenied as denial:
                raise httpx.ConnectError(str(denial), request=request) from denial
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def guarded_connector(policy: EgressPolicy, **kwargs: Any) -> aiohttp.TCPConnector:
    """An aiohttp connector resolving through `GuardedResolver`."""
    return aiohttp.TCPConnector(resolver=GuardedResolver(policy), **kwargs)
