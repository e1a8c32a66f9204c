"""intmon's own httpx transport: HTTP/1.1 on asyncio protocols, parsed by httptools.

Why it exists: a health check is one small request and one small answer, and
with a new connection per check the client library's own bookkeeping is most
of its cost. One process on uvloop, against a loopback nginx, a new connection
per request (`bench/engine.py`): a bare asyncio protocol with httptools needs
about 55 µs of CPU per request, aiohttp 200 µs, httpx over aiohttp 375 µs.
This transport keeps httpx as the interface (requests and responses are
httpx's; `httpx.AsyncClient` drives it) and puts the bare protocol under it.

What it does:

- HTTP/1.1 over TCP, `http` and `https` (the given SSL context, SNI set to
  the URL's host); the response parsed by httptools (llhttp, in C).
- The egress policy (`core.egress`): the host is resolved here, each address
  judged, and the connection made to a permitted address itself, so what was
  judged is what is connected to (`EgressDenied`, as the ConnectError's cause).
- Keep-alive: idle connections per origin, reused within `keepalive_expiry_s`
  and only after their previous answer was read to its end. Without
  keep-alive every request goes out on a new connection with
  `Connection: close`, as blackbox_exporter probes.
- The body is streamed: `httpx.Response.aiter_raw` yields chunks as they
  arrive, and reading from the socket pauses while more than `_HIGH_WATER`
  bytes wait unread, so a partner streaming gigabytes costs the reader's cap.
- Errors are httpx's exceptions with the OS or TLS error as their cause, which
  `checks.classify` reads: refused, DNS, TLS, reset, "disconnected".

What it leaves to others, each with one owner: retries (tenacity), redirects
and cookies (the engine and its httpx client), decompression
(`checks.body`), connection limits (the engine's slots, per host and in all).
No proxies and no HTTP/2: intmon's clients use neither.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Protocol, cast

import httptools
import httpx

from core.egress import EgressPolicy, resolve_checked_async

__all__ = ["NativeTransport"]

_HIGH_WATER = 256 * 1024  # unread body bytes that pause reading from the socket
# An answer's head may not grow without bound (httptools buffers a header until
# it ends): aiohttp's limits, one line 8 KiB, the whole head 64 KiB.
MAX_HEADER_LINE = 8190
MAX_HEAD_BYTES = 64 * 1024
_NO_BODY_STATUSES = frozenset({204, 304})
_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


class NativeTransport(httpx.AsyncBaseTransport):
    """An `httpx.AsyncBaseTransport` over asyncio protocols; belongs to one event loop."""

    def __init__(
        self,
        ssl_context: ssl.SSLContext,
        *,
        keepalive: bool = True,
        keepalive_expiry_s: float = 4.0,
        max_idle_per_origin: int = 32,
        egress: EgressPolicy | None = None,
    ) -> None:
        self._ssl = ssl_context
        self._egress = EgressPolicy.from_environment() if egress is None else egress
        self._keepalive = keepalive
        # Below the 5 s idle timeout common in servers, so a reused connection is
        # rarely one the partner is closing at that moment.
        self._expiry_s = keepalive_expiry_s
        self._max_idle = max_idle_per_origin
        self._idle: dict[Origin, list[_Connection]] = {}
        self._open_connections: set[_Connection] = set()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        url = request.url
        scheme = url.scheme
        if scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        origin: Origin = (scheme, url.host, url.port or _DEFAULT_PORTS[scheme])
        timeouts = request.extensions.get("timeout") or {}
        payload = _serialize(request, await _request_body(request), close=not self._keepalive)
        connection = self._take_idle(origin) or await self._connect(origin, timeouts.get("connect"))
        head_only = request.method == "HEAD"
        try:
            status, headers, version = await connection.send(
                payload, head_only, timeouts.get("read")
            )
        except BaseException:
            connection.close()
            raise
        return httpx.Response(
            status,
            headers=headers,
            stream=_Body(connection, self, timeouts.get("read")),
            extensions={"http_version": version},
        )

    async def aclose(self) -> None:
        """Close every connection; TLS ones get up to a second to say goodbye."""
        self._closed = True
        self._idle.clear()
        connections = list(self._open_connections)
        for connection in connections:
            connection.close()
        waiting = [c.gone for c in connections if not c.gone.done()]
        if waiting:
            await asyncio.wait(waiting, timeout=1.0)
            for connection in connections:
                if not connection.gone.done():
                    connection.abort()

    # --- the pool --------------------------------------------------------------

    async def _connect(self, origin: Origin, timeout_s: float | None) -> _Connection:
        scheme, host, port = origin
        tls = self._ssl if scheme == "https" else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout_s):
                # Resolved here, once, so the address judged is the address connected to.
                addresses = await resolve_checked_async(self._egress, host, port)
                return await self._open(loop, origin, addresses, tls)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:  # refused, DNS (gaierror), TLS (SSLError), unreachable, egress
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc

    async def _open(
        self,
        loop: asyncio.AbstractEventLoop,
        origin: Origin,
        addresses: list[tuple[int, str]],
        tls: ssl.SSLContext | None,
    ) -> _Connection:
        """Connect to the first address that answers; the host name stays the TLS server name."""
        host, port = origin[1], origin[2]
        first_error: OSError | None = None
        for family, address in addresses:
            try:
                _, connection = await loop.create_connection(
                    lambda: _Connection(origin, self._open_connections),
                    address,
                    port,
                    family=family,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                )
                return connection
            except OSError as exc:
                first_error = first_error or exc
        assert first_error is not None  # the policy returns at least one address
        raise first_error

    def _take_idle(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.usable() and now - connection.idle_since < self._expiry_s:
                return connection
            connection.close()
        return None

    def release(self, connection: _Connection) -> None:
        """A response's body is closed: keep its connection for the next request, or close it."""
        if not (self._keepalive and not self._closed and connection.reusable()):
            connection.close()
            return
        idle = self._idle.setdefault(connection.origin, [])
        idle[:] = [c for c in idle if c.usable()]
        if len(idle) >= self._max_idle:
            idle.pop(0).close()
        connection.idle_since = time.monotonic()
        connection.rest()
        idle.append(connection)


