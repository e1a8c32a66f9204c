"""The native transport's HTTP/1.1 contract, against scripted servers on 127.0.0.1.

The outcome suite (test_engine_outcomes.py) proves classification does not
drift with the transport; these cases pin what lies below it: what goes on the
wire, when a connection is reused and when it must not be, how an answer ends,
and which httpx exception each failure becomes.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest

from checks.redirects import redirect_request
from checks.transport import MAX_HEAD_BYTES, MAX_HEADER_LINE, NativeTransport

pytestmark = pytest.mark.anyio

TIMEOUTS = {"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 2.0}
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Server"], Awaitable[None]]


@dataclass
class Server:
    """A scripted partner: each connection runs `handler`; what it saw is kept."""

    handler: Handler
    url: str = ""
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    closed_by_client: asyncio.Event = field(default_factory=asyncio.Event)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer, self)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes | None:
        """One whole request (head and body), or None when the client closed."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            self.closed_by_client.set()
            return None
        lowered = head.lower()
        body = b""
        if b"transfer-encoding: chunked" in lowered:
            body = await reader.readuntil(b"0\r\n\r\n")
        elif b"content-length:" in lowered:
            length = int(lowered.split(b"content-length:")[1].split(b"\r\n")[0])
            body = await reader.readexactly(length)
        self.requests.append(head + body)
        return head + body


@asynccontextmanager
async def scripted(handler: Handler) -> AsyncIterator[Server]:
    server = Server(handler)
    listener = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        listener.close()


@asynccontextmanager
async def transport(**options: float | bool | int) -> AsyncIterator[NativeTransport]:
    native = NativeTransport(ssl.create_default_context(), **options)  # type: ignore[arg-type]
    try:
        yield native
    finally:
        await native.aclose()


def request(url: str, method: str = "GET", **options: object) -> httpx.Request:
    built = httpx.Request(method, url, **options)  # type: ignore[arg-type]
    built.extensions["timeout"] = TIMEOUTS
    return built


async def fetch(native: NativeTransport, built: httpx.Request) -> tuple[httpx.Response, bytes]:
    response = await native.handle_async_request(built)
    body = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
    await response.aclose()
    return response, body


