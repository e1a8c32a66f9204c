"""An httpx transport on libcurl's multi interface, driven by the engine's event loop.

Why: libcurl connects, does TLS, sends and parses in C; per check it needs a
fraction of the CPU of a Python HTTP stack (docs/benchmarks.md, issue 27).
httpx stays the interface (requests and responses are httpx's), so the engine's
redirects, auth, body caps, decompression and Retry-After work unchanged.

How it is driven: one multi handle per transport, its sockets watched by the
running loop (CURLMOPT_SOCKETFUNCTION → `loop.add_reader`/`add_writer`) and
its timer scheduled on it (CURLMOPT_TIMERFUNCTION → `loop.call_later`); both
call `socket_action`. No thread, no `perform` loop. One easy handle per request.

What is pinned, and why:

- Egress: CURLOPT_OPENSOCKETFUNCTION judges every address libcurl is about to
  connect to (`core.egress`), so what was judged is what is connected to, on
  every hop; a refusal surfaces as the native transport's (`EgressDenied` as
  the ConnectError's cause).
- http and https only, no redirects followed by libcurl (the engine follows
  them hop by hop), no proxy from the environment, no signals, HTTP/1.1.
- No decoding: CURLOPT_ACCEPT_ENCODING unset and content decoding off, so the
  body arrives as sent and `checks.body` inflates it within its cap.
- The native transport's limit on a header line (8190 bytes), a bound on the
  whole head (`MAX_HEAD_BYTES`), and the native back-pressure: past `_HIGH_WATER` unread
  bytes the transfer pauses; closing the response early aborts it.
- Keep-alive off: a new connection per request and `Connection: close`.
- Nothing is logged (no CURLOPT_VERBOSE): headers carry credentials.

libcurl's error codes become the httpx exceptions `checks.classify` reads,
with the OS, DNS or TLS error as their cause (`checks.curl_errors`).
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import AsyncIterator

import certifi
import httpx
import pycurl

from checks.curl_errors import curl_exception
from checks.transport import MAX_HEADER_LINE, Wakeable, arriving
from core.egress import EgressDenied, EgressPolicy
from integrations.config import TLSSettings

__all__ = ["CurlTransport"]

_HIGH_WATER = 256 * 1024  # unread body bytes that pause the transfer
# The whole head: the native transport counts its 64 KiB per read, before the read
# that completes the head, so a 70 KiB head arriving at once passes there (the
# hostile suite's "70 KiB of headers in 1 KiB lines" is ok). libcurl hands the
# head line by line, so the bound is exact here, and set where both agree:
# such a head passes, a head without end is refused.
MAX_HEAD_BYTES = 128 * 1024
_SCHEMES = ("http", "https")
# Request headers libcurl would add on its own unless told otherwise (an empty
# value removes them): what goes out is what httpx built, nothing more.
_SUPPRESSED = (b"Accept", b"Content-Type", b"Expect", b"Transfer-Encoding")


class CurlTransport(httpx.AsyncBaseTransport):
    """An `httpx.AsyncBaseTransport` on one libcurl multi handle; belongs to one event loop."""

    def __init__(
        self,
        tls: TLSSettings,
        *,
        keepalive: bool = True,
        max_idle_connections: int = 512,
        egress: EgressPolicy | None = None,
    ) -> None:
        self._tls = tls
        self._keepalive = keepalive
        self._egress = EgressPolicy.from_environment() if egress is None else egress
        self._max_idle = max_idle_connections
        self._driver: _MultiDriver | None = None
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        url = request.url
        if url.scheme not in _SCHEMES:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        timeouts = request.extensions.get("timeout") or {}
        connect_s, read_s = timeouts.get("connect"), timeouts.get("read")
        body = await _request_body(request)
        driver = self._driver or self._start()
        transfer = _Transfer(driver, url.host, self._egress)
        self._configure(transfer.easy, request, body, connect_s)
        driver.add(transfer)
        try:
            # The native transport bounds connecting and then the answer's head; one
            # bound of both here, libcurl enforcing the connect part by itself.
            head_s = None if read_s is None else read_s + (connect_s or 0.0)
            async with asyncio.timeout(head_s):
                status, headers, version = await transfer.head
        except TimeoutError:
            driver.abort(transfer)
            raise httpx.ReadTimeout("no answer within the read timeout") from None
        except BaseException:
            driver.abort(transfer)
            raise
        return httpx.Response(
            status,
            headers=headers,
            stream=_Body(transfer, read_s),
            extensions={"http_version": version},
        )

    async def aclose(self) -> None:
        self._closed = True
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    def _start(self) -> _MultiDriver:
        self._driver = _MultiDriver(asyncio.get_running_loop(), self._max_idle)
        return self._driver

    def _configure(
        self, easy: pycurl.Curl, request: httpx.Request, body: bytes, connect_s: float | None
    ) -> None:
        setopt = easy.setopt
        setopt(pycurl.URL, str(request.url))
        setopt(pycurl.PATH_AS_IS, 1)  # the path httpx encoded, not one libcurl normalised
        setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        setopt(pycurl.REDIR_PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        setopt(pycurl.FOLLOWLOCATION, 0)
        setopt(pycurl.PROXY, "")
        setopt(pycurl.NOSIGNAL, 1)
        setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        setopt(pycurl.HTTP_CONTENT_DECODING, 0)
        if connect_s is not None:
            setopt(pycurl.CONNECTTIMEOUT_MS, max(1, int(connect_s * 1000)))
        if request.url.scheme == "https":
            verify = 1 if self._tls.verify else 0
            setopt(pycurl.SSL_VERIFYPEER, verify)
            setopt(pycurl.SSL_VERIFYHOST, 2 if verify else 0)
            if verify:
                setopt(pycurl.CAINFO, self._tls.ca_file or certifi.where())
        if not self._keepalive:
            setopt(pycurl.FORBID_REUSE, 1)
            setopt(pycurl.FRESH_CONNECT, 1)
        setopt(pycurl.HTTPHEADER, _header_lines(request, close=not self._keepalive))
        method = request.method
        if method == "HEAD":
            setopt(pycurl.NOBODY, 1)
        elif body or method in ("POST", "PUT", "PATCH"):
            setopt(pycurl.POSTFIELDS, body)
            setopt(pycurl.POSTFIELDSIZE, len(body))
            if method != "POST":
                setopt(pycurl.CUSTOMREQUEST, method)
        elif method != "GET":
            setopt(pycurl.CUSTOMREQUEST, method)


class _MultiDriver:
    """A libcurl multi handle whose sockets and timer are the event loop's."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_idle: int) -> None:
        self._loop = loop
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._multi.setopt(pycurl.M_MAXCONNECTS, max_idle)
        self._watched: dict[int, int] = {}  # fd → pycurl.POLL_* being watched
        self._timer: asyncio.TimerHandle | None = None
        self._transfers: dict[pycurl.Curl, _Transfer] = {}

    def add(self, transfer: _Transfer) -> None:
        self._transfers[transfer.easy] = transfer
        self._multi.add_handle(transfer.easy)

    def abort(self, transfer: _Transfer) -> None:
        """Stop a transfer nobody reads any more; its connection is not kept."""
        if self._transfers.pop(transfer.easy, None) is not None:
            self._multi.remove_handle(transfer.easy)
        transfer.release()

    def close(self) -> None:
        for transfer in list(self._transfers.values()):
            self.abort(transfer)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._multi.close()  # closes the cached connections (their sockets reported first)
        for fd in list(self._watched):
            self._unwatch(fd)

    # --- libcurl's callbacks: only watch and schedule, never call back into libcurl ----

    def _on_socket(self, what: int, fd: int, multi: object, socketp: object) -> None:
        if what == pycurl.POLL_REMOVE:
            self._unwatch(fd)
            return
        was = self._watched.get(fd, pycurl.POLL_NONE)
        if was == what:
            return
        wants_in = what in (pycurl.POLL_IN, pycurl.POLL_INOUT)
        wants_out = what in (pycurl.POLL_OUT, pycurl.POLL_INOUT)
        had_in = was in (pycurl.POLL_IN, pycurl.POLL_INOUT)
        had_out = was in (pycurl.POLL_OUT, pycurl.POLL_INOUT)
        if wants_in and not had_in:
            self._loop.add_reader(fd, self._act, fd, pycurl.CSELECT_IN)
        elif had_in and not wants_in:
            self._loop.remove_reader(fd)
        if wants_out and not had_out:
            self._loop.add_writer(fd, self._act, fd, pycurl.CSELECT_OUT)
        elif had_out and not wants_out:
            self._loop.remove_writer(fd)
        self._watched[fd] = what

    def _on_timer(self, timeout_ms: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if timeout_ms >= 0:
            self._timer = self._loop.call_later(timeout_ms / 1000, self._on_timeout)

    # --- the loop's callbacks ----------------------------------------------------------

    def _unwatch(self, fd: int) -> None:
        was = self._watched.pop(fd, pycurl.POLL_NONE)
        if was in (pycurl.POLL_IN, pycurl.POLL_INOUT):
            self._loop.remove_reader(fd)
        if was in (pycurl.POLL_OUT, pycurl.POLL_INOUT):
            self._loop.remove_writer(fd)

    def _act(self, fd: int, event: int) -> None:
        self._multi.socket_action(fd, event)
        self._collect()

    def _on_timeout(self) -> None:
        self._timer = None
        self._multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)
        self._collect()

    def _collect(self) -> None:
        """Hand every finished transfer its ending."""
        while True:
            queued, succeeded, failed = self._multi.info_read()
            for easy in succeeded:
                self._end(easy, None)
            for easy, code, message in failed:
                self._end(easy, (code, message))
            if not queued:
                return

    def _end(self, easy: pycurl.Curl, failure: tuple[int, str] | None) -> None:
        transfer = self._transfers.pop(easy, None)
        self._multi.remove_handle(easy)
        if transfer is None:
            easy.close()
            return
        if failure is None:
            transfer.finish()
        else:
            transfer.fail(transfer.exception_for(*failure))
        transfer.release()