class Wakeable:
    """A reader's wait for more of a body, and the wake its producer gives (a
    connection's data here, libcurl's callbacks in `checks.curl_transport`)."""

    _waiter: asyncio.Future[None] | None = None

    async def wait(self, timeout_s: float | None) -> None:
        """Until more body arrives, the body ends or the connection fails."""
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout_s):
                await self._waiter
        except TimeoutError:
            raise httpx.ReadTimeout("the body stalled past the read timeout") from None
        finally:
            self._waiter = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class _Connection(Wakeable, asyncio.Protocol):
    """One TCP (or TLS) connection and the exchange running on it, if any."""

    def __init__(self, origin: Origin, registry: set[_Connection]) -> None:
        self.origin = origin
        self.idle_since = 0.0
        self._registry = registry
        self.gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._transport: asyncio.Transport | None = None
        self._lost = False
        self._busy = False
        self._head: asyncio.Future[tuple[int, list[tuple[bytes, bytes]], bytes]] | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_only = False
        self._sized = False  # Content-Length or chunked: the body has a known end
        self._interim = False  # a 1xx answer before the real one
        self._head_done = False
        self._head_bytes = 0
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.complete = False
        self.error: BaseException | None = None
        self._paused = False
        self._keep = False

    # --- used by the transport and the body ---------------------------------

    async def send(
        self, payload: bytes, head_only: bool, timeout_s: float | None
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        assert self._transport is not None
        self._busy = True
        self._head_only = head_only
        self._parser = httptools.HttpResponseParser(self)
        self._head = asyncio.get_running_loop().create_future()
        self._transport.write(payload)
        try:
            async with asyncio.timeout(timeout_s):
                return await self._head
        except TimeoutError:
            raise httpx.ReadTimeout("no answer within the read timeout") from None

    def take(self) -> bytes:
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        if self._paused and self.buffered < _HIGH_WATER // 2 and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return chunk

    def usable(self) -> bool:
        return not self._lost and self._transport is not None and not self._transport.is_closing()

    def reusable(self) -> bool:
        return self.complete and self._keep and not self.chunks and self.error is None

    def rest(self) -> None:
        """Between exchanges: forget the last one's state."""
        self._busy = False
        self._head = None
        self._parser = None
        self._headers = []
        self._head_done = False
        self._head_bytes = 0
        self.complete = False

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # --- asyncio.Protocol -----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, only alike.
        self._transport = cast(asyncio.Transport, transport)
        self._registry.add(self)

    def data_received(self, data: bytes) -> None:
        if not self._busy or self._parser is None or self.complete:
            # Bytes nobody asked for (an idle connection, or past the answer's end):
            # the connection cannot be trusted with another request.
            self._keep = False
            self.close()
            return
        try:
            self._parser.feed_data(data)
            if not self._head_done:
                self._head_bytes += len(data)
                if self._head_bytes > MAX_HEAD_BYTES:
                    raise _HeadTooLarge(f"response head over {MAX_HEAD_BYTES} bytes")
        except _HeadTooLarge as exc:
            self._fail(httpx.RemoteProtocolError(str(exc)))
        except httptools.HttpParserCallbackError as exc:
            # httptools wraps what a callback raised; the callback's own error is the context.
            self._fail(httpx.RemoteProtocolError(str(exc.__context__ or exc)))
        except httptools.HttpParserUpgrade:
            self._finish(keep=False)  # a 101 nobody asked for: the answer ends here
        except httptools.HttpParserError as exc:
            if self.complete:  # garbage after a whole answer: the answer stands
                self._keep = False
                self.close()
            else:
                self._fail(httpx.RemoteProtocolError(f"malformed HTTP answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._registry.discard(self)
        if not self.gone.done():
            self.gone.set_result(None)
        if not self._busy or self.complete:
            return
        if self._head is not None and not self._head.done():
            if exc is None:
                error: Exception = httpx.RemoteProtocolError(
                    "Server disconnected without sending a response."
                )
            else:
                error = httpx.ReadError(str(exc) or type(exc).__name__)
                error.__cause__ = exc
            self._fail(error)
        elif not self._sized and exc is None:
            self._finish(keep=False)  # a body without a length ends when the connection does
        else:
            error = httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body"
            )
            error.__cause__ = exc
            self._fail(error)

    def pause_writing(self) -> None:  # requests are small; nothing to hold back
        return None

    def resume_writing(self) -> None:
        return None

    # --- httptools callbacks --------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            # A second answer in the same read, to no request: what follows it on this
            # connection could not be told apart from the next request's answer.
            self._keep = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) + len(value) > MAX_HEADER_LINE:
            raise _HeadTooLarge(f"header line over {MAX_HEADER_LINE} bytes")
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self._parser is not None and self._head is not None
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self._interim = True  # "100 Continue" and friends: the real answer follows
            self._headers = []
            return
        headers, self._headers = self._headers, []
        self._head_done = True
        self._sized = status in _NO_BODY_STATUSES or any(
            _gives_length(name.lower(), value) for name, value in headers
        )
        version = f"HTTP/{self._parser.get_http_version()}".encode()
        if not self._head.done():
            self._head.set_result((status, headers, version))
        if self._head_only:
            self._finish(keep=False)  # llhttp would wait for the body a HEAD answer never has

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _HIGH_WATER and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        if self.complete:
            return
        assert self._parser is not None
        self._finish(keep=self._parser.should_keep_alive())

    # --- endings --------------------------------------------------------------

    def _finish(self, *, keep: bool) -> None:
        self.complete = True
        self._keep = keep
        self._wake()

    def _fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error
        if self._head is not None and not self._head.done():
            self._head.set_exception(error)
            self._head.exception()  # the sender may already have been cancelled
        self._keep = False
        self.close()
        self._wake()


class _HeadTooLarge(Exception):
    pass


class Arrivals(Protocol):
    """What a body is read from as it arrives: a connection here, a libcurl transfer
    in `checks.curl_transport`."""

    chunks: deque[bytes]
    error: BaseException | None
    complete: bool

    def take(self) -> bytes: ...

    async def wait(self, timeout_s: float | None) -> None: ...


async def arriving(source: Arrivals, timeout_s: float | None) -> AsyncIterator[bytes]:
    """The chunks of a body as they arrive, then its end or its error; each wait for
    more bounded by `timeout_s`."""
    while True:
        if source.chunks:
            yield source.take()
        elif source.error is not None:
            raise source.error
        elif source.complete:
            return
        else:
            await source.wait(timeout_s)


class _Body(httpx.AsyncByteStream):
    """A response body as it arrives; closing it hands the connection back."""

    def __init__(self, connection: _Connection, owner: NativeTransport, timeout_s: float | None):
        self._connection = connection
        self._owner = owner
        self._timeout_s = timeout_s
        self._closed = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return arriving(self._connection, self._timeout_s)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._owner.release(self._connection)


def _gives_length(name: bytes, value: bytes) -> bool:
    return name == b"content-length" or (
        name == b"transfer-encoding" and b"chunked" in value.lower()
    )


async def _request_body(request: httpx.Request) -> bytes:
    try:
        return request.content
    except httpx.RequestNotRead:  # a streamed body: intmon's are small, so read it whole
        return await request.aread()


def _serialize(request: httpx.Request, body: bytes, *, close: bool) -> bytes:
    """The request's head and body as bytes on the wire."""
    parts = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    chunked = False
    has_connection = False
    for name, value in request.headers.raw:
        if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name or b":" in name:
            raise httpx.LocalProtocolError(f"illegal header {name!r}")
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif lowered == b"connection":
            has_connection = True
        parts += (name, b": ", value, b"\r\n")
    if close and not has_connection:
        parts.append(b"Connection: close\r\n")
    parts.append(b"\r\n")
    if chunked and body:  # the whole body as one chunk, then the last
        parts += (f"{len(body):x}\r\n".encode(), body, b"\r\n0\r\n\r\n")
    elif chunked:
        parts.append(b"0\r\n\r\n")
    else:
        parts.append(body)
    return b"".join(parts)
