"""Real partners on 127.0.0.1 for the probe tests.

One background thread runs an event loop with every server the suite needs:
an aiohttp.web app (plain HTTP and three TLS sites with trustme certificates)
and two raw asyncio servers that misbehave below HTTP (one never answers, one
drops the first connection). Servers live for the whole session; tests tell
their requests apart with a `key` and read hit counts back.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import socket
import ssl
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web

from checks.auth import TokenCache
from checks.engine import ProbeEngine, ProbeSettings
from integrations.config import IntegrationSpec

BASIC_USER = "alice"
BASIC_PASSWORD = "wonderland-pass-1"
BEARER_TOKEN = "bearer-secret-2"
API_KEY = "apikey-secret-3"
QUERY_KEY = "query-secret-4"
CLIENT_ID = "good-client"
CLIENT_SECRET = "client-secret-5"
SECRETS_ENV = {
    "PARTNER_USER": BASIC_USER,
    "PARTNER_PASSWORD": BASIC_PASSWORD,
    "PARTNER_TOKEN": BEARER_TOKEN,
    "PARTNER_API_KEY": API_KEY,
    "PARTNER_QUERY_KEY": QUERY_KEY,
    "PARTNER_CLIENT_SECRET": CLIENT_SECRET,
}
BIG_BODY = b"x" * (10 * 1024 * 1024)
BOMB = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
        pytest.param(("asyncio", {}), id="asyncio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, bool]]:
    """Every engine test runs on both event loops a worker can be set to use
    (`event_loop`): their connection errors differ, the outcomes must not."""
    return request.param  # type: ignore[no-any-return]


@dataclass
class Partner:
    """Addresses of the running servers and what they saw."""

    http: str
    https_untrusted: str
    https_trusted: str
    https_expired: str
    stall: str
    drop_first: str
    closed: str
    ca_file: str
    hits: Counter[str] = field(default_factory=Counter)
    tokens_issued: list[str] = field(default_factory=list)
    drop_first_connections: list[int] = field(default_factory=lambda: [0])
    # How many connections drop_first drops before it answers one (1: every other).
    drops_before_answer: list[int] = field(default_factory=lambda: [1])

    def count(self, key: str) -> int:
        return self.hits[key]


class _PartnerApp:
    def __init__(self, partner_hits: Counter[str], tokens: list[str]) -> None:
        self.hits = partner_hits
        self.tokens = tokens
        self.app = web.Application()
        route = self.app.router
        route.add_route("*", "/respond", self.respond)
        route.add_get("/big", self.big)
        route.add_get("/endless", self.endless)
        route.add_get("/bomb", self.bomb)
        route.add_get("/redirect-loop", self.redirect_loop)
        route.add_get("/invalid-utf8", self.invalid_utf8)
        route.add_get("/auth/{scheme}", self.auth)
        route.add_post("/oauth/token", self.token)
        route.add_get("/oauth/api", self.oauth_api)
        route.add_route("*", "/echo", self.echo)

    def _count(self, request: web.Request) -> None:
        self.hits[request.query.get("key", request.path)] += 1

    async def respond(self, request: web.Request) -> web.StreamResponse:
        """Answer as told: ?status=&body=&header=Name:Value&delay=seconds."""
        self._count(request)
        delay = float(request.query.get("delay", "0"))
        if delay:
            await asyncio.sleep(delay)
        headers = {}
        for item in request.query.getall("header", []):
            name, _, value = item.partition(":")
            headers[name] = value
        return web.Response(
            status=int(request.query.get("status", "200")),
            body=request.query.get("body", '{"status": "ok"}').encode(),
            headers=headers,
            content_type=request.query.get("type", "application/json"),
        )

    async def echo(self, request: web.Request) -> web.Response:
        """What arrived: method, headers (names lowercased), query and body."""
        self._count(request)
        return web.json_response(
            {
                "method": request.method,
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "query": dict(request.query),
                "body": await request.text(),
            }
        )

    async def big(self, request: web.Request) -> web.Response:
        return web.Response(body=BIG_BODY, content_type="text/plain")

    async def endless(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b"y" * 16384
        try:
            while True:
                await response.write(chunk)
        except (ConnectionError, asyncio.CancelledError):
            pass
        return response

    async def bomb(self, request: web.Request) -> web.Response:
        return web.Response(
            body=BOMB, headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"}
        )

    async def redirect_loop(self, request: web.Request) -> web.Response:
        self._count(request)
        raise web.HTTPFound(location="/redirect-loop")

    async def invalid_utf8(self, request: web.Request) -> web.Response:
        return web.Response(body=b"\xff\xfe broken \xc3\x28 text", content_type="text/plain")

    async def auth(self, request: web.Request) -> web.Response:
        """Accept the fixture's credentials only; echo whatever was sent (to test redaction)."""
        self._count(request)
        scheme = request.match_info["scheme"]
        sent = {
            "basic": request.headers.get("Authorization", ""),
            "bearer": request.headers.get("Authorization", ""),
            "header": request.headers.get("X-Api-Key", ""),
            "query": request.query.get("api_key", ""),
        }[scheme]
        expected = {
            "basic": "Basic "
            + base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode(),
            "bearer": f"Bearer {BEARER_TOKEN}",
            "header": API_KEY,
            "query": QUERY_KEY,
        }[scheme]
        status = 200 if sent == expected else 401
        return web.json_response({"accepted": status == 200, "you_sent": sent}, status=status)

    async def token(self, request: web.Request) -> web.Response:
        """OAuth2 token endpoint: ?expires_in= to choose the lifetime, ?refuse=1 to say no."""
        self._count(request)
        form = await request.post()
        if request.query.get("refuse"):
            return web.json_response({"error": "invalid_client"}, status=401)
        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        if (client_id, secret) != (CLIENT_ID, CLIENT_SECRET) or form.get("grant_type") != (
            "client_credentials"
        ):
            return web.json_response({"error": "invalid_client"}, status=401)
        token = f"token-{len(self.tokens) + 1}"
        self.tokens.append(token)
        answer: dict[str, Any] = {"access_token": token, "token_type": "Bearer"}
        if "expires_in" in request.query:
            answer["expires_in"] = int(request.query["expires_in"])
        return web.json_response(answer)

    async def oauth_api(self, request: web.Request) -> web.Response:
        """Accept only the newest token, or reject once per ?reject_once=key."""
        self._count(request)
        reject = request.query.get("reject_once")
        if reject and self.hits[f"rejected:{reject}"] == 0:
            self.hits[f"rejected:{reject}"] += 1
            return web.json_response({"error": "token revoked"}, status=401)
        ok = bool(self.tokens) and request.headers.get("Authorization") == (
            f"Bearer {self.tokens[-1]}"
        )
        return web.json_response({"ok": ok}, status=200 if ok else 401)