class _Transfer(Wakeable):
    """One request on one easy handle: its answer's head, its body as it arrives."""

    def __init__(self, driver: _MultiDriver, host: str, egress: EgressPolicy) -> None:
        self.driver = driver
        self.host = host
        self.egress = egress
        self.head: asyncio.Future[tuple[int, list[tuple[bytes, bytes]], bytes]] = (
            asyncio.get_running_loop().create_future()
        )
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.complete = False
        self.error: BaseException | None = None
        self.paused = False
        self.abandoned = False
        self._headers: list[tuple[bytes, bytes]] = []
        self._status = 0
        self._version = b"HTTP/1.1"
        self._head_bytes = 0
        self._head_error: httpx.RemoteProtocolError | None = None
        self._denial: EgressDenied | None = None
        self._sockets: list[socket.socket] = []
        easy = self.easy = pycurl.Curl()
        easy.setopt(pycurl.HEADERFUNCTION, self._on_header)
        easy.setopt(pycurl.WRITEFUNCTION, self._on_body)
        easy.setopt(pycurl.OPENSOCKETFUNCTION, self._open_socket)

    # --- libcurl's callbacks -------------------------------------------------------

    def _open_socket(
        self, purpose: int, address: tuple[int, int, int, tuple[object, ...]]
    ) -> object:
        family, socktype, protocol, sockaddr = address
        try:
            self.egress.check(self.host, str(sockaddr[0]))
        except EgressDenied as denial:
            self._denial = self._denial or denial
            return pycurl.SOCKET_BAD  # libcurl tries the next address, if any
        opened = socket.socket(family, socktype, protocol)
        # pycurl hands libcurl a duplicate of the descriptor; ours is closed at the end.
        self._sockets.append(opened)
        return opened

    def _on_header(self, line: bytes) -> int | None:
        self._head_bytes += len(line)
        if self._head_bytes > MAX_HEAD_BYTES:
            return self._refuse_head(f"response head over {MAX_HEAD_BYTES} bytes")
        if line.startswith(b"HTTP/"):  # a status line: a new answer (after a 1xx, say)
            version, _, rest = line.partition(b" ")
            self._version = version
            self._status = int(rest[:3]) if rest[:3].isdigit() else 0
            self._headers = []
            return None
        if line in (b"\r\n", b"\n"):
            if 100 <= self._status < 200 and self._status != 101:
                return None  # "100 Continue" and friends: the real answer follows
            if not self.head.done():
                self.head.set_result((self._status, self._headers, self._version))
            return None
        name, _, value = line.rstrip(b"\r\n").partition(b":")
        value = value.strip()
        if len(name) + len(value) > MAX_HEADER_LINE:
            return self._refuse_head(f"header line over {MAX_HEADER_LINE} bytes")
        if name[:1] in (b" ", b"\t") and self._headers:  # a folded continuation line
            last_name, last_value = self._headers[-1]
            self._headers[-1] = (last_name, last_value + b" " + name.strip() + value)
        else:
            self._headers.append((name, value))
        return None

    def _on_body(self, data: bytes) -> int | None:
        if self.abandoned:
            return 0  # the reader is gone: abort
        if self.buffered > _HIGH_WATER:
            self.paused = True
            return pycurl.WRITEFUNC_PAUSE  # libcurl hands these bytes again on resume
        self.chunks.append(data)
        self.buffered += len(data)
        self._wake()
        return None

    def _refuse_head(self, reason: str) -> int:
        self._head_error = httpx.RemoteProtocolError(reason)
        return 0  # fewer bytes taken than given: libcurl stops with CURLE_WRITE_ERROR

    # --- endings ---------------------------------------------------------------------

    def release(self) -> None:
        """The easy handle and our copies of its sockets; libcurl keeps its own."""
        self.easy.close()
        for opened in self._sockets:
            opened.close()
        self._sockets.clear()

    def finish(self) -> None:
        self.complete = True
        if not self.head.done():
            # libcurl ended without a blank line after the head (HTTP/0.9 is refused
            # before this): nothing usable was answered.
            self.head.set_exception(
                httpx.RemoteProtocolError("Server disconnected without sending a response.")
            )
        self._wake()

    def fail(self, error: BaseException) -> None:
        self.complete = True
        self.error = error
        if not self.head.done():
            self.head.set_exception(error)
            self.head.exception()  # the sender may already have been cancelled
        self._wake()

    def exception_for(self, code: int, message: str) -> Exception:
        if code == pycurl.E_WRITE_ERROR and self._head_error is not None:
            return self._head_error
        if code == pycurl.E_COULDNT_CONNECT and self._denial and not self._sockets:
            error = httpx.ConnectError(str(self._denial))
            error.__cause__ = self._denial
            return error
        easy = self.easy
        return curl_exception(
            code,
            message,
            os_errno=easy.getinfo(pycurl.OS_ERRNO),
            connected=easy.getinfo(pycurl.CONNECT_TIME) > 0,
            answered=self.head.done(),
        )

    # --- used by the body ------------------------------------------------------------

    def take(self) -> bytes:
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        if self.paused and self.buffered < _HIGH_WATER // 2 and not self.complete:
            self.paused = False
            self.easy.pause(pycurl.PAUSE_CONT)
        return chunk


