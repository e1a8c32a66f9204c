"""A small HTTP server for postbacks, for runs with no intmon API to receive them.

`intmon e2e run` from a test team's CI usually has no API running; it serves
`GET|POST /callbacks/{run_id}/{name}` itself, on the run's event loop, into a
`MemoryInbox`. The partner must be able to reach it: `public_url` is the base
handed out when the listener sits behind a tunnel or a NAT.

    async with CallbackListener("0.0.0.0", 8099, public_url="https://ci.example") as inbox:
        report = await runner.run(spec, scenario, inbox=inbox)
"""

from __future__ import annotations

from types import TracebackType

from aiohttp import web

from checks.scenarios.clock import Clock, SystemClock
from checks.scenarios.inbox import MemoryInbox
from core.vocabulary.callbacks import BODY_CAP_BYTES, Callback
from integrations.redaction import SENSITIVE_NAME

__all__ = ["CallbackListener", "callback_from"]


class CallbackListener:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        public_url: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.public_url = public_url
        self.clock = clock or SystemClock()
        self.inbox = MemoryInbox()
        self._runner: web.AppRunner | None = None

    async def start(self) -> MemoryInbox:
        app = web.Application(client_max_size=BODY_CAP_BYTES * 4)
        app.router.add_get("/callbacks/{run_id}/{name}", self._receive)
        app.router.add_post("/callbacks/{run_id}/{name}", self._receive)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        bound = runner.addresses[0][1] if runner.addresses else self.port
        self.port = int(bound)
        self.inbox.base_url = (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
        return self.inbox

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> MemoryInbox:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.content.read(BODY_CAP_BYTES)
        callback = callback_from(
            request.match_info["name"],
            request.method,
            body,
            request.headers.get("Content-Type", ""),
            dict(request.query),
            dict(request.headers),
            self.clock,
        )
        delivery = self.inbox.deliver(request.match_info["run_id"], callback)
        return web.json_response({"callback": delivery.value}, status=delivery.http_status)


def callback_from(
    name: str,
    method: str,
    body: bytes,
    content_type: str,
    query: dict[str, str],
    headers: dict[str, str],
    clock: Clock,
) -> Callback:
    """A `Callback` with the body capped and credential-like headers left out."""
    kept = {k: v for k, v in headers.items() if not SENSITIVE_NAME.search(k)}
    return Callback(
        name=name,
        method=method,
        received_at=clock.now(),
        body=body[:BODY_CAP_BYTES],
        content_type=content_type,
        query=query,
        headers=kept,
    )