class _RawServers:
    """Servers that fail below HTTP."""

    def __init__(self, drop_counter: list[int], drops: list[int]) -> None:
        self.writers: set[asyncio.StreamWriter] = set()
        self.drop_counter = drop_counter
        self.drops = drops

    async def stall(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while await reader.read(65536):
                pass
        finally:
            self.writers.discard(writer)
            writer.close()

    async def drop_first(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.drop_counter[0] += 1
        await reader.readuntil(b"\r\n\r\n")
        if self.drop_counter[0] % (self.drops[0] + 1) != 0:
            writer.transport.abort()  # no answer: "server disconnected"
            return
        body = b'{"status": "ok"}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()


def _tls_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _ServerThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(autouse=True)
def _fresh_partner_counts(request: pytest.FixtureRequest) -> None:
    """The partners live for the session, but each test counts its own requests:
    the same test runs once per event loop and transport with the same keys."""
    if "partners" in request.fixturenames:
        partners: Partner = request.getfixturevalue("partners")
        partners.hits.clear()


@pytest.fixture(scope="session")
def partners(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Partner]:
    directory: Path = tmp_path_factory.mktemp("tls")
    trusted_ca, untrusted_ca = trustme.CA(), trustme.CA()
    ca_file = directory / "ca.pem"
    trusted_ca.cert_pem.write_to_path(str(ca_file))
    now = datetime.now(UTC)
    short_lived = trusted_ca.issue_cert(
        "127.0.0.1",
        "localhost",
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=5),
    )
    expired = trusted_ca.issue_cert(
        "127.0.0.1", not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
    )
    untrusted = untrusted_ca.issue_cert("127.0.0.1")

    hits: Counter[str] = Counter()
    tokens: list[str] = []
    drop_counter, drops = [0], [1]
    app = _PartnerApp(hits, tokens)
    raw = _RawServers(drop_counter, drops)
    server = _ServerThread()

    async def start() -> tuple[web.AppRunner, list[asyncio.Server], list[int]]:
        runner = web.AppRunner(app.app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        ports = []
        for context in (None, untrusted, short_lived, expired):
            site = web.TCPSite(
                runner,
                "127.0.0.1",
                0,
                ssl_context=None if context is None else _tls_context(context),
            )
            await site.start()
            assert site._server is not None
            ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        stall = await asyncio.start_server(raw.stall, "127.0.0.1", 0)
        drop = await asyncio.start_server(raw.drop_first, "127.0.0.1", 0)
        for srv in (stall, drop):
            ports.append(srv.sockets[0].getsockname()[1])
        return runner, [stall, drop], ports

    runner, raw_servers, ports = server.call(start())
    yield Partner(
        http=f"http://127.0.0.1:{ports[0]}",
        https_untrusted=f"https://127.0.0.1:{ports[1]}",
        https_trusted=f"https://127.0.0.1:{ports[2]}",
        https_expired=f"https://127.0.0.1:{ports[3]}",
        stall=f"http://127.0.0.1:{ports[4]}",
        drop_first=f"http://127.0.0.1:{ports[5]}",
        closed=f"http://127.0.0.1:{_free_port()}",
        ca_file=str(ca_file),
        hits=hits,
        tokens_issued=tokens,
        drop_first_connections=drop_counter,
        drops_before_answer=drops,
    )

    async def stop() -> None:
        for writer in list(raw.writers):
            writer.close()
        for srv in raw_servers:
            srv.close()
            await srv.wait_closed()
        await runner.cleanup()

    server.call(stop())
    server.stop()


def make_integration(
    base_url: str, *, checks: list[dict[str, Any]] | None = None, **fields: Any
) -> IntegrationSpec:
    """An integration spec with test defaults; `checks` default to one GET /respond."""
    document: dict[str, Any] = {
        "id": "partner",
        "name": "Partner",
        "kind": "shop",
        "client": "acme",
        "base_url": base_url,
        "timeout_s": 5,
        "checks": checks or [{"name": "health", "path": "/respond"}],
    }
    document.update(fields)
    return IntegrationSpec.model_validate(document)


@pytest.fixture
def integration() -> Callable[..., IntegrationSpec]:
    return make_integration


@pytest.fixture(params=["native", "curl", "aiohttp", "httpx"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def token_cache(clock: FakeClock) -> TokenCache:
    return TokenCache(clock=clock)


@pytest.fixture
async def engine(transport: str, token_cache: TokenCache) -> AsyncIterator[ProbeEngine]:
    probe = ProbeEngine(ProbeSettings(transport=transport), token_cache=token_cache)  # type: ignore[arg-type]
    yield probe
    await probe.aclose()
