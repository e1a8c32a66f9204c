"""A fake partner API for `intmon demo`, served on 127.0.0.1 from a background thread.

The sandbox plays a broker whose behaviour changes on a clock, so that a newcomer
watching intmon for under a minute sees every check outcome. The timeline, one
phase every `phase_seconds` and then round again:

    healthy → expired_token → slow → outage → changed_contract → healthy → …

Endpoints (all answer JSON):

    GET  /health         the broker's status; changes with the phase
    GET  /leads          needs `Authorization: Bearer <token>`; changes with the phase
    POST /leads          the broker's lead inbox, by phase too (`lead_inbox`)
    POST /oauth/token    OAuth2 client credentials (Basic auth or form body)
    GET  /orders         needs a bearer token issued by /oauth/token
    GET  /quota          429 with Retry-After on every other call
    GET  /stall          accepts and never answers (until stop)
    GET  /missing        404
    POST/GET/DELETE /e2e/leads…   the lead desk of the demo's end-to-end scenario
                         (a test lead, its status, the broker's postback; `lead_desk`)

The same application is served over plain HTTP (`http_port`) and over HTTPS
(`https_port`) with a certificate from a throwaway `trustme` CA that nobody
trusts, so a check against the HTTPS port ends in a TLS error. `closed_port` is
bound but never listens, so connecting to it is refused.

    with Sandbox() as sandbox:
        print(sandbox.http_url, sandbox.current_phase())
"""

from __future__ import annotations

import asyncio
import enum
import hmac
import secrets
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import trustme
from aiohttp import BasicAuth, web

from intmon.demo.lead_desk import LeadDesk
from intmon.demo.lead_inbox import LeadInbox

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Phase(enum.StrEnum):
    HEALTHY = "healthy"
    EXPIRED_TOKEN = "expired_token"
    SLOW = "slow"
    OUTAGE = "outage"
    CHANGED_CONTRACT = "changed_contract"


# The order the phases follow; after the last comes the first again.
PHASES: tuple[Phase, ...] = (
    Phase.HEALTHY,
    Phase.EXPIRED_TOKEN,
    Phase.SLOW,
    Phase.OUTAGE,
    Phase.CHANGED_CONTRACT,
)

SLOW_DELAY_S = 1.5  # /health in the slow phase; above a 1000 ms budget, below a 2 s timeout
STALL_S = 60.0  # /stall; cut short by stop()
TOKEN_LIFETIME_S = 60
RETRY_AFTER_S = 5
START_TIMEOUT_S = 10.0
METADATA_URL = "http://169.254.169.254/latest/meta-data/"  # where /moved redirects

LEADS: tuple[dict[str, Any], ...] = (
    {"id": "lead-1001", "name": "Ada Example", "email": "ada@example.com", "source": "web"},
    {"id": "lead-1002", "name": "Ben Sample", "email": "ben@example.com", "source": "phone"},
    {"id": "lead-1003", "name": "Cleo Demo", "email": "cleo@example.com", "source": "partner"},
    {"id": "lead-1004", "name": "Dev Placeholder", "email": "dev@example.com", "source": "web"},
    {"id": "lead-1005", "name": "Eve Testcase", "email": "eve@example.com", "source": "email"},
)
ORDERS: tuple[dict[str, Any], ...] = (
    {"id": "ord-501", "amount_cents": 12900, "currency": "EUR", "status": "paid"},
    {"id": "ord-502", "amount_cents": 4500, "currency": "EUR", "status": "pending"},
)