class _Body(httpx.AsyncByteStream):
    """A response body as libcurl delivers it; closing it early aborts the transfer."""

    def __init__(self, transfer: _Transfer, timeout_s: float | None) -> None:
        self._transfer = transfer
        self._timeout_s = timeout_s

    def __aiter__(self) -> AsyncIterator[bytes]:
        return arriving(self._transfer, self._timeout_s)

    async def aclose(self) -> None:
        transfer = self._transfer
        if not transfer.complete and not transfer.abandoned:
            transfer.abandoned = True
            transfer.driver.abort(transfer)


def _header_lines(request: httpx.Request, *, close: bool) -> list[bytes]:
    lines: list[bytes] = []
    present: set[bytes] = set()
    for name, value in request.headers.raw:
        if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name or b":" in name:
            raise httpx.LocalProtocolError(f"illegal header {name!r}")
        lowered = name.lower()
        if lowered in (b"transfer-encoding", b"content-length"):
            continue  # the body goes whole; libcurl writes its length
        present.add(lowered)
        lines.append(name + b": " + value)
    for name in _SUPPRESSED:
        if name.lower() not in present:
            lines.append(name + b":")
    if close and b"connection" not in present:
        lines.append(b"Connection: close")
    return lines


async def _request_body(request: httpx.Request) -> bytes:
    try:
        return request.content
    except httpx.RequestNotRead:  # a streamed body: intmon's are small, so read it whole
        return await request.aread()