def answer_each(*answers: bytes) -> Handler:
    """Answer the connection's requests in turn, then wait for the client to close."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server):
        for answer in answers:
            if await server.read_request(reader) is None:
                return
            writer.write(answer)
            await writer.drain()
        await server.read_request(reader)

    return handler


def always(answer: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server):
        while await server.read_request(reader) is not None:
            writer.write(answer)
            await writer.drain()

    return handler


# --- keep-alive -----------------------------------------------------------------


async def test_a_connection_read_to_its_end_is_reused() -> None:
    async with scripted(always(OK)) as server, transport() as native:
        for _ in range(3):
            response, body = await fetch(native, request(server.url + "/"))
            assert (response.status_code, body) == (200, b"ok")
    assert server.connections == 1


async def test_a_connection_closed_before_its_body_ended_is_not_reused() -> None:
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100_000
    async with scripted(always(big)) as server, transport() as native:
        for _ in range(2):
            response = await native.handle_async_request(request(server.url + "/"))
            await response.aclose()  # unread: the rest of the body is still coming
    assert server.connections == 2


async def test_without_keepalive_every_request_says_close_on_its_own_connection() -> None:
    async with scripted(always(OK)) as server, transport(keepalive=False) as native:
        for _ in range(2):
            await fetch(native, request(server.url + "/"))
    assert server.connections == 2
    assert all(b"\r\nConnection: close\r\n" in raw for raw in server.requests)


async def test_an_answer_saying_close_is_not_reused() -> None:
    closing = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    async with scripted(always(closing)) as server, transport() as native:
        for _ in range(2):
            await fetch(native, request(server.url + "/"))
    assert server.connections == 2


async def test_a_204_without_a_body_keeps_its_connection() -> None:
    empty = b"HTTP/1.1 204 No Content\r\n\r\n"
    async with scripted(always(empty)) as server, transport() as native:
        for _ in range(2):
            response, body = await fetch(native, request(server.url + "/"))
            assert (response.status_code, body) == (204, b"")
    assert server.connections == 1


async def test_an_idle_connection_past_its_expiry_is_replaced() -> None:
    async with scripted(always(OK)) as server, transport(keepalive_expiry_s=0.05) as native:
        await fetch(native, request(server.url + "/"))
        await asyncio.sleep(0.15)
        await fetch(native, request(server.url + "/"))
    assert server.connections == 2


async def test_bytes_past_the_answer_make_the_connection_unusable() -> None:
    trailing = OK + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale"
    async with scripted(always(trailing)) as server, transport() as native:
        for _ in range(2):
            _, body = await fetch(native, request(server.url + "/"))
            assert body == b"ok"  # never the stale answer meant for no request
    assert server.connections == 2


async def test_a_connection_the_partner_closed_while_idle_is_not_used() -> None:
    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server):
        await server.read_request(reader)
        writer.write(OK)  # no "Connection: close", yet the partner hangs up after it
        await writer.drain()

    async with scripted(once) as server, transport() as native:
        await fetch(native, request(server.url + "/"))
        await asyncio.sleep(0.1)
        _, body = await fetch(native, request(server.url + "/"))
    assert body == b"ok" and server.connections == 2


# --- the request on the wire -------------------------------------------------------


async def test_the_request_goes_out_as_given() -> None:
    async with scripted(always(OK)) as server, transport() as native:
        await fetch(
            native,
            request(
                server.url + "/api/v1/ping?x=1&y=%20z",
                "POST",
                headers={"X-Check": "intmon", "Content-Type": "application/json"},
                content=b'{"ping": true}',
            ),
        )
    raw = server.requests[0]
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /api/v1/ping?x=1&y=%20z HTTP/1.1"
    assert b"Host: 127.0.0.1:" + server.url.rsplit(":", 1)[1].encode() in lines
    assert b"X-Check: intmon" in lines and b"Content-Length: 14" in lines
    assert b"Connection: close" not in lines  # keep-alive is the default
    assert body == b'{"ping": true}'


async def test_a_streamed_request_body_goes_out_chunked() -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b'{"a": '
        yield b"1}"

    async with scripted(always(OK)) as server, transport() as native:
        await fetch(native, request(server.url + "/", "POST", content=parts()))
    head, body = server.requests[0].split(b"\r\n\r\n", 1)
    assert b"Transfer-Encoding: chunked" in head
    assert body == b'8\r\n{"a": 1}\r\n0\r\n\r\n'


@pytest.mark.parametrize(
    "headers",
    [
        [(b"X-Evil", b"a\r\nInjected: yes")],
        [(b"X-Evil\r\nInjected", b"yes")],
        [(b"X:Evil", b"yes")],
    ],
    ids=["value-crlf", "name-crlf", "name-colon"],
)
async def test_a_header_that_would_split_the_request_is_refused(
    headers: list[tuple[bytes, bytes]],
) -> None:
    async with scripted(always(OK)) as server, transport() as native:
        built = request(server.url + "/")
        built.headers = httpx.Headers(headers)
        with pytest.raises(httpx.LocalProtocolError):
            await native.handle_async_request(built)
    assert server.requests == []


async def test_an_unsupported_scheme_is_refused() -> None:
    async with transport() as native:
        with pytest.raises(httpx.UnsupportedProtocol):
            await native.handle_async_request(request("ftp://127.0.0.1/"))


# --- how an answer ends ------------------------------------------------------------


async def test_a_chunked_answer_is_read_whole_and_its_connection_kept() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    async with scripted(always(chunked)) as server, transport() as native:
        for _ in range(2):
            _, body = await fetch(native, request(server.url + "/"))
            assert body == b"abcde"
    assert server.connections == 1


async def test_an_answer_without_a_length_ends_when_the_connection_does() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server):
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"until the end")

    async with scripted(handler) as server, transport() as native:
        _, body = await fetch(native, request(server.url + "/"))
        assert body == b"until the end"
        await fetch(native, request(server.url + "/"))
    assert server.connections == 2


async def test_a_body_cut_short_is_a_protocol_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server):
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")

    async with scripted(handler) as server, transport() as native:
        response = await native.handle_async_request(request(server.url + "/"))
        with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
            async for _ in response.stream:  # type: ignore[union-attr]
                pass


async def test_a_head_answer_ends_at_its_head() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"
    async with scripted(always(head)) as server, transport() as native:
        response, body = await fetch(native, request(server.url + "/", "HEAD"))
    assert response.headers["content-length"] == "5000" and body == b""


async def test_a_100_continue_is_skipped_for_the_real_answer() -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone"
    async with scripted(always(interim)) as server, transport() as native:
        response, body = await fetch(native, request(server.url + "/", "POST", content=b"x"))
    assert (response.status_code, body) == (201, b"done")


async def test_the_http_version_is_reported() -> None:
    old = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
    async with scripted(always(old)) as server, transport() as native:
        response, _ = await fetch(native, request(server.url + "/"))
    assert response.extensions["http_version"] == b"HTTP/1.0"


async def test_a_malformed_answer_is_a_protocol_error() -> None:
    async with scripted(always(b"SMTP ready\r\n\r\n")) as server, transport() as native:
        with pytest.raises(httpx.RemoteProtocolError, match="malformed"):
            await native.handle_async_request(request(server.url + "/"))


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (MAX_HEADER_LINE + 10) + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X-Many: aaaaaaaaaaaaaaaa\r\n" * (MAX_HEAD_BYTES // 20),
    ],
    ids=["one-long-header", "endless-head"],
)
async def test_a_head_beyond_the_limits_is_a_protocol_error(answer: bytes) -> None:
    async with scripted(always(answer)) as server, transport() as native:
        with pytest.raises(httpx.RemoteProtocolError, match="over"):
            await native.handle_async_request(request(server.url + "/"))


async def test_a_partner_streaming_fast_is_held_back_by_a_slow_reader() -> None:
    size = 8 * 1024 * 1024

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server):
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        for _ in range(size // 65536):
            writer.write(b"y" * 65536)
            await writer.drain()

    async with scripted(handler) as server, transport() as native:
        response = await native.handle_async_request(request(server.url + "/"))
        await asyncio.sleep(0.3)  # not reading: the socket is paused, not drained into memory
        connection = response.stream._connection  # type: ignore[union-attr]
        assert connection.buffered < 1024 * 1024
        total = 0
        async for chunk in response.stream:  # type: ignore[union-attr]
            total += len(chunk)
        assert total == size


# --- failures ----------------------------------------------------------------------


async def test_no_answer_within_the_read_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server):
        await server.read_request(reader)
        await asyncio.sleep(5)

    async with scripted(silent) as server, transport() as native:
        built = request(server.url + "/")
        built.extensions["timeout"] = {**TIMEOUTS, "read": 0.2}
        with pytest.raises(httpx.ReadTimeout):
            await native.handle_async_request(built)


async def test_a_body_that_stalls_past_the_read_timeout() -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server):
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await writer.drain()
        await asyncio.sleep(5)

    async with scripted(stall) as server, transport() as native:
        built = request(server.url + "/")
        built.extensions["timeout"] = {**TIMEOUTS, "read": 0.2}
        response = await native.handle_async_request(built)
        with pytest.raises(httpx.ReadTimeout):
            async for _ in response.stream:  # type: ignore[union-attr]
                pass


async def test_a_partner_hanging_up_without_an_answer() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server):
        await server.read_request(reader)

    async with scripted(hang_up) as server, transport() as native:
        with pytest.raises(httpx.RemoteProtocolError, match="disconnected"):
            await native.handle_async_request(request(server.url + "/"))


async def test_a_reset_connection_carries_its_os_error() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server):
        await server.read_request(reader)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST, not FIN

    async with scripted(reset) as server, transport() as native:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)) as caught:
            await native.handle_async_request(request(server.url + "/"))
    if isinstance(caught.value, httpx.ReadError):
        assert isinstance(caught.value.__cause__, ConnectionResetError)


async def test_a_refused_connection_carries_its_os_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: refused
        async with transport() as native:
            with pytest.raises(httpx.ConnectError) as caught:
                await native.handle_async_request(request(f"http://127.0.0.1:{port}/"))
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


async def test_closing_the_transport_closes_its_connections() -> None:
    async with scripted(always(OK)) as server:
        native = NativeTransport(ssl.create_default_context())
        await fetch(native, request(server.url + "/"))
        await native.aclose()
        await asyncio.wait_for(server.closed_by_client.wait(), 2)
        with pytest.raises(RuntimeError, match="closed"):
            await native.handle_async_request(request(server.url + "/"))


# --- where a redirect leads (checks.redirects) ----------------------------------------


def redirected(status: int, location: str, method: str = "POST") -> httpx.Request | None:
    original = httpx.Request(
        method,
        "https://partner.example/api/leads",
        headers={"Cookie": "session=1", "X-Check": "kept"},
        content=b'{"lead": 1}',
    )
    answer = httpx.Response(status, headers={"Location": location})
    return redirect_request(original, answer)


def test_a_303_becomes_a_get_without_its_body() -> None:
    following = redirected(303, "/elsewhere")
    assert following is not None
    assert (following.method, str(following.url)) == ("GET", "https://partner.example/elsewhere")
    assert "content-length" not in following.headers and following.read() == b""


def test_a_307_repeats_the_method_and_its_body() -> None:
    following = redirected(307, "https://partner.example/v2/leads")
    assert following is not None
    assert following.method == "POST" and following.read() == b'{"lead": 1}'


def test_a_301_turns_a_post_into_a_get_and_keeps_other_methods() -> None:
    post = redirected(301, "/moved")
    put = redirected(301, "/moved", method="PUT")
    assert post is not None and put is not None
    assert (post.method, put.method) == ("GET", "PUT")


def test_a_hop_to_another_host_names_it_and_drops_cookies() -> None:
    following = redirected(302, "https://other.example:8443/x")
    assert following is not None
    assert following.headers["host"] == "other.example:8443"
    assert "cookie" not in following.headers and following.headers["x-check"] == "kept"


def test_an_answer_that_is_not_a_redirect_leads_nowhere() -> None:
    assert redirected(200, "/elsewhere") is None
    original = httpx.Request("GET", "https://partner.example/")
    assert redirect_request(original, httpx.Response(302)) is None  # no Location


def test_a_location_that_is_no_url_is_a_protocol_error() -> None:
    with pytest.raises(httpx.RemoteProtocolError, match="Invalid URL"):
        redirected(302, "https://[::1")
