"""Bounded body reading and certificate-expiry helpers."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from checks.body import read_capped
from checks.tls import CertificateProbe, expiry_warning

pytestmark = pytest.mark.anyio

TEXT = b"hello, partner " * 100


class Chunks(httpx.AsyncByteStream):
    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks
        self.served = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.served += 1
            yield chunk


async def read(stream: Chunks, cap: int, **headers: str) -> tuple[bytes, bool]:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers, stream=stream)

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client,
        client.stream("GET", "http://partner.test/") as response,
    ):
        return await read_capped(response, cap)


def deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("name", "encoded", "headers"),
    [
        ("identity", TEXT, {}),
        ("gzip", gzip.compress(TEXT), {"content_encoding": "gzip"}),
        ("zlib deflate", zlib.compress(TEXT), {"content_encoding": "deflate"}),
        ("raw deflate", deflate_raw(TEXT), {"content_encoding": "deflate"}),
    ],
)
async def test_decodes_whole_small_bodies(
    name: str, encoded: bytes, headers: dict[str, str]
) -> None:
    pieces = [encoded[i : i + 7] for i in range(0, len(encoded), 7)]
    headers = {k.replace("_", "-"): v for k, v in headers.items()}

    body, truncated = await read(Chunks(*pieces), 65536, **headers)

    assert (body, truncated) == (TEXT, False)


async def test_stops_reading_at_the_cap() -> None:
    stream = Chunks(*([b"z" * 1000] * 1000))

    body, truncated = await read(stream, 2500)

    assert (len(body), truncated) == (2500, True)
    assert stream.served == 3


async def test_exact_cap_is_not_truncated() -> None:
    body, truncated = await read(Chunks(b"a" * 10), 10)

    assert (body, truncated) == (b"a" * 10, False)


async def test_gzip_bomb_inflates_only_to_the_cap() -> None:
    bomb = gzip.compress(b"\0" * (32 * 1024 * 1024))

    body, truncated = await read(Chunks(bomb), 1024, **{"content-encoding": "gzip"})

    assert (len(body), truncated) == (1024, True)


async def test_broken_gzip_is_a_decoding_error() -> None:
    with pytest.raises(httpx.DecodingError):
        await read(Chunks(b"not gzip at all"), 1024, **{"content-encoding": "gzip"})


DAY = 86_400.0


@pytest.mark.parametrize(
    ("name", "expires_in_days", "warning_days", "expected"),
    [
        ("far away", 30, 14, None),
        ("inside the window", 5, 14, "expires in 5.0 days"),
        ("on the edge", 14, 14, "expires in 14.0 days"),
        ("warnings off", 5, 0, None),
        ("already expired", -1, 14, "expired on"),
    ],
)
def test_expiry_warning(
    name: str, expires_in_days: float, warning_days: int, expected: str | None
) -> None:
    now = 1_900_000_000.0

    warning = expiry_warning(now + expires_in_days * DAY, now, warning_days)

    if expected is None:
        assert warning is None
    else:
        assert warning is not None and expected in warning


async def test_certificate_probe_caches_results_and_failures(partners: Any) -> None:
    now = [0.0]
    probe = CertificateProbe(clock=lambda: now[0])
    port = int(partners.https_trusted.rsplit(":", 1)[1])
    closed_port = int(partners.closed.rsplit(":", 1)[1])
    try:
        expires_at = await probe.expires_at("127.0.0.1", port, timeout_s=2)
        failed = await probe.expires_at("127.0.0.1", closed_port, timeout_s=2)

        assert expires_at is not None
        assert failed is None
        assert probe.cached("127.0.0.1", port) == (True, expires_at)
        assert probe.cached("127.0.0.1", closed_port) == (True, None)
        now[0] += 301  # failures are forgotten sooner than results
        assert probe.cached("127.0.0.1", closed_port) == (False, None)
        assert probe.cached("127.0.0.1", port) == (True, expires_at)
        now[0] += 3600
        assert probe.cached("127.0.0.1", port) == (False, None)
    finally:
        await probe.aclose()
