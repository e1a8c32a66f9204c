"""The probe engine: runs checks over pooled HTTP clients and returns `CheckResult`s.

    ProbeEngine.run_check(integration, check)
      → prepare (once per spec: compiled expectation, auth scheme, templates)
      → resolve `${…}` references, apply auth           (secrets collected)
      → attempt: send (redirects: checks.redirects),
        stream the body up to the cap                   (bounded by timeout_s)
        ↻ tenacity: once more on a transient network error only
      → classify the answer or the exception            (checks.classify)
      → certificate expiry from a cached side probe     (checks.tls)
      → CheckResult with detail and excerpt redacted

`run_check` never raises: every failure is an outcome. The engine belongs to
one event loop; `checks.loop.EngineThread` gives synchronous callers one.

Four transports, picked by `ProbeSettings.transport`: "native" (the default,
`checks.transport`: asyncio protocols and httptools), "curl" (libcurl's multi
interface on the engine's loop, `checks.curl_transport`), "aiohttp" (httpx-aiohttp
over an aiohttp pool) and "httpx" (httpcore). Requests are httpx's and go
straight through the transport; only its construction differs (`checks.clients`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import traceback
import weakref
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_none

from checks._identity import IdentityCache
from checks.auth import AuthContext, AuthScheme, RequestParts, TokenCache, default_token_cache
from checks.auth import scheme_for as auth_scheme_for
from checks.body import read_capped
from checks.classify import (
    CompiledExpectation,
    Observation,
    classify,
    compile_expectation,
    diagnose_exception,
)
from checks.clients import DEFAULT_HEADERS, ClientPool
from checks.contract import ShapeSampler
from checks.errors import ConfigError, ProbeFailure, TransportFailure
from checks.redirects import Hop, describe_chain, send_following
from checks.tls import CertificateProbe, expiry_warning
from core.egress import EgressPolicy
from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.config import CheckSpec, IntegrationSpec
from integrations.errors import SecretUnavailable
from integrations.redaction import SENSITIVE_NAME, credential_values, redactor_for
from integrations.secrets import has_reference, redact, resolve

__all__ = ["ProbeEngine", "ProbeSettings"]

log = logging.getLogger(__name__)

# A header value that would split the request on the wire (or be cut at a NUL).
_UNSENDABLE = re.compile(r"[\r\n\x00]")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    """How the engine talks to partners; one value per worker process."""

    transport: Literal["native", "curl", "aiohttp", "httpx"] = "native"
    # The event loop `checks.loop.EngineThread` runs the engine on. uvloop makes
    # connecting, reading and closing C code: about a fifth fewer instructions
    # per check with a new connection each (docs/benchmarks.md).
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    # False: a new connection per check (like blackbox_exporter); True: pooled.
    keepalive: bool = True
    max_connections: int = 512
    max_connections_per_host: int = 32
    body_cap_bytes: int = 65_536
    excerpt_bytes: int = 512
    # A passing answer's shape (the learned contract) is taken at most this often
    # per check; auth and contract failures are always shaped (checks.contract).
    contract_sample_s: float = 300.0
    # Which internal ranges a check (and each redirect hop) may connect to; by
    # default INTMON_EGRESS_ALLOW from the environment (core.egress).
    egress: EgressPolicy = field(default_factory=EgressPolicy.from_environment)

    def __post_init__(self) -> None:
        if self.transport not in ("native", "curl", "aiohttp", "httpx"):
            raise ValueError(
                f"transport must be 'native', 'curl', 'aiohttp' or 'httpx', not {self.transport!r}"
            )
        if self.event_loop not in ("uvloop", "asyncio"):
            raise ValueError(f"event_loop must be 'uvloop' or 'asyncio', not {self.event_loop!r}")
        if min(self.max_connections, self.max_connections_per_host, self.body_cap_bytes) < 1:
            raise ValueError("connection limits and body_cap_bytes must be positive")
        if self.contract_sample_s < 0:
            raise ValueError(
                f"contract_sample_s must not be negative, not {self.contract_sample_s!r}"
            )


@dataclass(frozen=True, slots=True)
class _PreparedCheck:
    expectation: CompiledExpectation
    headers_have_references: bool
    query_has_reference: bool
    path_has_reference: bool
    json_has_reference: bool


@dataclass(frozen=True, slots=True)
class _PreparedIntegration:
    """Per-integration work done once: auth scheme, host, certificate target, and
    each of its checks (in the spec's order; None for one that cannot be prepared,
    which `_Preparations.check` prepares again to report why)."""

    auth: AuthScheme[Any]
    host: tuple[str, int]
    certificate_target: tuple[str, int] | None
    base_has_reference: bool
    checks: tuple[_PreparedCheck | None, ...]


class _Preparations:
    """What the engine prepares once per spec, held with one small entry per
    integration: a worker holds every integration of the fleet, and three
    identity caches (integration, check, expectation) cost ~2.4 KB per
    integration, 24 MB at 10,000 (docs/benchmarks.md, worker memory)."""

    def __init__(self) -> None:
        self._integrations: IdentityCache[IntegrationSpec, _PreparedIntegration] = IdentityCache(
            self._prepare_integration
        )
        # Checks that are not one of their integration's (a load test's request).
        self._other_checks: IdentityCache[CheckSpec, _PreparedCheck] = IdentityCache(_prepare_check)
        # One scheme per distinct auth block: the registry shares equal blocks, and a
        # scheme holds nothing of its integration (the context names it per request).
        self._schemes: weakref.WeakValueDictionary[object, AuthScheme[Any]] = (
            weakref.WeakValueDictionary()
        )

    def integration(self, integration: IntegrationSpec) -> _PreparedIntegration:
        return self._integrations.get(integration)

    def check(
        self, integration: IntegrationSpec, prepared: _PreparedIntegration, check: CheckSpec
    ) -> _PreparedCheck:
        for candidate, ready in zip(integration.checks, prepared.checks, strict=True):
            if candidate is check and ready is not None:
                return ready
        return self._other_checks.get(check)

    def _prepare_integration(self, integration: IntegrationSpec) -> _PreparedIntegration:
        parts = urlsplit(integration.base_url)
        host = (parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        target = host if parts.scheme == "https" and parts.hostname else None
        return _PreparedIntegration(
            auth=self._scheme(integration.auth),
            host=host,
            certificate_target=target,
            base_has_reference=has_reference(integration.base_url),
            checks=tuple(map(_prepare_check_or_none, integration.checks)),
        )

    def _scheme(self, auth: Any) -> AuthScheme[Any]:
        try:
            scheme = self._schemes.get(auth)
        except TypeError:  # not hashable (a spec built by hand): its own scheme
            return auth_scheme_for(auth)
        if scheme is None:
            scheme = self._schemes[auth] = auth_scheme_for(auth)
        return scheme


def _prepare_check_or_none(check: CheckSpec) -> _PreparedCheck | None:
    try:
        return _prepare_check(check)
    except Exception:  # only a spec that bypassed validation; reported when it runs
        return None


def _prepare_check(check: CheckSpec) -> _PreparedCheck:
    return _PreparedCheck(
        expectation=compile_expectation(check.expect),
        headers_have_references=any(map(has_reference, check.headers.values())),
        query_has_reference=any(map(has_reference, check.query.values())),
        path_has_reference=has_reference(check.path),
        json_has_reference=check.json_body is not None and _json_has_reference(check.json_body),
    )


def _json_has_reference(value: Any) -> bool:
    if isinstance(value, str):
        return has_reference(value)
    if isinstance(value, dict):
        return any(_json_has_reference(v) for v in value.values())
    if isinstance(value, list):
        return any(_json_has_reference(v) for v in value)
    return False


def _resolve_json(value: Any, secrets: set[str], environ: Mapping[str, str] | None) -> Any:
    if isinstance(value, str):
        return resolve(value, secrets, environ)
    if isinstance(value, dict):
        return {k: _resolve_json(v, secrets, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_json(v, secrets, environ) for v in value]
    return value


@dataclass(slots=True)
class _Run:
    """The state of one check run, shared by its attempts."""

    integration: IntegrationSpec
    check: CheckSpec
    integration_prepared: _PreparedIntegration
    prepared: _PreparedCheck
    environ: Mapping[str, str] | None
    scheduled_at: datetime | None
    secrets: set[str] = field(default_factory=set)
    # The last attempt's requests, one per redirect hop (shown when there are several).
    chain: list[Hop] = field(default_factory=list)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.perf_counter)


def _short_result(
    integration: IntegrationSpec,
    check: CheckSpec,
    scheduled_at: datetime | None,
    detail: str,
    outcome: Outcome = Outcome.SERVER_ERROR,
    run: _Run | None = None,
) -> CheckResult:
    """A result without an answer to classify (engine closed, bad spec, overall limit)."""
    return CheckResult(
        integration_id=integration.id,
        check_name=check.name,
        outcome=outcome,
        started_at=datetime.now(UTC) if run is None else run.started_at,
        duration_s=0.0 if run is None else time.perf_counter() - run.started,
        detail=detail,
        scheduled_at=scheduled_at,
    )


class ProbeEngine:
    """Runs checks on the current event loop; create, use and `aclose` on that loop."""

    def __init__(
        self,
        settings: ProbeSettings | None = None,
        *,
        token_cache: TokenCache | None = None,
        certificates: CertificateProbe | None = None,
    ) -> None:
        self.settings = settings or ProbeSettings()
        self._token_cache = token_cache or default_token_cache
        self._certificates = certificates or CertificateProbe(egress=self.settings.egress)
        self._clients = ClientPool(self.settings)
        self._prepared = _Preparations()
        self._urls = _UrlCache()
        self._shapes = ShapeSampler(self.settings.contract_sample_s)
        self._slots = asyncio.Semaphore(self.settings.max_connections)
        self._per_host: dict[tuple[str, int], asyncio.Semaphore] = {}
        self._closed = False

    # --- public API ----------------------------------------------------------

    async def run_check(
        self,
        integration: IntegrationSpec,
        check: CheckSpec,
        *,
        scheduled_at: datetime | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> CheckResult:
        """Probe once (plus retries on transient network errors); never raises.

        A check first waits for a connection slot (engine-wide and per host), so
        time spent queued behind other checks is not held against its partner.
        Then an outer limit of timeout × attempts + 1 s bounds the whole run.
        """
        if self._closed:
            return _short_result(integration, check, scheduled_at, "probe engine is closed")
        try:
            prepared = self._prepared.integration(integration)
            prepared_check = self._prepared.check(integration, prepared, check)
        except Exception as exc:  # only a spec that bypassed validation gets here
            log.exception("check %s/%s cannot be prepared", integration.id, check.name)
            return _short_result(integration, check, scheduled_at, f"invalid check: {exc}")
        async with self._slots, self._host_slots(prepared.host):
            run = _Run(integration, check, prepared, prepared_check, environ, scheduled_at)
            limit = integration.timeout_s * (integration.retries + 1) + 1.0
            try:
                async with asyncio.timeout(limit):
                    return await self._probe(run)
            except TimeoutError:
                detail = f"check exceeded its overall limit of {limit:g} s"
                return _short_result(integration, check, scheduled_at, detail, Outcome.TIMEOUT, run)

    async def run_batch(
        self,
        items: Sequence[tuple[IntegrationSpec, CheckSpec, datetime | None]],
        *,
        environ: Mapping[str, str] | None = None,
    ) -> list[CheckResult]:
        """Run every check concurrently; results in the order of `items`."""
        return list(
            await asyncio.gather(
                *(self.run_check(i, c, scheduled_at=s, environ=environ) for i, c, s in items)
            )
        )

    async def aclose(self) -> None:
        self._closed = True
        await self._certificates.aclose()
        await self._clients.aclose()

    # --- one run -------------------------------------------------------------

    async def _probe(self, run: _Run) -> CheckResult:
        integration = run.integration
        status: int | None = None
        body = b""
        retry_after: float | None = None
        certificate: asyncio.Task[float | None] | None = None
        expires_at: float | None = None
        observation: Observation | None = None
        try:
            target = run.integration_prepared.certificate_target
            if target is not None:
                known, expires_at = self._certificates.cached(*target)
                if not known:
                    certificate = self._certificates.lookup(
                        *target, timeout_s=integration.timeout_s
                    )
            observation = await self._attempts(run)
            status, body = observation.status, observation.body
            verdict = classify(observation, run.prepared.expectation, now=run.started_at)
            outcome, detail, retry_after = verdict.outcome, verdict.detail, verdict.retry_after_s
        except ProbeFailure as failure:
            outcome, detail = failure.outcome, failure.detail
        except Exception as exc:  # a bug or an unforeseen library error; still a result
            # The traceback's messages may quote a URL or a header: logged redacted.
            trace = redact("".join(traceback.format_exception(exc)), run.secrets)
            log.error("check %s/%s crashed\n%s", integration.id, run.check.name, trace)
            diagnosis = diagnose_exception(exc)
            outcome, detail = diagnosis.outcome, diagnosis.detail
        if len(run.chain) > 1:  # where the partner sent us: a ticket must show every hop
            chain = f"redirects: {describe_chain(run.chain)}"
            detail = f"{detail}; {chain}" if detail else chain
        duration = time.perf_counter() - run.started  # the side probe below is not the partner's
        if certificate is not None:
            expires_at = await self._await_certificate(certificate, run.started, integration)
        shape = None
        if observation is not None:
            secrets = run.secrets
            shape = self._shapes.shape(
                integration.id,
                run.check.name,
                outcome,
                observation.status,
                observation.headers,
                observation.body,
                truncated=observation.truncated,
                hide=(lambda text: redact(text, secrets)) if secrets else None,
            )
        warnings: list[str] = []
        if expires_at is not None:
            warning = expiry_warning(expires_at, time.time(), integration.tls.expiry_warning_days)
            if warning:
                warnings.append(warning)
        return CheckResult(
            integration_id=integration.id,
            check_name=run.check.name,
            outcome=outcome,
            started_at=run.started_at,
            duration_s=duration,
            http_status=status,
            detail=redact(detail, run.secrets),
            response_excerpt=self._excerpt(body, run.secrets),
            scheduled_at=run.scheduled_at,
            retry_after_s=retry_after,
            warnings=warnings,
            certificate_expires_at=expires_at,
            shape=shape,
        )

    def _excerpt(self, body: bytes, secrets: set[str]) -> str:
        if not secrets:
            return body[: self.settings.excerpt_bytes].decode("utf-8", errors="replace")
        return redactor_for(frozenset(secrets)).excerpt(body, self.settings.excerpt_bytes)

    def _host_slots(self, host: tuple[str, int]) -> asyncio.Semaphore:
        slots = self._per_host.get(host)
        if slots is None:
            slots = self._per_host[host] = asyncio.Semaphore(self.settings.max_connections_per_host)
        return slots

    async def _attempts(self, run: _Run) -> Observation:
        # The first attempt goes out directly; only a transient failure with
        # retries left brings in tenacity for the rest. Entering tenacity's
        # async iterator wraps each of its actions again, every time: about 7% of
        # the engine's CPU when nearly every check succeeds at once.
        try:
            return await self._attempt(run)
        except ProbeFailure as failure:
            if run.integration.retries == 0 or not _transient(failure):
                raise
        retrying = AsyncRetrying(
            stop=stop_after_attempt(run.integration.retries),
            retry=retry_if_exception(_transient),
            wait=wait_none(),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._attempt(run)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _attempt(self, run: _Run) -> Observation:
        return await bounded_attempt(run.integration.timeout_s, self._exchange(run))

    async def _exchange(self, run: _Run) -> Observation:
        integration = run.integration
        client = self._clients.get(integration.tls)
        url, parts, body = _resolved_request(run)
        scheme = run.integration_prepared.auth
        context = AuthContext(
            integration_id=integration.id,
            client=client,
            secrets=run.secrets,
            environ=run.environ,
            timeout_s=integration.timeout_s,
            token_cache=self._token_cache,
        )
        await scheme.apply(parts, context)
        collect_sensitive(parts.headers, parts.params, run.secrets)
        request = self._request(run, url, parts, body)
        started = time.perf_counter()
        run.chain.clear()
        response = await send_following(
            self._clients.transport(integration.tls),
            request,
            follow=integration.follow_redirects,
            secrets=run.secrets,
            chain=run.chain,
        )
        try:
            content, truncated = await read_capped(response, self.settings.body_cap_bytes)
        finally:
            await response.aclose()
        elapsed = time.perf_counter() - started
        if response.status_code == 401:
            scheme.unauthorized(context)
        return Observation(response.status_code, response.headers, content, elapsed, truncated)

    def _request(self, run: _Run, url: str, parts: RequestParts, body: Any) -> httpx.Request:
        """The httpx request, or a `ConfigError` when what was rendered cannot be sent
        (a secret holding a line break, a URL that no longer parses once resolved)."""
        for name, value in parts.headers.items():
            if _UNSENDABLE.search(value):
                raise ConfigError(f"header {name}: the rendered value holds a line break or NUL")
        headers = httpx.Headers(DEFAULT_HEADERS)
        headers.update(parts.headers)
        try:
            return httpx.Request(
                run.check.method,
                self._urls.get(url, parts.params),
                headers=headers,
                json=body,
                extensions={"timeout": _timeouts(run.integration.timeout_s)},
            )
        except (httpx.InvalidURL, ValueError, UnicodeEncodeError) as exc:
            raise ConfigError(f"the rendered request is not valid: {exc}") from None

    async def _await_certificate(
        self, task: asyncio.Task[float | None], started: float, integration: IntegrationSpec
    ) -> float | None:
        """Wait for a cold certificate probe only as long as the check's budget allows."""
        if task.done():
            return None if task.cancelled() else task.result()
        remaining = integration.timeout_s - (time.perf_counter() - started)
        if remaining <= 0:
            return None
        try:
            # shield: the probe fills the cache for the next run even if this one stops waiting
            return await asyncio.wait_for(asyncio.shield(task), remaining)
        except TimeoutError:
            return None


