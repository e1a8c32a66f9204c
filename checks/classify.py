"""Classification: an HTTP answer or an exception becomes one `Outcome` and a detail.

Pure functions, no I/O. `classify` judges an `Observation` (what the partner
answered) against the check's `Expectation`; `classify_exception` judges a
failed request. Precedence for answers, first match wins:

1. an auth-error pattern found in the body          → auth_failure
2. a status the expectation does not allow:
   401 / 403 → auth_failure, 429 → rate_limited (Retry-After read),
   5xx → server_error, 4xx → client_error, anything else → contract_violation
3. JSON assertions (a body that is not JSON fails)  → contract_violation
4. header assertions                                → contract_violation
5. slower than `max_latency_ms`                     → slow
6.                                                  → ok

Exceptions are judged by their whole chain (`__cause__` / `__context__`,
`aiohttp.ClientConnectorError.os_error`), innermost first: httpx-aiohttp
re-raises every aiohttp connection error as `httpx.ConnectTimeout`, so the
outer type says nothing and the root cause says everything. aiohttp's classes
are looked up only once aiohttp is loaded (`_aiohttp`): on the other transports
a worker never imports it.
"""

from __future__ import annotations

import asyncio
import errno
import http
import json
import re
import socket
import ssl
import sys
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpcore
import httpx

from checks.errors import ProbeFailure
from core.egress import ALLOW_VARIABLE, EgressDenied
from core.vocabulary.assertions import JsonAssertion, compile_assertion
from core.vocabulary.outcomes import Outcome
from integrations.config import Expectation

__all__ = [
    "CompiledExpectation",
    "Observation",
    "Verdict",
    "classify",
    "classify_exception",
    "compile_expectation",
    "diagnose_exception",
    "parse_retry_after",
]


