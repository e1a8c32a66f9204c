"""Certificate expiry: when does the partner's TLS certificate run out?

A side probe next to the real request: its own TLS handshake to (host, port),
cached for an hour, bounded by the check's timeout. It reads the certificate
without verifying it (a date needs no trust), so a partner whose certificate
is untrusted or already expired still gets `certificate_expires_at` — the
verifying request is what decides the outcome. A failed probe only means
"unknown": it never changes a check's outcome. It connects only where the
egress policy permits (`core.egress`), like the request it accompanies.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography import x509

from core.egress import EgressPolicy, resolve_checked_async

__all__ = ["CertificateProbe", "expiry_warning", "read_certificate_expiry"]

CACHE_TTL_S = 3600.0
FAILURE_TTL_S = 300.0
_DAY_S = 86_400.0

Target = tuple[str, int]


def expiry_warning(expires_at: float, now: float, warning_days: int) -> str | None:
    """A warning when the certificate expires within `warning_days` of `now`."""
    remaining = expires_at - now
    if remaining > warning_days * _DAY_S:
        return None
    date = datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    if remaining <= 0:
        return f"TLS certificate expired on {date}"
    days = remaining / _DAY_S
    return f"TLS certificate expires in {days:.1f} days ({date})"


def _reading_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def read_certificate_expiry(
    host: str,
    port: int,
    *,
    timeout_s: float,
    context: ssl.SSLContext | None = None,
    egress: EgressPolicy | None = None,
) -> float:
    """The peer certificate's notAfter as unix time; raises on any failure
    (`EgressDenied` when the policy refuses every address of `host`)."""
    context = context or _reading_context()
    policy = EgressPolicy.from_environment() if egress is None else egress
    async with asyncio.timeout(timeout_s):
        (_, address), *_ = await resolve_checked_async(policy, host, port)
        _, writer = await asyncio.open_connection(
            address, port, ssl=context, server_hostname=host, ssl_handshake_timeout=timeout_s
        )
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    finally:
        # Abort: a polite TLS shutdown can wait on the peer, and we only wanted the date.
        writer.transport.abort()
    if not der:
        raise ssl.SSLError("the server sent no certificate")
    certificate = x509.load_der_x509_certificate(der)
    return certificate.not_valid_after_utc.timestamp()


class CertificateProbe:
    """Cached expiry lookups, one handshake in flight per target.

    Belongs to one event loop (the engine's). Results are kept `ttl_s`,
    failures `failure_ttl_s` so an unreachable host is not re-probed each run.
    """

    def __init__(
        self,
        *,
        ttl_s: float = CACHE_TTL_S,
        failure_ttl_s: float = FAILURE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
        egress: EgressPolicy | None = None,
    ) -> None:
        self._egress = EgressPolicy.from_environment() if egress is None else egress
        self._ttl_s = ttl_s
        self._failure_ttl_s = failure_ttl_s
        self._clock = clock
        self._known: dict[Target, tuple[float | None, float]] = {}
        self._in_flight: dict[Target, asyncio.Task[float | None]] = {}
        self._context = _reading_context()

    def cached(self, host: str, port: int) -> tuple[bool, float | None]:
        """(known, expires_at) without any I/O."""
        entry = self._known.get((host, port))
        if entry is not None and self._clock() < entry[1]:
            return True, entry[0]
        return False, None

    def lookup(self, host: str, port: int, *, timeout_s: float) -> asyncio.Task[float | None]:
        """A task that resolves to the expiry (None when unknown); shared per target."""
        target = (host, port)
        task = self._in_flight.get(target)
        if task is None:
            task = asyncio.create_task(self._probe(target, timeout_s))
            self._in_flight[target] = task
        return task

    async def expires_at(self, host: str, port: int, *, timeout_s: float) -> float | None:
        known, value = self.cached(host, port)
        if known:
            return value
        return await asyncio.shield(self.lookup(host, port, timeout_s=timeout_s))

    async def _probe(self, target: Target, timeout_s: float) -> float | None:
        try:
            value: float | None = await read_certificate_expiry(
                *target, timeout_s=timeout_s, context=self._context, egress=self._egress
            )
            ttl = self._ttl_s
        except Exception:  # any failure means "unknown"; the real request reports it
            value, ttl = None, self._failure_ttl_s
        finally:
            self._in_flight.pop(target, None)
        self._known[target] = (value, self._clock() + ttl)
        return value

    async def aclose(self) -> None:
        tasks = list(self._in_flight.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
