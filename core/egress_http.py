"""The egress policy (`core.egress`) fitted to the HTTP libraries intmon sends with.

Each library gets the check where it turns a host name into a connection, so
the address judged is the address connected to, and the host name stays what
Host and SNI carry:

- httpcore (httpx's own transports, sync and async): a network backend that
  resolves, judges, and asks the real backend to connect to the address;
- aiohttp: `core.egress_aiohttp`, a module of its own so that only a process
  that uses aiohttp imports it;
- `guarded_client` / `guarded_async_client`: the one way intmon builds an
  `httpx.Client` for notification channels, ticket sinks and the lead-expired
  webhook.

A refusal surfaces as the library's connect error with `EgressDenied` as its
cause (`core.egress.denial_in` finds it), so callers treat it as a failed
connection that is permanent.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable
from typing import Any

import anyio
import httpcore
import httpx

from core.egress import EgressPolicy, checked_infos, literal_address, resolve_checked

__all__ = [
    "GuardedAsyncBackend",
    "GuardedBackend",
    "guard_transport",
    "guarded_async_client",
    "guarded_client",
]

SocketOptions = Iterable[Any] | None


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's synchronous backend, connecting only to addresses the policy permits."""

    def __init__(self, policy: EgressPolicy, inner: httpcore.NetworkBackend | None = None) -> None:
        self._policy = policy
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SocketOptions = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = resolve_checked(self._policy, host, port)
        except OSError as exc:  # EgressDenied, or the name does not resolve
            raise httpcore.ConnectError(str(exc)) from exc
        first_error: httpcore.ConnectError | None = None
        for _, address in addresses:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                first_error = first_error or exc
        assert first_error is not None
        raise first_error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: SocketOptions = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not an egress intmon uses")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedAsyncBackend(httpcore.AsyncNetworkBackend):
    """httpcore's asynchronous backend, connecting only to addresses the policy permits."""

    def __init__(
        self, policy: EgressPolicy, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self._policy = policy
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SocketOptions = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self._resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:  # EgressDenied, or the name does not resolve
            raise httpcore.ConnectError(str(exc)) from exc
        first_error: httpcore.ConnectError | None = None
        for _, address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                first_error = first_error or exc
        assert first_error is not None
        raise first_error

    async def _resolve(self, host: str, port: int) -> list[tuple[int, str]]:
        literal = literal_address(host)
        if literal is not None:
            self._policy.check(host, literal)
            return [(socket.AF_INET6 if literal.version == 6 else socket.AF_INET, str(literal))]
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return checked_infos(self._policy, host, infos)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: SocketOptions = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not an egress intmon uses")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guard_transport(
    transport: httpx.HTTPTransport | httpx.AsyncHTTPTransport, policy: EgressPolicy
) -> None:
    """Put the policy under an httpx transport's connection pool.

    httpx has no public way to give its pool a network backend; the pool keeps the
    one it connects with in `_network_backend` (httpcore 1.x), wrapped here so the
    transport keeps every other setting (TLS, limits, retries)."""
    pool = transport._pool
    if not hasattr(pool, "_network_backend"):  # a future httpcore: fail loudly, not open
        raise RuntimeError("this httpcore has no _network_backend to guard")
    inner = pool._network_backend
    if isinstance(inner, httpcore.AsyncNetworkBackend):
        pool._network_backend = GuardedAsyncBackend(policy, inner)
    elif isinstance(inner, httpcore.NetworkBackend):
        pool._network_backend = GuardedBackend(policy, inner)
    else:
        raise RuntimeError(f"cannot guard a network backend of type {type(inner).__name__}")


def guarded_client(
    *, policy: EgressPolicy | None = None, verify: ssl.SSLContext | bool = True, **kwargs: Any
) -> httpx.Client:
    """An `httpx.Client` whose connections obey the egress policy (the process's
    INTMON_EGRESS_ALLOW when `policy` is None); `kwargs` go to `httpx.Client`."""
    transport = httpx.HTTPTransport(verify=verify)
    guard_transport(transport, EgressPolicy.from_environment() if policy is None else policy)
    return httpx.Client(transport=transport, **kwargs)


def guarded_async_client(
    *, policy: EgressPolicy | None = None, verify: ssl.SSLContext | bool = True, **kwargs: Any
) -> httpx.AsyncClient:
    """The asynchronous `guarded_client`."""
    transport = httpx.AsyncHTTPTransport(verify=verify)
    guard_transport(transport, EgressPolicy.from_environment() if policy is None else policy)
    return httpx.AsyncClient(transport=transport, **kwargs)