def _resolved_request(run: _Run) -> tuple[str, RequestParts, Any]:
    """URL, headers, query and JSON body with `${…}` references resolved (values → secrets).

    Only the fields found to hold references when the spec was prepared are resolved.
    """
    check, prepared, secrets, environ = run.check, run.prepared, run.secrets, run.environ
    base = run.integration.base_url
    if run.integration_prepared.base_has_reference:
        base = resolve(base, secrets, environ)
    path = resolve(check.path, secrets, environ) if prepared.path_has_reference else check.path
    headers = dict(check.headers)
    if prepared.headers_have_references:
        headers = {k: resolve(v, secrets, environ) for k, v in headers.items()}
    params = dict(check.query)
    if prepared.query_has_reference:
        params = {k: resolve(v, secrets, environ) for k, v in params.items()}
    body = check.json_body
    if prepared.json_has_reference:
        body = _resolve_json(body, secrets, environ)
    return base + path, RequestParts(headers=headers, params=params), body


def _timeouts(timeout_s: float) -> dict[str, float]:
    """httpx's per-request timeout extension: every phase bounded by the check's timeout."""
    return {"connect": timeout_s, "read": timeout_s, "write": timeout_s, "pool": timeout_s}


class _UrlCache:
    """Parsed request URLs by their text and query: most checks send the same URL
    every run, and parsing one with httpx costs more than sending it."""

    MAX_ENTRIES = 50_000

    def __init__(self) -> None:
        self._parsed: dict[tuple[str, tuple[tuple[str, str], ...]], httpx.URL] = {}

    def get(self, url: str, params: Mapping[str, str]) -> httpx.URL:
        key = (url, tuple(params.items()))
        parsed = self._parsed.get(key)
        if parsed is None:
            parsed = httpx.URL(url)
            if params:  # merged by hand: httpx 0.28's `params=` replaces the URL's query
                parsed = parsed.copy_merge_params(dict(params))
            if len(self._parsed) >= self.MAX_ENTRIES:
                self._parsed.clear()  # specs changed a lot; start over rather than track age
            self._parsed[key] = parsed
        return parsed


def collect_sensitive(
    headers: Mapping[str, str], params: Mapping[str, str], secrets: set[str]
) -> None:
    """Values of credential-like headers and query parameters are secrets too, and
    so are the credentials inside them (a Bearer token alone, a Basic password).
    Their encoded spellings need not be added: redaction finds every form."""
    for name, value in (*headers.items(), *params.items()):
        if value and SENSITIVE_NAME.search(name):
            secrets.update(credential_values(value))


async def bounded_attempt(timeout_s: float, exchange: Awaitable[T]) -> T:
    """One request, bounded by `timeout_s`; every failure becomes a ProbeFailure
    (its outcome read from the exception), which the retry layer judges."""
    try:
        async with asyncio.timeout(timeout_s):
            return await exchange
    except ProbeFailure:
        raise
    except SecretUnavailable as exc:
        raise ConfigError(f"secret unavailable here: {exc}") from None
    except Exception as exc:
        diagnosis = diagnose_exception(exc)
        raise TransportFailure(
            diagnosis.outcome, diagnosis.detail, permanent=not diagnosis.transient
        ) from exc


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, ProbeFailure) and not exc.permanent
