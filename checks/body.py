"""Reading a response body without trusting its size.

A probe keeps at most `cap` decoded bytes and stops reading there: a 10 MB
answer, an endless chunked stream or a gzip bomb costs no more than the cap.
httpx's own decoders inflate a whole network chunk at once (a 64 KiB chunk of
a bomb can become gigabytes), so gzip and deflate are inflated here with
`max_length`; encodings we never ask for (br, zstd) fall back to httpx's.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

import httpx

__all__ = ["read_capped"]


async def read_capped(response: httpx.Response, cap: int) -> tuple[bytes, bool]:
    """At most `cap` decoded bytes of the body, and whether there was more."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    decoder: _Inflater | None = None
    source: AsyncIterator[bytes]
    if encoding in ("", "identity"):
        source = response.aiter_raw()
    elif encoding in ("gzip", "x-gzip", "deflate"):
        decoder = _Inflater(encoding)
        source = response.aiter_raw()
    else:
        source = response.aiter_bytes()
    limit = cap + 1  # one byte more than kept tells whether the body was longer
    chunks: list[bytes] = []
    size = 0
    async for raw in source:
        data = decoder.decode(raw, limit - size) if decoder is not None else raw
        if data:
            chunks.append(data)
            size += len(data)
        if size >= limit:
            break
    body = b"".join(chunks)
    return body[:cap], len(body) > cap


class _Inflater:
    """gzip / deflate (zlib-wrapped or raw) with an output bound per call."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._deflate = encoding == "deflate"
        wbits = zlib.MAX_WBITS if self._deflate else 16 + zlib.MAX_WBITS
        self._inflater = zlib.decompressobj(wbits)
        self._first = True

    def decode(self, data: bytes, max_length: int) -> bytes:
        first, self._first = self._first, False
        try:
            return self._inflater.decompress(data, max_length)
        except zlib.error as exc:
            if first and self._deflate:  # some servers send raw deflate without the zlib header
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                self._deflate = False
                return self.decode(data, max_length)
            raise httpx.DecodingError(f"{self._encoding} body cannot be decoded: {exc}") from None
