"""Hostile partners on 127.0.0.1: raw asyncio servers that misbehave on purpose.

Each behaviour listens on a port of its own and speaks just enough HTTP/1.1 by
hand to be nasty: bodies that never end or come one byte a second, gzip bombs
that inflate to a gigabyte, headers over 64 KiB, a TLS port that never says a
word, a reset in the middle of the body. Everything a server sends is produced
as it is sent, so the servers hold no big buffer themselves: the memory the
tests measure is the probe's.

`HostileServers` runs them in one daemon thread with its own event loop, so the
probe engine under test has its loop to itself. `urls[name]` is a behaviour's
base URL; `requests` is the head of every request that arrived.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import socket
import struct
import threading
import zlib
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

MiB = 1024 * 1024
BIG_BODY_BYTES = 10 * MiB
BOMB_INFLATED_BYTES = 1024 * MiB  # what a gzip bomb inflates to, read to its end
HEADER_FLOOD_BYTES = 70 * 1024
_ZEROS = bytes(MiB)


def head(status: str, *headers: str) -> bytes:
    """A response head; every answer closes its connection."""
    return "\r\n".join([f"HTTP/1.1 {status}", *headers, "Connection: close", "", ""]).encode(
        "latin-1"
    )


def json_answer(body: bytes, content_type: str = "application/json") -> bytes:
    return head("200 OK", f"Content-Type: {content_type}", f"Content-Length: {len(body)}") + body


def chunk(data: bytes) -> bytes:
    """One chunk of a `Transfer-Encoding: chunked` body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


