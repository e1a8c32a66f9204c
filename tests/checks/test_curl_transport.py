"""The curl transport: libcurl's error codes mapped onto the outcomes, one row per case,
and what the engine suites cannot see from outside (what goes on the wire).

The engine suites (`transport` fixture) and the hostile suite run on "curl" too;
these rows pin the mapping itself, including codes a real server cannot cheaply
produce (a send error, a bad content encoding).
"""

from __future__ import annotations

import errno
import json
from dataclasses import dataclass
from typing import Any

import httpx
import pycurl
import pytest

from checks.classify import diagnose_exception
from checks.curl_errors import curl_exception
from checks.curl_transport import CurlTransport
from core.egress import EgressPolicy
from core.vocabulary.outcomes import Outcome
from integrations.config import TLSSettings

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class CurlError:
    name: str
    code: int
    message: str
    outcome: Outcome
    detail: str
    transient: bool = False
    os_errno: int = 0
    connected: bool = False
    answered: bool = False


ERRORS = [
    CurlError(
        "name does not resolve",
        pycurl.E_COULDNT_RESOLVE_HOST,
        "Could not resolve host: partner.invalid",
        Outcome.DNS_FAILURE,
        "DNS lookup failed: Could not resolve host: partner.invalid",
    ),
    CurlError(
        "connection refused",
        pycurl.E_COULDNT_CONNECT,
        "Failed to connect to 127.0.0.1 port 1",
        Outcome.CONNECTION_REFUSED,
        "connection refused",
        transient=True,
        os_errno=errno.ECONNREFUSED,
    ),
    CurlError(
        "host unreachable",
        pycurl.E_COULDNT_CONNECT,
        "Failed to connect to 192.0.2.1 port 80",
        Outcome.CONNECTION_REFUSED,
        "host unreachable",
        os_errno=errno.EHOSTUNREACH,
    ),
    CurlError(
        "connect timed out",
        pycurl.E_OPERATION_TIMEDOUT,
        "Connection timed out after 1000 milliseconds",
        Outcome.TIMEOUT,
        "timed out connecting",
    ),
    CurlError(
        "answer timed out",
        pycurl.E_OPERATION_TIMEDOUT,
        "Operation timed out after 1000 milliseconds with 0 bytes received",
        Outcome.TIMEOUT,
        "timed out waiting for the answer",
        connected=True,
    ),
    CurlError(
        "certificate not trusted",
        pycurl.E_PEER_FAILED_VERIFICATION,
        "SSL certificate problem: self-signed certificate in certificate chain",
        Outcome.TLS_ERROR,
        "TLS certificate verify failed: self-signed certificate in certificate chain",
    ),
    CurlError(
        "handshake failed",
        pycurl.E_SSL_CONNECT_ERROR,
        "TLS connect error: unexpected eof while reading",
        Outcome.TLS_ERROR,
        "TLS handshake failed: TLS connect error",
    ),
    CurlError(
        "CA file unusable",
        pycurl.E_SSL_CACERT_BADFILE,
        "error setting certificate file: /nowhere.pem",
        Outcome.TLS_ERROR,
        "TLS handshake failed",
    ),
    CurlError(
        "nothing answered",
        pycurl.E_GOT_NOTHING,
        "Empty reply from server",
        Outcome.SERVER_ERROR,
        "server closed the connection without answering",
        transient=True,
    ),
    CurlError(
        "reset while reading",
        pycurl.E_RECV_ERROR,
        "Recv failure: Connection reset by peer",
        Outcome.SERVER_ERROR,
        "connection reset by the server",
        transient=True,
        os_errno=errno.ECONNRESET,
        connected=True,
    ),
    CurlError(
        "closed before an answer, no OS error",
        pycurl.E_RECV_ERROR,
        "Recv failure",
        Outcome.SERVER_ERROR,
        "server closed the connection without answering",
        transient=True,
        connected=True,
    ),
    CurlError(
        "broken pipe while sending",
        pycurl.E_SEND_ERROR,
        "Send failure: Broken pipe",
        Outcome.SERVER_ERROR,
        "connection reset by the server",
        transient=True,
        os_errno=errno.EPIPE,
        connected=True,
    ),
    CurlError(
        "body cut short",
        pycurl.E_PARTIAL_FILE,
        "end of response with 10 bytes missing",
        Outcome.SERVER_ERROR,
        "broken HTTP response: peer closed connection without sending complete message body",
        connected=True,
        answered=True,
    ),
    CurlError(
        "not HTTP",
        8,  # CURLE_WEIRD_SERVER_REPLY
        "Unsupported HTTP version in response",
        Outcome.SERVER_ERROR,
        "broken HTTP response: malformed HTTP answer",
        connected=True,
    ),
    CurlError(
        "HTTP/0.9",
        pycurl.E_UNSUPPORTED_PROTOCOL,
        "Received HTTP/0.9 when not allowed",
        Outcome.SERVER_ERROR,
        "broken HTTP response: malformed HTTP answer",
        connected=True,
    ),
    CurlError(
        "head too large for libcurl",
        100,  # CURLE_TOO_LARGE
        "Too large response headers",
        Outcome.SERVER_ERROR,
        "broken HTTP response",
        connected=True,
    ),
    CurlError(
        "malformed URL",
        pycurl.E_URL_MALFORMAT,
        "URL rejected: Malformed input to a URL function",
        Outcome.CONTRACT_VIOLATION,
        "unusable URL",
    ),
    CurlError(
        "anything else",
        pycurl.E_OUT_OF_MEMORY,
        "Out of memory",
        Outcome.SERVER_ERROR,
        "connection failed: TransportError: Out of memory (curl error 27)",
    ),
]