@dataclass(frozen=True, slots=True)
class Observation:
    """What the partner answered. `body` is already capped; `truncated` says if it was."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    elapsed_s: float
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    detail: str = ""
    retry_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """What an exception means: its outcome, a detail, and whether to try again."""

    outcome: Outcome
    detail: str
    transient: bool = False


@dataclass(frozen=True, slots=True, weakref_slot=True)
class CompiledExpectation:
    """An `Expectation` with its regexes and assertions compiled, ready for the hot path."""

    # Tuples, not sets: a handful of entries at most, and a tuple is a quarter of
    # a set's size (one of these per distinct expectation in every worker).
    statuses: tuple[int, ...]
    status_classes: tuple[int, ...]
    status_text: str
    assertions: tuple[JsonAssertion, ...]
    headers: tuple[tuple[str, re.Pattern[str]], ...]
    auth_error_patterns: tuple[re.Pattern[str], ...]
    max_latency_s: float | None

    def allows(self, status: int) -> bool:
        return status in self.statuses or status // 100 in self.status_classes


def _compile(expect: Expectation) -> CompiledExpectation:
    statuses = tuple(dict.fromkeys(s for s in expect.status if isinstance(s, int)))
    classes = tuple(dict.fromkeys(int(s[0]) for s in expect.status if isinstance(s, str)))
    return CompiledExpectation(
        statuses=statuses,
        status_classes=classes,
        status_text=", ".join(str(s) for s in expect.status),
        assertions=tuple(compile_assertion(text) for text in expect.json_),
        headers=tuple((name, re.compile(p)) for name, p in expect.headers.items()),
        auth_error_patterns=tuple(re.compile(p) for p in expect.auth_error_patterns),
        max_latency_s=None if expect.max_latency_ms is None else expect.max_latency_ms / 1000,
    )


# Compiled by value, shared while some check holds it: a fleet repeats a few
# expectations (any 2xx, the same JSON assertion) over thousands of checks, and
# a worker holds every check (~700 B each compiled; docs/benchmarks.md).
_compiled: weakref.WeakValueDictionary[tuple[Any, ...], CompiledExpectation] = (
    weakref.WeakValueDictionary()
)


def compile_expectation(expect: Expectation) -> CompiledExpectation:
    """The compiled form of `expect`, one object per distinct expectation."""
    key = expect.value_key()
    compiled = _compiled.get(key)
    if compiled is None:
        compiled = _compiled[key] = _compile(expect)
    return compiled


# --- answers -------------------------------------------------------------------


def classify(
    observation: Observation,
    expect: Expectation | CompiledExpectation,
    *,
    now: datetime | None = None,
) -> Verdict:
    """Judge an HTTP answer; `now` is only read for an HTTP-date Retry-After."""
    rules = expect if isinstance(expect, CompiledExpectation) else compile_expectation(expect)
    status = observation.status
    if rules.auth_error_patterns:
        text = observation.body.decode("utf-8", errors="replace")
        for pattern in rules.auth_error_patterns:
            if pattern.search(text):
                return Verdict(
                    Outcome.AUTH_FAILURE,
                    f"HTTP {status} body matches auth error pattern {pattern.pattern!r}",
                )
    if not rules.allows(status):
        return _unexpected_status(observation, rules, now)
    if rules.assertions:
        failure = _json_failures(observation, rules.assertions)
        if failure:
            return Verdict(Outcome.CONTRACT_VIOLATION, failure)
    for name, pattern in rules.headers:
        value = _header(observation.headers, name)
        if value is None:
            return Verdict(Outcome.CONTRACT_VIOLATION, f"header {name} missing")
        if not pattern.search(value):
            return Verdict(
                Outcome.CONTRACT_VIOLATION,
                f"header {name} {_clip(value)!r} does not match {pattern.pattern!r}",
            )
    if rules.max_latency_s is not None and observation.elapsed_s > rules.max_latency_s:
        return Verdict(
            Outcome.SLOW,
            f"took {observation.elapsed_s * 1000:.0f} ms (max {rules.max_latency_s * 1000:.0f} ms)",
        )
    return Verdict(Outcome.OK, f"HTTP {status}")


def _unexpected_status(
    observation: Observation, rules: CompiledExpectation, now: datetime | None
) -> Verdict:
    status = observation.status
    said = f"{_status_text(status)} (expected {rules.status_text})"
    if status in (401, 403):
        return Verdict(Outcome.AUTH_FAILURE, said)
    if status == 429:
        raw = _header(observation.headers, "retry-after")
        retry_after = None if raw is None else parse_retry_after(raw, now or datetime.now(UTC))
        if retry_after is not None:
            said += f", retry after {retry_after:g} s"
        return Verdict(Outcome.RATE_LIMITED, said, retry_after)
    if 500 <= status <= 599:
        return Verdict(Outcome.SERVER_ERROR, said)
    if 400 <= status <= 499:
        return Verdict(Outcome.CLIENT_ERROR, said)
    return Verdict(Outcome.CONTRACT_VIOLATION, said)


def _json_failures(observation: Observation, assertions: tuple[JsonAssertion, ...]) -> str:
    if observation.truncated:
        return (
            f"body larger than the {len(observation.body)}-byte read limit; "
            "JSON assertions cannot be evaluated"
        )
    try:
        document: Any = json.loads(observation.body)
    except ValueError as exc:  # includes UnicodeDecodeError
        reason = "empty" if not observation.body.strip() else _clip(str(exc))
        return f"body is not JSON ({reason})"
    failures = [f for f in (a.evaluate(document) for a in assertions) if f is not None]
    return "; ".join(failures)


def parse_retry_after(value: str, now: datetime) -> float | None:
    """Seconds from a Retry-After value (delta-seconds or HTTP-date); None if unreadable."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, round((when - now).total_seconds(), 3))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return candidate
    return None


def _status_text(status: int) -> str:
    try:
        return f"HTTP {status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- exceptions ----------------------------------------------------------------


def classify_exception(exc: BaseException) -> tuple[Outcome, str]:
    """The outcome and detail of a request that raised `exc` (either transport)."""
    diagnosis = diagnose_exception(exc)
    return diagnosis.outcome, diagnosis.detail