@functools.cache
def gzip_bomb(layers: int = 1) -> bytes:
    """`BOMB_INFLATED_BYTES` zero bytes gzipped `layers` times over, built without ever
    holding them: after a full flush, deflate codes each MiB of zeros identically, so
    one coded MiB is repeated and the gzip trailer (CRC-32, length) is computed apart.
    One layer is about 1 MB on the wire, two layers about 2.5 KB."""
    if layers > 1:
        return gzip.compress(gzip_bomb(layers - 1), compresslevel=9)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    first = compressor.compress(_ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(_ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)
    count = BOMB_INFLATED_BYTES // MiB
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(_ZEROS, crc)
    final_empty_block = b"\x03\x00"
    trailer = struct.pack("<II", crc, BOMB_INFLATED_BYTES % 2**32)
    return first + repeated * (count - 1) + final_empty_block + trailer


@dataclass
class Peer:
    """One accepted connection and the head of the request it sent."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    request: dict[str, Any] = field(default_factory=dict)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()


Behaviour = Callable[[Peer], Awaitable[None]]


class Behaviours:
    """The handlers, one per misbehaviour; the request head has been read already."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls

    async def ok(self, peer: Peer) -> None:
        await peer.send(json_answer(b'{"status": "ok"}'))

    async def echo(self, peer: Peer) -> None:
        """The request head as JSON: where a redirect landed and what it carried."""
        await peer.send(json_answer(json.dumps({"status": "ok", **peer.request}).encode()))

    async def big(self, peer: Peer) -> None:
        await peer.send(
            head("200 OK", "Content-Type: text/plain", f"Content-Length: {BIG_BODY_BYTES}")
        )
        piece = b"x" * (64 * 1024)
        for _ in range(BIG_BODY_BYTES // len(piece)):
            await peer.send(piece)

    async def endless(self, peer: Peer) -> None:
        await peer.send(head("200 OK", "Content-Type: text/plain", "Transfer-Encoding: chunked"))
        piece = chunk(b"y" * 16384)
        while True:
            await peer.send(piece)

    async def loris_headers(self, peer: Peer) -> None:
        """The status line and headers one byte a second: never a complete head in time."""
        for byte in head("200 OK", "Content-Type: application/json", "Content-Length: 2"):
            await peer.send(bytes([byte]))
            await asyncio.sleep(1.0)

    async def loris_body(self, peer: Peer) -> None:
        """A prompt head promising a megabyte, then the body one byte a second."""
        await peer.send(head("200 OK", "Content-Type: application/json", f"Content-Length: {MiB}"))
        while True:
            await peer.send(b" ")
            await asyncio.sleep(1.0)

    async def invalid_utf8(self, peer: Peer) -> None:
        await peer.send(json_answer(b'{"status": "ok \xff\xfe \xc3\x28"}'))

    async def gzip_bomb(self, peer: Peer) -> None:
        await self._bomb(peer, layers=1)

    async def stacked_gzip_bomb(self, peer: Peer) -> None:
        """`Content-Encoding: gzip, gzip`: the outer layer inflates to a whole gzip bomb."""
        await self._bomb(peer, layers=2)

    async def unknown_encoding_bomb(self, peer: Peer) -> None:
        """The gzip bomb labelled `gzip, br`: an encoding intmon never asked for."""
        await self._bomb(peer, layers=1, encoding="gzip, br")

    async def _bomb(self, peer: Peer, layers: int, encoding: str = "") -> None:
        encoding = encoding or ", ".join(["gzip"] * layers)
        await peer.send(
            head(
                "200 OK",
                "Content-Type: application/json",
                f"Content-Encoding: {encoding}",
                "Transfer-Encoding: chunked",
            )
        )
        bomb = gzip_bomb(layers)
        step = 64 * 1024  # big chunks: as much bomb per read as the probe will take
        for offset in range(0, len(bomb), step):
            await peer.send(chunk(bomb[offset : offset + step]))
        await peer.send(b"0\r\n\r\n")

    async def redirect_loop(self, peer: Peer) -> None:
        await peer.send(head("302 Found", "Location: /again", "Content-Length: 0"))

    async def redirect_away(self, peer: Peer) -> None:
        """To another port of 127.0.0.1: another origin, which must get no credentials."""
        location = self.urls["echo"] + "/landed"
        await peer.send(head("302 Found", f"Location: {location}", "Content-Length: 0"))

    async def redirect_away_307(self, peer: Peer) -> None:
        """307: the client is to repeat the request, body included, at another origin."""
        location = self.urls["echo"] + "/landed"
        await peer.send(
            head("307 Temporary Redirect", f"Location: {location}", "Content-Length: 0")
        )

    async def redirect_same_origin(self, peer: Peer) -> None:
        if peer.request["target"] == "/landed":
            await self.echo(peer)
        else:
            await peer.send(head("302 Found", "Location: /landed", "Content-Length: 0"))

    async def redirect_endless_body(self, peer: Peer) -> None:
        """A redirect whose own body never ends: only the Location matters."""
        location = self.urls["echo"] + "/landed"
        await peer.send(head("302 Found", f"Location: {location}", "Transfer-Encoding: chunked"))
        piece = chunk(b"r" * 16384)
        while True:
            await peer.send(piece)

    async def html(self, peer: Peer) -> None:
        page = b"<html><body>Service temporarily unavailable</body></html>"
        await peer.send(json_answer(page, content_type="text/html"))

    async def json_as_text(self, peer: Peer) -> None:
        await peer.send(json_answer(b'{"status": "ok"}', content_type="text/plain"))

    async def silent(self, peer: Peer) -> None:
        """Accept, read whatever comes (a TLS ClientHello too), never answer."""
        while await peer.reader.read(65536):
            pass

    async def reset_mid_body(self, peer: Peer) -> None:
        await peer.send(
            head("200 OK", "Content-Type: application/json", "Content-Length: 100000")
            + b'{"items": ['
            + b"1," * 500
        )
        await asyncio.sleep(0.05)
        sock = peer.writer.get_extra_info("socket")
        # Linger 0: closing sends a TCP RST instead of a FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.writer.transport.abort()

    async def huge_header(self, peer: Peer) -> None:
        """One header line of 70 KiB."""
        padding = "a" * HEADER_FLOOD_BYTES
        await peer.send(head("200 OK", f"X-Padding: {padding}", "Content-Length: 2") + b"{}")

    async def many_headers(self, peer: Peer) -> None:
        """70 KiB of headers in 1 KiB lines."""
        lines = [f"X-Padding-{i}: {'b' * 1000}" for i in range(HEADER_FLOOD_BYTES // 1024)]
        await peer.send(head("200 OK", *lines, "Content-Length: 2") + b"{}")

    async def header_flood(self, peer: Peer) -> None:
        """Headers without end: 100-byte lines until the probe hangs up."""
        await peer.send(head("200 OK", "Content-Type: application/json").removesuffix(b"\r\n"))
        line = b"X-Flood: " + b"c" * 89 + b"\r\n"
        while True:
            await peer.send(line * 100)


# Behaviours that answer before (or without) reading a request.
_NO_REQUEST = {"silent"}


class HostileServers:
    """Every behaviour of `Behaviours` on a port of its own, in one background loop."""

    NAMES = tuple(name for name in vars(Behaviours) if not name.startswith("_"))

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self.requests: list[dict[str, Any]] = []
        self.behaviours = Behaviours(self.urls)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.Server] = []
        self._connections: set[asyncio.Task[Any]] = set()

    def __enter__(self) -> HostileServers:
        gzip_bomb(2)  # built once, before any probe waits for it
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _call(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(30)

    async def _start(self) -> None:
        for name in self.NAMES:
            server = await asyncio.start_server(self._serving(name), "127.0.0.1", 0)
            self._servers.append(server)
            self.urls[name] = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    async def _stop(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()

    def _serving(
        self, name: str
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        behaviour: Behaviour = getattr(self.behaviours, name)

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._connections.add(task)
            peer = Peer(reader, writer)
            try:
                if name not in _NO_REQUEST:
                    peer.request = await _read_head(reader)
                    self.requests.append({"server": name, **peer.request})
                await behaviour(peer)
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                pass  # the probe hung up: what it should do with most of these servers
            finally:
                self._connections.discard(task)
                writer.transport.abort()

        return serve


async def _read_head(reader: asyncio.StreamReader) -> dict[str, Any]:
    raw = await reader.readuntil(b"\r\n\r\n")
    request_line, *lines = raw.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    method, _, rest = request_line.partition(" ")
    return {"method": method, "target": rest.rpartition(" ")[0], "headers": headers}
