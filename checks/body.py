"""Reading a response body without trusting its size.

A probe keeps at most `cap` decoded bytes and stops reading there: a 10 MB
answer, an endless chunked stream or a gzip bomb costs no more than the cap.
httpx's own decoders inflate a whole network chunk at once (a 64 KiB chunk of
a bomb can become gigabytes, and `Content-Encoding: gzip, gzip` makes a
2.5 KB chunk one), so every gzip or deflate layer is inflated here, as a chain
of readers that each inflate only what the next one asks for: each layer
holds at most `_STEP` bytes of input and the cap of output, however many
layers are stacked. A body in an encoding intmon never asks for (br, zstd,
anything else) is kept as it came, undecoded: a JSON check then fails on it
instead of a decoder exhausting the worker.
"""

from __future__ import annotations

import zlib
from typing import Protocol

import httpx

__all__ = ["read_capped"]

INFLATABLE = ("gzip", "x-gzip", "deflate")
_STEP = 16 * 1024  # input a layer takes at a time


class _Reader(Protocol):
    def read(self, size: int) -> bytes:
        """Up to `size` bytes; b"" when nothing more is available yet."""
        ...


async def read_capped(response: httpx.Response, cap: int) -> tuple[bytes, bool]:
    """At most `cap` decoded bytes of the body, and whether there was more."""
    network = _Buffer()
    reader: _Reader = network
    for encoding in reversed(_layers(response.headers.get("content-encoding", ""))):
        reader = _Inflater(encoding, reader)  # the encoding applied last is undone first
    limit = cap + 1  # one byte more than kept tells whether the body was longer
    chunks: list[bytes] = []
    size = 0
    async for raw in response.aiter_raw():
        network.push(raw)
        while size < limit and (data := reader.read(limit - size)):
            chunks.append(data)
            size += len(data)
        if size >= limit:
            break
    body = b"".join(chunks)
    return body[:cap], len(body) > cap


def _layers(header: str) -> list[str]:
    """The encodings to undo, in the order they were applied; [] to keep the body as is."""
    layers = [e.strip().lower() for e in header.split(",")]
    layers = [e for e in layers if e not in ("", "identity")]
    return layers if all(e in INFLATABLE for e in layers) else []


class _Buffer:
    """Raw bytes from the network, waiting for the first layer to take them."""

    def __init__(self) -> None:
        self._pending = b""

    def push(self, data: bytes) -> None:
        self._pending += data

    def read(self, size: int) -> bytes:
        data, self._pending = self._pending[:size], self._pending[size:]
        return data


class _Inflater:
    """One gzip / deflate (zlib-wrapped or raw) layer, inflating on demand."""

    def __init__(self, encoding: str, source: _Reader) -> None:
        self._encoding = encoding
        self._source = source
        self._deflate = encoding == "deflate"
        wbits = zlib.MAX_WBITS if self._deflate else 16 + zlib.MAX_WBITS
        self._inflater = zlib.decompressobj(wbits)
        self._input = b""
        self._first = True

    def read(self, size: int) -> bytes:
        while True:
            if not self._input:
                self._input = self._source.read(_STEP)
                if not self._input:
                    return b""
            data = self._decompress(self._input, size)
            self._input = self._inflater.unconsumed_tail
            if data or self._inflater.eof:
                return data  # after the end of the stream, trailing bytes are ignored

    def _decompress(self, data: bytes, size: int) -> bytes:
        first, self._first = self._first, False
        try:
            return self._inflater.decompress(data, size)
        except zlib.error as exc:
            if first and self._deflate:  # some servers send raw deflate without the zlib header
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                self._deflate = False
                return self._decompress(data, size)
            raise httpx.DecodingError(f"{self._encoding} body cannot be decoded: {exc}") from None
