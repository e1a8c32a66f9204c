"""libcurl's error codes as the httpx exceptions `checks.classify` reads.

The curl transport (`checks.curl_transport`) ends a failed transfer with one of
these, its cause the OS, DNS or TLS error behind it, so an outcome does not
depend on the transport: refused, DNS, timeout, TLS, reset and "disconnected"
read as they do on the native transport (tests/checks/test_curl_transport.py,
one row per code).
"""

from __future__ import annotations

import errno
import os
import socket
import ssl

import httpx
import pycurl

__all__ = ["curl_exception"]

# Codes pycurl has no name for.
_WEIRD_SERVER_REPLY = 8
_TOO_LARGE = 100
_TLS_CODES = frozenset(
    {
        pycurl.E_SSL_CONNECT_ERROR,
        pycurl.E_SSL_CERTPROBLEM,
        pycurl.E_SSL_CIPHER,
        pycurl.E_SSL_CACERT_BADFILE,
        pycurl.E_SSL_ENGINE_NOTFOUND,
        pycurl.E_SSL_ENGINE_SETFAILED,
        pycurl.E_SSL_ENGINE_INITFAILED,
        pycurl.E_SSL_CRL_BADFILE,
        pycurl.E_SSL_ISSUER_ERROR,
        pycurl.E_SSL_PINNEDPUBKEYNOTMATCH,
        pycurl.E_SSL_INVALIDCERTSTATUS,
        pycurl.E_SSL_SHUTDOWN_FAILED,
    }
)
_BROKEN_ANSWER = frozenset(
    {
        _WEIRD_SERVER_REPLY,
        _TOO_LARGE,
        pycurl.E_UNSUPPORTED_PROTOCOL,  # also HTTP/0.9 and unknown versions
        pycurl.E_BAD_CONTENT_ENCODING,
        pycurl.E_RANGE_ERROR,
        pycurl.E_FILESIZE_EXCEEDED,
        pycurl.E_HTTP2,
    }
)


def curl_exception(
    code: int, message: str, *, os_errno: int = 0, connected: bool = False, answered: bool = False
) -> Exception:
    """The httpx exception for a libcurl error, its cause what `checks.classify` reads.

    `os_errno` is CURLINFO_OS_ERRNO, `connected` whether a connection was made,
    `answered` whether the answer's head had arrived.
    """
    text = f"{message} (curl error {code})"
    cause: BaseException | None = None
    error: Exception
    if code == pycurl.E_COULDNT_RESOLVE_HOST:
        error, cause = httpx.ConnectError(text), socket.gaierror(socket.EAI_NONAME, message)
    elif code == pycurl.E_COULDNT_CONNECT:
        error, cause = httpx.ConnectError(text), _os_error(os_errno or errno.ECONNREFUSED)
    elif code == pycurl.E_OPERATION_TIMEDOUT:
        timeout = httpx.ReadTimeout if connected else httpx.ConnectTimeout
        error = timeout(text)
    elif code == pycurl.E_PEER_FAILED_VERIFICATION:
        reason = message.removeprefix("SSL certificate problem: ")
        verify = ssl.SSLCertVerificationError(1, reason)
        verify.verify_message = reason
        error, cause = httpx.ConnectError(text), verify
    elif code in _TLS_CODES:
        tls = ssl.SSLError(1, message)
        tls.reason = message
        error, cause = httpx.ConnectError(text), tls
    elif code == pycurl.E_GOT_NOTHING:
        error = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    elif code in (pycurl.E_RECV_ERROR, pycurl.E_SEND_ERROR):
        error = httpx.ReadError(text) if code == pycurl.E_RECV_ERROR else httpx.WriteError(text)
        if os_errno:
            cause = _os_error(os_errno)
        elif not answered:  # closed (e.g. a TLS close) before any answer
            error = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    elif code == pycurl.E_PARTIAL_FILE:
        error = httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body"
        )
    elif code in _BROKEN_ANSWER:
        error = httpx.RemoteProtocolError(f"malformed HTTP answer: {message}")
    elif code == pycurl.E_URL_MALFORMAT:  # the scheme is checked before libcurl sees it
        error = httpx.UnsupportedProtocol(text)
    else:
        error = httpx.TransportError(text)
    error.__cause__ = cause
    return error


def _os_error(number: int) -> OSError:
    """An OSError of the errno's own subclass (ConnectionRefusedError for ECONNREFUSED…)."""
    return OSError(number, os.strerror(number))
