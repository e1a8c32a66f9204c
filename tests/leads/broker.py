"""A fake broker API on 127.0.0.1 that deduplicates on the Idempotency-Key, as real
brokers do, and counts what it accepted: the ground truth of the lead tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.alerts.servers import serving


@dataclass
class FakeBroker:
    # What the next requests get: "ok", or an HTTP status to answer with.
    mode: str = "ok"
    # Seconds between storing a lead and answering: a worker killed meanwhile
    # leaves a lead the broker has but intmon has no answer for.
    delay_s: float = 0.0
    accepted: list[str] = field(default_factory=list)  # idempotency keys, arrival order
    requests: list[dict[str, Any]] = field(default_factory=list)
    expired: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def leads(self, request: web.Request) -> web.Response:
        body = await request.json()
        key = request.headers.get("Idempotency-Key", "")
        with self.lock:
            self.requests.append(
                {"key": key, "body": body, "auth": request.headers.get("Authorization")}
            )
            if self.mode != "ok":
                return web.json_response({"error": self.mode}, status=int(self.mode))
            if key in self.accepted:
                number = self.accepted.index(key) + 1
                return web.json_response(
                    {"error": "duplicate", "lead_id": f"B-{number}"}, status=409
                )
            self.accepted.append(key)
            number = len(self.accepted)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return web.json_response({"lead_id": f"B-{number}"}, status=201)

    async def expired_hook(self, request: web.Request) -> web.Response:
        with self.lock:
            self.expired.append(await request.json())
        return web.json_response({"ok": True})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/leads", self.leads)
        app.router.add_post("/expired", self.expired_hook)
        return app


@contextmanager
def broker() -> Iterator[tuple[FakeBroker, str]]:
    fake = FakeBroker()
    with serving(fake.app()) as url:
        yield fake, url


def delivery_config(url: str, *, extra: str = "", delivery_extra: str = "") -> str:
    return f"""version: 1
integrations:
  - id: bx
    name: Broker X
    kind: broker
    client: acme
    base_url: {url}
    auth: {{type: bearer, token: "${{PARTNER_TOKEN}}"}}
    interval_s: 60
    checks: [{{name: health, path: /health}}]
    delivery:
      path: /leads
      body:
        email: "{{{{ lead.email }}}}"
        name: "{{{{ lead.first }}}} {{{{ lead.last }}}}"
        age: "{{{{ lead.age }}}}"
        source: platform
      required_fields: [email]
      lead_id_path: $.lead_id
      max_hold_s: 3600
      expired_webhook: {url}/expired
{delivery_extra}{extra}"""
