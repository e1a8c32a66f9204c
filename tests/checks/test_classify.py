"""Classification tables: one row per case (name, input, expected outcome).

Exception rows rebuild the chains both transports really raise (see the
module docstring of `checks.classify`); adding a case is adding a row.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import socket
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import aiohttp
import httpcore
import httpx
import pytest

from checks.classify import (
    Observation,
    classify,
    classify_exception,
    compile_expectation,
    diagnose_exception,
    parse_retry_after,
)
from checks.errors import AuthFailure, TokenRequestRefused
from core.vocabulary.outcomes import Outcome
from integrations.config import Expectation

NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Answer:
    name: str
    status: int
    outcome: Outcome
    expect: dict[str, Any] = field(default_factory=dict)
    body: bytes = b'{"status": "ok"}'
    headers: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.05
    truncated: bool = False
    detail: str = ""


ANSWERS = [
    Answer("200 ok", 200, Outcome.OK, detail="HTTP 200"),
    Answer("204 in 2xx", 204, Outcome.OK, body=b""),
    Answer("401", 401, Outcome.AUTH_FAILURE, detail="HTTP 401 Unauthorized (expected 2xx)"),
    Answer("403", 403, Outcome.AUTH_FAILURE, detail="HTTP 403 Forbidden"),
    Answer("429 seconds", 429, Outcome.RATE_LIMITED, headers={"Retry-After": "7"}, detail="7 s"),
    Answer("429 without Retry-After", 429, Outcome.RATE_LIMITED),
    Answer("500", 500, Outcome.SERVER_ERROR, detail="HTTP 500 Internal Server Error"),
    Answer("503", 503, Outcome.SERVER_ERROR),
    Answer("404", 404, Outcome.CLIENT_ERROR, detail="HTTP 404 Not Found"),
    Answer("418", 418, Outcome.CLIENT_ERROR),
    Answer("302 not followed", 302, Outcome.CONTRACT_VIOLATION, detail="HTTP 302 Found"),
    Answer("100-class status", 199, Outcome.CONTRACT_VIOLATION),
    Answer("200 when 201 expected", 200, Outcome.CONTRACT_VIOLATION, expect={"status": [201]}),
    Answer("expected 500", 500, Outcome.OK, expect={"status": [500]}),
    Answer("expected 401 skips auth rule", 401, Outcome.OK, expect={"status": [401]}),
    Answer("expected 429 skips rate rule", 429, Outcome.OK, expect={"status": ["4xx"]}),
    Answer("class 3xx", 301, Outcome.OK, expect={"status": ["2xx", "3xx"]}),
    Answer(
        "auth pattern in 200",
        200,
        Outcome.AUTH_FAILURE,
        expect={"auth_error_patterns": ["invalid (token|key)"]},
        body=b'{"error":"invalid token"}',
        detail="auth error pattern",
    ),
    Answer(
        "auth pattern beats allowed status",
        500,
        Outcome.AUTH_FAILURE,
        expect={"status": [500], "auth_error_patterns": ["expired"]},
        body=b"session expired",
    ),
    Answer(
        "auth pattern beats 500",
        500,
        Outcome.AUTH_FAILURE,
        expect={"auth_error_patterns": ["expired"]},
        body=b"session expired",
    ),
    Answer(
        "auth pattern absent",
        200,
        Outcome.OK,
        expect={"auth_error_patterns": ["invalid token"]},
    ),
    Answer(
        "json assertion fails",
        200,
        Outcome.CONTRACT_VIOLATION,
        expect={"json": ['$.status == "ok"', "$.count >= 1"]},
        body=b'{"status": "down"}',
        detail='$.status == "ok" failed: got "down"; $.count >= 1 failed: path not found',
    ),
    Answer(
        "json assertions hold",
        200,
        Outcome.OK,
        expect={"json": ['$.status == "ok"']},
    ),
    Answer(
        "body not JSON",
        200,
        Outcome.CONTRACT_VIOLATION,
        expect={"json": ["$.status exists"]},
        body=b"<html>",
        detail="body is not JSON",
    ),
    Answer(
        "empty body with assertions",
        200,
        Outcome.CONTRACT_VIOLATION,
        expect={"json": ["$.status exists"]},
        body=b"",
        detail="body is not JSON (empty)",
    ),
    Answer(
        "invalid UTF-8 with assertions",
        200,
        Outcome.CONTRACT_VIOLATION,
        expect={"json": ["$.status exists"]},
        body=b'{"status": "\xff"}',
        detail="body is not JSON",
    ),
    Answer(
        "truncated body with assertions",
        200,
        Outcome.CONTRACT_VIOLATION,
        expect={"json": ["$.status exists"]},
        truncated=True,
        detail="read limit",
    ),
    Answer("truncated body without assertions", 200, Outcome.OK, truncated=True),
    Answer(
        "header matches, name in other case",
        200,
        Outcome.OK,
        expect={"headers": {"content-type": "json"}},
        headers={"Content-Type": "application/json"},
    ),
    Answer(
        "header value mismatch",
        200,
        Outcome.CONTRACT_VIOLATION,
        expect={"headers": {"Content-Type": "json"}},
        headers={"Content-Type": "text/html"},
        detail="does not match",
    ),
    Answer(
        "header missing",
        200,
        Outcome.CONTRACT_VIOLATION,
        expect={"headers": {"X-Version": "^2"}},
        detail="header X-Version missing",
    ),
    Answer(
        "slow",
        200,
        Outcome.SLOW,
        expect={"max_latency_ms": 100},
        elapsed_s=0.25,
        detail="took 250 ms (max 100 ms)",
    ),
    Answer("just in time", 200, Outcome.OK, expect={"max_latency_ms": 100}, elapsed_s=0.1),
    Answer(
        "contract beats slow",
        200,
        Outcome.CONTRACT_VIOLATION,
        expect={"max_latency_ms": 100, "json": ['$.status == "down"']},
        elapsed_s=0.25,
    ),
    Answer(
        "server error beats slow",
        500,
        Outcome.SERVER_ERROR,
        expect={"max_latency_ms": 100},
        elapsed_s=0.25,
    ),
]


@pytest.mark.parametrize("case", ANSWERS, ids=[case.name for case in ANSWERS])
def test_classify_answer(case: Answer) -> None:
    observation = Observation(case.status, case.headers, case.body, case.elapsed_s, case.truncated)

    verdict = classify(observation, Expectation.model_validate(case.expect), now=NOW)

    assert verdict.outcome is case.outcome, verdict.detail
    assert case.detail in verdict.detail


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("Tue, 01 Jan 2030 12:00:30 GMT", 30.0),
        ("Tue, 01 Jan 2030 11:00:00 GMT", 0.0),  # in the past: retry now
        ("soon", None),
        ("-5", None),
    ],
)
def test_parse_retry_after(value: str, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_rate_limited_carries_retry_after() -> None:
    observation = Observation(429, {"retry-after": "Tue, 01 Jan 2030 12:01:00 GMT"}, b"", 0.1)

    verdict = classify(observation, Expectation(), now=NOW)

    assert (verdict.outcome, verdict.retry_after_s) == (Outcome.RATE_LIMITED, 60.0)


def test_expectations_are_compiled_once_per_spec() -> None:
    expect = Expectation.model_validate({"json": ["$.a exists"]})

    assert compile_expectation(expect) is compile_expectation(expect)


# --- exceptions ------------------------------------------------------------------


def chained(*links: BaseException, suppress: bool = False) -> BaseException:
    """Link `links` outermost first: each one is raised `from` the next."""
    for outer, inner in itertools.pairwise(links):
        if suppress:  # httpcore's pool: `raise exc from None` keeps only a hidden context
            outer.__context__, outer.__suppress_context__ = inner, True
        else:
            outer.__cause__ = inner
    return links[0]


KEY = SimpleNamespace(host="partner.example", port=443, ssl=True)


def refused() -> ConnectionRefusedError:
    return ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed")


def gaierror() -> socket.gaierror:
    return socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def cert_error() -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "certificate has expired"
    return error


def cancelled_timeout() -> TimeoutError:
    """What `asyncio.timeout` raises: TimeoutError from CancelledError (whose context is noise)."""
    cancelled = asyncio.CancelledError()
    cancelled.__context__ = refused()
    return chained(TimeoutError(), cancelled)  # type: ignore[return-value]


@dataclass(frozen=True)
class Failure:
    name: str
    exception: Any  # a factory, so every row gets fresh exception objects
    outcome: Outcome
    transient: bool = False
    detail: str = ""


FAILURES = [
    # httpx's own transport (httpcore on anyio)
    Failure(
        "httpx refused",
        lambda: chained(
            httpx.ConnectError("All connection attempts failed"),
            httpcore.ConnectError("All connection attempts failed"),
            OSError("All connection attempts failed"),
            refused(),
            suppress=True,
        ),
        Outcome.CONNECTION_REFUSED,
        transient=True,
    ),
    Failure(
        "httpx dns",
        lambda: chained(httpx.ConnectError("x"), httpcore.ConnectError("x"), gaierror()),
        Outcome.DNS_FAILURE,
        detail="Name or service not known",
    ),
    Failure(
        "httpx certificate",
        lambda: chained(httpx.ConnectError("x"), httpcore.ConnectError("x"), cert_error()),
        Outcome.TLS_ERROR,
        detail="certificate has expired",
    ),
    Failure(
        "httpx handshake EOF",
        lambda: chained(httpx.ConnectError("x"), ssl.SSLEOFError(8, "EOF occurred")),
        Outcome.TLS_ERROR,
    ),
    Failure(
        "httpx connect timeout",
        lambda: chained(httpx.ConnectTimeout("x"), httpcore.ConnectTimeout("x")),
        Outcome.TIMEOUT,
        detail="connecting",
    ),
    Failure("httpx read timeout", lambda: httpx.ReadTimeout("x"), Outcome.TIMEOUT),
    Failure(
        "httpx remote disconnect",
        lambda: chained(
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            httpcore.RemoteProtocolError("Server disconnected without sending a response."),
        ),
        Outcome.SERVER_ERROR,
        transient=True,
    ),
    Failure(
        "httpx broken HTTP",
        lambda: httpx.RemoteProtocolError("illegal status line: bytearray(b'garbage')"),
        Outcome.SERVER_ERROR,
        detail="broken HTTP response",
    ),
    Failure(
        "httpx reset while reading",
        lambda: chained(httpx.ReadError("x"), httpcore.ReadError("x"), ConnectionResetError()),
        Outcome.SERVER_ERROR,
        transient=True,
    ),
    Failure(
        "httpx redirect loop",
        lambda: httpx.TooManyRedirects("Exceeded maximum allowed redirects."),
        Outcome.CONTRACT_VIOLATION,
        detail="redirect loop",
    ),
    Failure("httpx bad gzip", lambda: httpx.DecodingError("x"), Outcome.SERVER_ERROR),
    Failure(
        "httpx connect error, unknown cause",
        lambda: httpx.ConnectError("weird"),
        Outcome.CONNECTION_REFUSED,
        detail="cannot connect",
    ),
    # httpx-aiohttp: every aiohttp connection error arrives as httpx.ConnectTimeout
    Failure(
        "aiohttp refused",
        lambda: chained(
            httpx.ConnectTimeout("Cannot connect"),
            aiohttp.ClientConnectorError(KEY, refused()),  # type: ignore[arg-type]
        ),
        Outcome.CONNECTION_REFUSED,
        transient=True,
    ),
    Failure(
        "aiohttp refused, several addresses",
        lambda: chained(
            httpx.ConnectTimeout("x"),
            aiohttp.ClientConnectorError(
                KEY,  # type: ignore[arg-type]
                OSError(errno.ECONNREFUSED, "Multiple exceptions: ..."),
            ),
        ),
        Outcome.CONNECTION_REFUSED,
        transient=True,
    ),
    Failure(
        "aiohttp dns",
        lambda: chained(
            httpx.ConnectTimeout("x"),
            aiohttp.ClientConnectorDNSError(KEY, gaierror()),  # type: ignore[arg-type]
        ),
        Outcome.DNS_FAILURE,
    ),
    Failure(
        "aiohttp certificate",
        lambda: chained(
            httpx.ConnectTimeout("x"),
            aiohttp.ClientConnectorCertificateError(KEY, cert_error()),  # type: ignore[arg-type]
        ),
        Outcome.TLS_ERROR,
        detail="certificate has expired",
    ),
    Failure(
        "aiohttp disconnect",
        lambda: chained(httpx.ConnectTimeout("x"), aiohttp.ServerDisconnectedError()),
        Outcome.SERVER_ERROR,
        transient=True,
        detail="closed the connection",
    ),
    Failure(
        "aiohttp connect timeout",
        lambda: chained(httpx.ConnectTimeout("x"), aiohttp.ConnectionTimeoutError("x")),
        Outcome.TIMEOUT,
    ),
    Failure(
        "aiohttp read timeout",
        lambda: chained(httpx.ReadTimeout("x"), aiohttp.SocketTimeoutError("x")),
        Outcome.TIMEOUT,
    ),
    Failure(
        "aiohttp payload cut",
        lambda: chained(
            httpx.ReadError("x"), aiohttp.ClientPayloadError("Response payload is not completed")
        ),
        Outcome.SERVER_ERROR,
        detail="broken response body",
    ),
    Failure(
        "aiohttp unknown client error under ConnectTimeout",
        lambda: chained(httpx.ConnectTimeout("x"), aiohttp.ClientConnectionError("odd")),
        Outcome.SERVER_ERROR,
    ),
    # anything
    Failure("asyncio.timeout", cancelled_timeout, Outcome.TIMEOUT),
    Failure("builtin timeout", lambda: TimeoutError(), Outcome.TIMEOUT),
    Failure(
        "host unreachable",
        lambda: OSError(errno.EHOSTUNREACH, "No route to host"),
        Outcome.CONNECTION_REFUSED,
    ),
    Failure(
        "group of refusals",
        lambda: ExceptionGroup("attempts", [refused(), refused()]),
        Outcome.CONNECTION_REFUSED,
        transient=True,
    ),
    Failure(
        "token refused",
        lambda: TokenRequestRefused("token request refused: HTTP 401", status=401),
        Outcome.AUTH_FAILURE,
        detail="token request refused: HTTP 401",
    ),
    Failure("auth failure", lambda: AuthFailure("no"), Outcome.AUTH_FAILURE),
    Failure(
        "a bug",
        lambda: KeyError("oops"),
        Outcome.SERVER_ERROR,
        detail="unexpected error: KeyError",
    ),
]


@pytest.mark.parametrize("case", FAILURES, ids=[case.name for case in FAILURES])
def test_classify_exception(case: Failure) -> None:
    exception = case.exception()

    outcome, detail = classify_exception(exception)

    assert outcome is case.outcome, detail
    assert case.detail in detail
    assert diagnose_exception(exception).transient is case.transient


def test_exception_chain_cycles_terminate() -> None:
    first, second = OSError("a"), OSError("b")
    first.__context__, second.__context__ = second, first

    assert classify_exception(first)[0] is Outcome.SERVER_ERROR