def diagnose_exception(exc: BaseException) -> Diagnosis:
    """Like `classify_exception`, plus whether the failure is worth one more attempt."""
    if isinstance(exc, ProbeFailure):
        return Diagnosis(exc.outcome, exc.detail, not exc.permanent)
    chain = _chain(exc)
    for candidate in reversed(chain):
        found = _diagnose_one(candidate)
        if found is not None:
            return found
    for candidate in reversed(chain):
        found = _diagnose_generic(candidate)
        if found is not None:
            return found
    return Diagnosis(Outcome.SERVER_ERROR, f"unexpected error: {_describe(exc)}")


def _chain(exc: BaseException) -> list[BaseException]:
    """Every exception behind `exc`, outermost first; stops at a cancellation."""
    seen: set[int] = set()
    ordered: list[BaseException] = []
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        ordered.append(current)
        if isinstance(current, ProbeFailure | asyncio.CancelledError):
            continue  # what was running when it was cancelled is not the cause
        behind: list[BaseException] = []
        if isinstance(current, BaseExceptionGroup):
            behind.extend(current.exceptions)
        if isinstance(current, _aiohttp().connector):
            behind.append(current.os_error)  # type: ignore[attr-defined]
        if current.args and isinstance(current.args[0], BaseException):
            behind.append(current.args[0])  # httpcore wraps as `ConnectError(original)`
        # The context counts even when suppressed: httpcore's pool re-raises
        # with `raise exc from None`, which hides the root cause from display only.
        if current.__cause__ is not None:
            behind.append(current.__cause__)
        elif current.__context__ is not None:
            behind.append(current.__context__)
        pending.extend(reversed(behind))
    return ordered


_REFUSED = {errno.ECONNREFUSED}
_RESET = {errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED}
_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}


def _diagnose_one(exc: BaseException) -> Diagnosis | None:
    """A verdict from one link of the chain when it is specific enough."""
    if isinstance(exc, EgressDenied):
        # A redirect's refusal is judged by `checks.redirects`, which knows the hop;
        # one met here is an address intmon was configured to use (a token endpoint).
        return Diagnosis(
            Outcome.CONFIG_ERROR, f"{exc}; allow its range in {ALLOW_VARIABLE} if intended"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = getattr(exc, "verify_message", "") or getattr(exc, "reason", "") or str(exc)
        return Diagnosis(Outcome.TLS_ERROR, f"TLS certificate verify failed: {reason}")
    aio = _aiohttp()
    if isinstance(exc, (ssl.SSLError, *aio.ssl)):
        reason = getattr(exc, "reason", None) or str(exc)
        return Diagnosis(Outcome.TLS_ERROR, f"TLS handshake failed: {reason}")
    if isinstance(exc, (socket.gaierror, *aio.dns)):
        reason = exc.strerror if isinstance(exc, socket.gaierror) and exc.strerror else exc
        return Diagnosis(Outcome.DNS_FAILURE, f"DNS lookup failed: {reason}")
    if isinstance(exc, ConnectionRefusedError) or _errno(exc) in _REFUSED:
        return Diagnosis(Outcome.CONNECTION_REFUSED, "connection refused", transient=True)
    if isinstance(exc, TimeoutError | httpcore.TimeoutException):
        return Diagnosis(Outcome.TIMEOUT, _timeout_detail(exc))
    if isinstance(exc, httpx.TimeoutException) and not _mapped_from_aiohttp(exc):
        return Diagnosis(Outcome.TIMEOUT, _timeout_detail(exc))
    if isinstance(exc, httpx.TooManyRedirects):
        return Diagnosis(Outcome.CONTRACT_VIOLATION, "redirect loop: too many redirects")
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError) or (
        _errno(exc) in _RESET
    ):
        return Diagnosis(Outcome.SERVER_ERROR, "connection reset by the server", transient=True)
    if isinstance(exc, aio.disconnected):
        return Diagnosis(
            Outcome.SERVER_ERROR, "server closed the connection without answering", transient=True
        )
    if isinstance(exc, httpx.RemoteProtocolError | httpcore.RemoteProtocolError):
        if "disconnected" in str(exc).lower():
            return Diagnosis(
                Outcome.SERVER_ERROR,
                "server closed the connection without answering",
                transient=True,
            )
        return Diagnosis(Outcome.SERVER_ERROR, f"broken HTTP response: {exc}")
    if _errno(exc) in _UNREACHABLE:
        return Diagnosis(Outcome.CONNECTION_REFUSED, f"host unreachable: {_describe(exc)}")
    return None


