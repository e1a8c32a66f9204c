"""The pooled HTTP transports a `ProbeEngine` sends through, one per TLS setting.

Checks go straight through an `httpx.AsyncBaseTransport` (`checks.redirects.send`):
httpx's requests and responses, none of `AsyncClient.send`'s per-request work.
Four transports, picked by `ProbeSettings.transport`:

- "native" (the default): `checks.transport.NativeTransport`, asyncio
  protocols parsed by httptools, with `Connection: close` and a new connection
  per check when keep-alive is off. The cheapest per check by far
  (docs/benchmarks.md).
- "curl": `checks.curl_transport.CurlTransport`, libcurl's multi interface
  driven by the engine's event loop; connect, TLS and parsing in C.
- "aiohttp": httpx-aiohttp's `AiohttpTransport` over our own
  `aiohttp.ClientSession` (`TCPConnector` with the limits, `force_close` when
  keep-alive is off, our SSL context). aiohttp's own cookie jar, automatic
  decompression and its silent one-time re-send of idempotent requests are
  switched off: cookies, decoding and retries each have one owner here.
- "httpx": httpx's default httpcore pool with `httpx.Limits` (no per-host
  limit of its own; the engine's per-host semaphore provides it).

Each connects only where the egress policy (`ProbeSettings.egress`) permits,
judged on the resolved address at connect time (`core.egress_http`,
`core.egress_aiohttp`). The outcome suite runs on all four, so classification
cannot drift with the choice. Cookies are never kept between checks, proxies
from the environment are not used, and redirects are capped at `MAX_REDIRECTS`.

The curl and aiohttp transports are imported when one is built: a worker holds
only the libraries of the transport it is configured with (aiohttp alone is
~150 modules; docs/benchmarks.md, worker memory).
"""

from __future__ import annotations

import ssl
from http.cookiejar import Cookie, CookieJar
from typing import TYPE_CHECKING, Any

import certifi
import httpx

from checks.errors import ProbeFailure
from checks.transport import NativeTransport
from core.egress_http import guard_transport
from core.vocabulary.outcomes import Outcome
from integrations.config import TLSSettings

if TYPE_CHECKING:
    from checks.engine import ProbeSettings

__all__ = ["DEFAULT_HEADERS", "MAX_REDIRECTS", "USER_AGENT", "ClientPool"]

MAX_REDIRECTS = 5
USER_AGENT = "intmon/0.1 (integration monitoring)"
# Only encodings `checks.body` inflates with a bound; a partner may still send others.
ACCEPT_ENCODING = "gzip, deflate"
# What every request carries unless its check says otherwise (httpx's client
# defaults, with intmon's agent and the encodings it can inflate).
DEFAULT_HEADERS = httpx.Headers(
    {"Accept": "*/*", "Accept-Encoding": ACCEPT_ENCODING, "User-Agent": USER_AGENT}
)

TlsKey = tuple[bool, str | None]


class ClientPool:
    """`httpx.AsyncClient`s keyed by (verify, ca_file), created on first use.

    Checks send through a client's transport directly (`transport`); the client
    itself serves what needs httpx's request flow: auth (token endpoints) and
    scenario steps.
    """

    def __init__(self, settings: ProbeSettings) -> None:
        self.settings = settings
        self._clients: dict[TlsKey, tuple[httpx.AsyncClient, httpx.AsyncBaseTransport]] = {}

    def get(self, tls: TLSSettings) -> httpx.AsyncClient:
        """The client for these TLS settings; a CA file that cannot be loaded is a tls_error."""
        return self._entry(tls)[0]

    def transport(self, tls: TLSSettings) -> httpx.AsyncBaseTransport:
        """The transport under `get(tls)`."""
        return self._entry(tls)[1]

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client, _ in clients:
            await client.aclose()

    def _entry(self, tls: TLSSettings) -> tuple[httpx.AsyncClient, httpx.AsyncBaseTransport]:
        key: TlsKey = (tls.verify, tls.ca_file)
        entry = self._clients.get(key)
        if entry is None:
            transport = self._transport(tls, ssl_context(tls))
            client = httpx.AsyncClient(
                transport=transport,
                headers=DEFAULT_HEADERS,
                cookies=_NoCookies(),
                max_redirects=MAX_REDIRECTS,
                trust_env=False,
                timeout=None,  # each request passes its integration's timeout
            )
            entry = self._clients[key] = (client, transport)
        return entry

    def _transport(self, tls: TLSSettings, context: ssl.SSLContext) -> httpx.AsyncBaseTransport:
        settings = self.settings
        if settings.transport == "curl":  # libcurl reads the CA file itself; `context` vetted it
            from checks.curl_transport import CurlTransport

            return CurlTransport(
                tls,
                keepalive=settings.keepalive,
                max_idle_connections=settings.max_connections,
                egress=settings.egress,
            )
        if settings.transport == "native":
            return NativeTransport(
                context,
                keepalive=settings.keepalive,
                max_idle_per_origin=settings.max_connections_per_host,
                egress=settings.egress,
            )
        if settings.transport == "httpx":
            limits = httpx.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_connections if settings.keepalive else 0,
            )
            transport = httpx.AsyncHTTPTransport(verify=context, limits=limits, trust_env=False)
            guard_transport(transport, settings.egress)
            return transport
        return _aiohttp_transport(settings, context)


def _aiohttp_transport(
    settings: ProbeSettings, context: ssl.SSLContext
) -> httpx.AsyncBaseTransport:
    """httpx-aiohttp over our own session (see the module docstring)."""
    import aiohttp
    import httpx_aiohttp

    from core.egress_aiohttp import LiteralGuard, guarded_connector

    session = aiohttp.ClientSession(
        connector=guarded_connector(
            settings.egress,
            limit=settings.max_connections,
            limit_per_host=settings.max_connections_per_host,
            force_close=not settings.keepalive,
            ssl=context,
        ),
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
    )
    # aiohttp re-sends an idempotent request once when the server disconnects
    # (3.14: `_retry_connection`); retries belong to tenacity alone (STYLE §5).
    if "_retry_connection" in getattr(aiohttp.ClientSession, "ATTRS", ()):
        session._retry_connection = False
    return LiteralGuard(
        httpx_aiohttp.AiohttpTransport(verify=context, client=session), settings.egress
    )


def ssl_context(tls: TLSSettings) -> ssl.SSLContext:
    if not tls.verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(cafile=tls.ca_file or certifi.where())
    except (OSError, ssl.SSLError) as exc:
        raise ProbeFailure(Outcome.TLS_ERROR, f"cannot load CA file {tls.ca_file}: {exc}") from None


class _NoCookies(CookieJar):
    """Checks are independent: a partner's Set-Cookie must not reach the next check."""

    def set_cookie(self, cookie: Cookie) -> None:
        return None

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None