@pytest.mark.parametrize("row", ERRORS, ids=[row.name for row in ERRORS])
def test_curl_error_outcome(row: CurlError) -> None:
    error = curl_exception(
        row.code,
        row.message,
        os_errno=row.os_errno,
        connected=row.connected,
        answered=row.answered,
    )

    diagnosis = diagnose_exception(error)

    assert isinstance(error, httpx.HTTPError | httpx.InvalidURL)
    assert diagnosis.outcome is row.outcome
    assert row.detail in diagnosis.detail
    assert diagnosis.transient is row.transient


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, bool]]:
    return ("asyncio", {"use_uvloop": True})


LOOPBACK = EgressPolicy.parse("127.0.0.0/8")


async def echo(partners: Any, request: httpx.Request, *, keepalive: bool = True) -> dict[str, Any]:
    transport = CurlTransport(TLSSettings(), keepalive=keepalive, egress=LOOPBACK)
    try:
        response = await transport.handle_async_request(request)
        try:
            body = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()
    finally:
        await transport.aclose()
    assert response.status_code == 200
    answer: dict[str, Any] = json.loads(body)
    return answer


async def test_what_goes_on_the_wire_is_what_httpx_built(partners: Any) -> None:
    request = httpx.Request(
        "PATCH",
        partners.http + "/echo?a=1",
        headers={"X-Check": "yes"},
        content=b"raw bytes",
    )

    landed = await echo(partners, request)

    assert landed["method"] == "PATCH"
    assert landed["body"] == "raw bytes"
    assert landed["query"] == {"a": "1"}
    headers = landed["headers"]
    assert headers["x-check"] == "yes"
    assert headers["content-length"] == "9"
    # libcurl adds none of its own defaults, and never asks for a compressed answer.
    for added in ("accept", "content-type", "expect", "accept-encoding", "transfer-encoding"):
        assert added not in headers, added


async def test_without_keepalive_the_request_says_close(partners: Any) -> None:
    landed = await echo(partners, httpx.Request("GET", partners.http + "/echo"), keepalive=False)

    assert landed["headers"]["connection"] == "close"


async def test_a_head_request_gets_the_head_only(partners: Any) -> None:
    transport = CurlTransport(TLSSettings(), egress=LOOPBACK)
    try:
        response = await transport.handle_async_request(
            httpx.Request("HEAD", partners.http + "/respond")
        )
        body = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
    finally:
        await transport.aclose()

    assert response.status_code == 200
    assert body == b""
