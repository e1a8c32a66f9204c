"""Canaries: can intmon itself reach the network and resolve names right now?

The platform's self-check (README "Is it them or us?") asks two things of the
machine the checks run on, with bounded timeouts and all at once:

- each operator-named canary URL answers at all (any HTTP status: the point is
  that the request reached a server, not what the server thinks of it);
- each name in `dns_names` resolves through the resolver the checks use (the
  system's `getaddrinfo`, which the event loop calls for `checks.transport`), in
  threads of our own that nobody waits for: a resolver that hangs past the
  timeout must not hold the housekeeping pass (asyncio.run would wait for the
  loop's default executor).

A failure is classified as a check's would be (`checks.classify`), so a canary
that cannot connect says `connection_refused`, `timeout`, `dns_failure` or
`tls_error`. Nothing here touches the database; `alerts.platform_outages`
decides what a failure means.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from checks.canary_spec import CanarySpec
from checks.classify import classify_exception
from checks.clients import USER_AGENT, ssl_context
from core.egress_http import guarded_async_client
from core.vocabulary.outcomes import Outcome
from integrations.config import TLSSettings

DNS_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class CanaryResult:
    """One canary's or one DNS name's answer; `outcome` is None when it passed."""

    kind: str  # "canary" | "dns"
    name: str  # the canary's name, or the DNS name
    outcome: Outcome | None
    detail: str
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.outcome is None


def canary_client(timeout_s: float) -> httpx.AsyncClient:
    """The one client every canary request goes through; its connections obey the
    egress policy like every other (a canary on an internal address needs its
    range in INTMON_EGRESS_ALLOW, or it fails as refused)."""
    return guarded_async_client(
        timeout=httpx.Timeout(timeout_s),
        verify=ssl_context(TLSSettings()),
        trust_env=False,  # the checks do not use environment proxies either
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


async def run_canaries(
    canaries: Sequence[CanarySpec], dns_names: Sequence[str]
) -> list[CanaryResult]:
    """Every canary and name at once; each bounded by its own timeout."""
    resolver = ThreadPoolExecutor(max(len(dns_names), 1), thread_name_prefix="intmon-canary-dns")
    try:
        jobs = [_probe(canary) for canary in canaries]
        jobs += [_resolve(name, resolver) for name in dns_names]
        return list(await asyncio.gather(*jobs))
    finally:
        resolver.shutdown(wait=False, cancel_futures=True)


async def _probe(canary: CanarySpec) -> CanaryResult:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(canary.timeout_s), canary_client(canary.timeout_s) as client:
            response = await client.get(canary.url)
            await response.aclose()
    except Exception as exc:  # every failure is classified, none escapes the pass
        outcome, detail = classify_exception(exc)
        return CanaryResult("canary", canary.name, outcome, detail, _since(started))
    return CanaryResult(
        "canary", canary.name, None, f"HTTP {response.status_code}", _since(started)
    )


async def _resolve(name: str, resolver: ThreadPoolExecutor) -> CanaryResult:
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(DNS_TIMEOUT_S):
            addresses = await loop.run_in_executor(
                resolver, socket.getaddrinfo, name, None, 0, socket.SOCK_STREAM
            )
    except TimeoutError:
        detail = f"DNS lookup of {name} timed out after {DNS_TIMEOUT_S:g}s"
        return CanaryResult("dns", name, Outcome.DNS_FAILURE, detail, _since(started))
    except OSError as exc:
        outcome, detail = classify_exception(exc)
        if outcome is not Outcome.DNS_FAILURE:  # e.g. EAI_AGAIN surfacing as OSError
            outcome, detail = Outcome.DNS_FAILURE, f"DNS lookup failed: {exc}"
        return CanaryResult("dns", name, outcome, detail, _since(started))
    return CanaryResult("dns", name, None, f"{len(addresses)} address(es)", _since(started))


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 4)