def _diagnose_generic(exc: BaseException) -> Diagnosis | None:
    """A verdict from broad transport classes, when no link was specific."""
    aio = _aiohttp()
    if isinstance(exc, (httpx.DecodingError, *aio.payload)):
        return Diagnosis(Outcome.SERVER_ERROR, f"broken response body: {exc}")
    if isinstance(exc, aio.response):
        message = exc.message  # type: ignore[attr-defined]
        return Diagnosis(Outcome.SERVER_ERROR, f"broken HTTP response: {message}")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return Diagnosis(Outcome.CONTRACT_VIOLATION, f"unusable URL: {exc}")
    if isinstance(exc, (httpx.ConnectError, httpcore.ConnectError, *aio.connector)):
        return Diagnosis(Outcome.CONNECTION_REFUSED, f"cannot connect: {_describe(exc)}")
    if isinstance(exc, (httpx.TransportError, httpcore.NetworkError, *aio.client)):
        return Diagnosis(Outcome.SERVER_ERROR, f"connection failed: {_describe(exc)}")
    if isinstance(exc, OSError):
        return Diagnosis(Outcome.SERVER_ERROR, f"network error: {_describe(exc)}")
    return None


def _mapped_from_aiohttp(exc: BaseException) -> bool:
    """httpx-aiohttp maps every aiohttp connection error to ConnectTimeout; see through it."""
    cause = exc.__cause__
    return isinstance(cause, _aiohttp().client) and not isinstance(cause, TimeoutError)


ErrorTypes = tuple[type[BaseException], ...]


@dataclass(frozen=True, slots=True)
class _AiohttpErrors:
    """aiohttp's exception classes that classification tells apart; all empty
    while aiohttp is not loaded."""

    connector: ErrorTypes = ()
    ssl: ErrorTypes = ()
    dns: ErrorTypes = ()
    disconnected: ErrorTypes = ()
    payload: ErrorTypes = ()
    response: ErrorTypes = ()
    client: ErrorTypes = ()


_NO_AIOHTTP = _AiohttpErrors()
_aiohttp_errors: _AiohttpErrors | None = None


def _aiohttp() -> _AiohttpErrors:
    """aiohttp's classes once something in this process has imported aiohttp (its
    transport, the e2e listener, a test), none before: an exception of a module
    that was never loaded cannot exist. Importing it here would put aiohttp in
    every worker although the default transport never uses it (docs/benchmarks.md,
    worker memory)."""
    global _aiohttp_errors
    if _aiohttp_errors is not None:
        return _aiohttp_errors
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is None or not hasattr(aiohttp, "ClientError"):  # absent, or still importing
        return _NO_AIOHTTP
    _aiohttp_errors = _AiohttpErrors(
        connector=(aiohttp.ClientConnectorError,),
        ssl=(aiohttp.ClientSSLError,),
        dns=(aiohttp.ClientConnectorDNSError,),
        disconnected=(aiohttp.ServerDisconnectedError,),
        payload=(aiohttp.ClientPayloadError,),
        response=(aiohttp.ClientResponseError,),
        client=(aiohttp.ClientError,),
    )
    return _aiohttp_errors


def _timeout_detail(exc: BaseException) -> str:
    if isinstance(exc, httpx.ConnectTimeout | httpcore.ConnectTimeout):
        return "timed out connecting"
    if isinstance(exc, httpx.PoolTimeout | httpcore.PoolTimeout):
        return "timed out waiting for a free connection"
    return "timed out waiting for the answer"


def _errno(exc: BaseException) -> int | None:
    return exc.errno if isinstance(exc, OSError) else None


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {_clip(text)}" if text else type(exc).__name__