class Sandbox:
    """A fake partner on 127.0.0.1, started and stopped from synchronous code.

    `start()` runs an asyncio loop in a daemon thread and returns once both
    ports listen; `stop()` wakes any stalled or delayed request, closes the
    servers and the loop, and returns. Use it as a context manager.

    The phase clock starts at `start()` (at construction when never started);
    `set_phase()` pins a phase, `set_phase(None)` resumes the clock.
    """

    def __init__(
        self,
        *,
        phase_seconds: float = 6.0,
        clock: Callable[[], float] = time.monotonic,
        token: str = "demo-secret-token",
        client_id: str = "orbit-demo",
        client_secret: str = "demo-oauth-secret",
        host: str = "127.0.0.1",
    ) -> None:
        if phase_seconds <= 0:
            raise ValueError("phase_seconds must be positive")
        self.phase_seconds = float(phase_seconds)
        self.clock = clock
        self.token = token
        self.client_id = client_id
        self.client_secret = client_secret
        self.host = host
        # Requests per path, every path (unknown ones too), counted as they arrive.
        self.hits: Counter[str] = Counter()
        self.ca = trustme.CA()
        self._server_cert = self.ca.issue_cert(host, "localhost")
        self._epoch = clock()
        self._pinned: Phase | None = None
        self._quota_calls = 0
        self._issued: dict[str, float] = {}  # access token → clock() when issued
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None
        self._closed_sock: socket.socket | None = None
        self._ports: tuple[int, int, int] | None = None
        self.lead_desk = LeadDesk(token)
        self.lead_inbox = LeadInbox(token, lambda: self.current_phase().value)

    # --- phases ------------------------------------------------------------------

    @property
    def cycle_seconds(self) -> float:
        """How long the whole timeline takes before it starts again."""
        return self.phase_seconds * len(PHASES)

    def current_phase(self) -> Phase:
        if self._pinned is not None:
            return self._pinned
        elapsed = max(0.0, self.clock() - self._epoch)
        return PHASES[int(elapsed // self.phase_seconds) % len(PHASES)]

    def set_phase(self, name: str | None) -> None:
        """Pin the phase `name` (one of `PHASES`); `None` lets the clock run again."""
        if name is None:
            self._pinned = None
            return
        try:
            self._pinned = Phase(name)
        except ValueError:
            known = ", ".join(PHASES)
            raise ValueError(f"unknown phase {name!r}; use one of {known}") from None

    # --- addresses ---------------------------------------------------------------

    def _port(self, index: int) -> int:
        if self._ports is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        return self._ports[index]

    @property
    def http_port(self) -> int:
        return self._port(0)

    @property
    def https_port(self) -> int:
        return self._port(1)

    @property
    def closed_port(self) -> int:
        """A port on `host` that is reserved (bound) but refuses every connection."""
        return self._port(2)

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def https_url(self) -> str:
        return f"https://{self.host}:{self.https_port}"

    @property
    def closed_url(self) -> str:
        return f"http://{self.host}:{self.closed_port}"

    @property
    def running(self) -> bool:
        return self._ports is not None

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        if self._loop is not None:
            raise RuntimeError("the sandbox is already running")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=self._run_loop, args=(loop,), name="intmon-demo-sandbox", daemon=True
        )
        self._loop, self._thread = loop, thread
        thread.start()
        sockets: list[socket.socket] = []
        try:
            for _ in range(3):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.bind((self.host, 0))
            http_sock, https_sock, closed_sock = sockets
            future = asyncio.run_coroutine_threadsafe(self._serve(http_sock, https_sock), loop)
            future.result(timeout=START_TIMEOUT_S)
        except BaseException:
            for sock in sockets:
                sock.close()
            if self._runner is not None:
                cleanup = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
                cleanup.result(timeout=START_TIMEOUT_S)
            self._halt_loop()
            raise
        self._closed_sock = closed_sock  # bound, never listening: connections are refused
        self._ports = (
            http_sock.getsockname()[1],
            https_sock.getsockname()[1],
            closed_sock.getsockname()[1],
        )
        self._epoch = self.clock()

    def stop(self) -> None:
        """Stop serving; safe to call twice or when never started."""
        loop = self._loop
        if loop is None:
            return
        try:
            if self._runner is not None:
                future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
                future.result(timeout=START_TIMEOUT_S)
        finally:
            self._halt_loop()
            if self._closed_sock is not None:
                self._closed_sock.close()
                self._closed_sock = None
            self._ports = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _halt_loop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=START_TIMEOUT_S)
        self._loop = self._thread = None
        self._runner = None

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            asyncio.set_event_loop(None)
            loop.close()

    async def _serve(self, http_sock: socket.socket, https_sock: socket.socket) -> None:
        self._stopping = asyncio.Event()
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/health", self._health)
        app.router.add_get("/leads", self._leads)
        app.router.add_post("/oauth/token", self._oauth_token)
        app.router.add_get("/orders", self._orders)
        app.router.add_get("/quota", self._quota)
        app.router.add_get("/stall", self._stall)
        app.router.add_get("/missing", self._missing)
        app.router.add_get("/moved", self._moved)
        self.lead_desk.install(app)
        self.lead_inbox.install(app)
        # No access log (the demo prints its own view); a client that gives up
        # (a timed-out check) cancels its handler instead of leaving it sleeping.
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await runner.setup()
        self._runner = runner
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server_cert.configure_cert(tls)
        await web.SockSite(runner, http_sock).start()
        await web.SockSite(runner, https_sock, ssl_context=tls).start()

    async def _shutdown(self) -> None:
        if self._stopping is not None:
            self._stopping.set()  # wakes /stall and the slow /health at once
        if self._runner is not None:
            await self._runner.cleanup()

    async def _pause(self, seconds: float) -> bool:
        """Sleep `seconds`, or less when the sandbox stops; True when it stopped."""
        assert self._stopping is not None
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    # --- request handling --------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.hits[request.path] += 1
        try:
            return await handler(request)
        except web.HTTPException as exc:  # unknown path, wrong method: still JSON
            headers = {
                name: value
                for name, value in exc.headers.items()
                if name.lower() not in ("content-type", "content-length")
            }
            return web.json_response({"error": exc.reason}, status=exc.status, headers=headers)

    async def _health(self, request: web.Request) -> web.Response:
        phase = self.current_phase()
        if phase is Phase.SLOW and await self._pause(SLOW_DELAY_S):
            return web.json_response({"error": "shutting down"}, status=503)
        if phase is Phase.OUTAGE:
            return web.json_response({"error": "maintenance overload"}, status=503)
        if phase is Phase.CHANGED_CONTRACT:
            return web.json_response({"state": "up"})  # `status` was renamed
        if phase is Phase.EXPIRED_TOKEN:
            # Brokers do this: an authentication error inside a 200.
            return web.json_response({"error": "invalid token", "code": "AUTH_EXPIRED"})
        return web.json_response({"status": "ok", "version": "2.3"})

    async def _leads(self, request: web.Request) -> web.Response:
        phase = self.current_phase()
        if phase is Phase.EXPIRED_TOKEN:
            return web.json_response({"error": "invalid token", "code": "AUTH_EXPIRED"}, status=401)
        if not _same(bearer_token(request), self.token):
            return web.json_response({"error": "unauthorized"}, status=401)
        if phase is Phase.OUTAGE:
            return web.json_response({"error": "internal server error"}, status=500)
        try:
            limit = int(request.query.get("limit", "10"))
        except ValueError:
            return web.json_response({"error": "limit must be an integer"}, status=400)
        items = list(LEADS[: max(0, min(limit, 100))])
        if phase is Phase.CHANGED_CONTRACT:
            return web.json_response({"data": items})  # `items` was renamed
        return web.json_response({"items": items, "total": len(LEADS)})

    async def _oauth_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                basic = BasicAuth.decode(header)
            except ValueError:
                return web.json_response({"error": "invalid_request"}, status=400)
            client_id, client_secret = basic.login, basic.password
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        authentic = (
            isinstance(client_id, str)
            and isinstance(client_secret, str)
            and _same(client_id, self.client_id)
            and _same(client_secret, self.client_secret)
        )
        if self.current_phase() is Phase.EXPIRED_TOKEN or not authentic:
            return web.json_response({"error": "invalid_client"}, status=401)
        now = self.clock()
        self._issued = {
            token: issued
            for token, issued in self._issued.items()
            if now - issued < TOKEN_LIFETIME_S
        }
        access_token = secrets.token_urlsafe(24)
        self._issued[access_token] = now
        return web.json_response(
            {"access_token": access_token, "token_type": "bearer", "expires_in": TOKEN_LIFETIME_S}
        )

    async def _orders(self, request: web.Request) -> web.Response:
        phase = self.current_phase()
        token = bearer_token(request)
        issued = self._issued.get(token) if token else None
        valid = issued is not None and self.clock() - issued < TOKEN_LIFETIME_S
        if phase is Phase.EXPIRED_TOKEN or not valid:
            return web.json_response({"error": "invalid_token"}, status=401)
        if phase is Phase.OUTAGE:
            return web.json_response({"error": "internal server error"}, status=500)
        return web.json_response({"orders": list(ORDERS), "total": len(ORDERS)})

    async def _quota(self, request: web.Request) -> web.Response:
        self._quota_calls += 1
        if self._quota_calls % 2 == 0:
            return web.json_response(
                {"error": "rate limit exceeded"},
                status=429,
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        return web.json_response({"remaining": 10})

    async def _stall(self, request: web.Request) -> web.Response:
        if await self._pause(STALL_S):
            return web.json_response({"error": "shutting down"}, status=503)
        return web.json_response({"status": "finally"})

    async def _missing(self, request: web.Request) -> web.Response:
        return web.json_response({"error": "not found"}, status=404)

    async def _moved(self, request: web.Request) -> web.Response:
        # A partner redirecting to the cloud metadata service: intmon's egress policy
        # refuses the hop at connect time, so nothing leaves the machine.
        raise web.HTTPFound(location=METADATA_URL)


def bearer_token(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
