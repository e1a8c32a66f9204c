"""The sandbox broker's lead inbox: where the demo's real (non-test) leads are delivered.

    POST /leads   bearer token; follows the sandbox's phase like the rest of it:
                  healthy, slow → 201 {"lead_id"}; a lead seen before (same
                  Idempotency-Key) → 409 {"error": "duplicate lead", "lead_id"};
                  expired token → 401; outage → 500; changed contract → 200 with
                  the id renamed (`data.ref`), which the delivery judges a contract failure

The inbox is the demo's ground truth: `accepted` holds each lead once.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web


class LeadInbox:
    def __init__(self, token: str, phase: Callable[[], str]) -> None:
        self.token = token
        self.phase = phase
        self.accepted: list[str] = []
        self._lock = threading.Lock()

    def install(self, app: web.Application) -> None:
        app.router.add_post("/leads", self.receive)

    async def receive(self, request: web.Request) -> web.Response:
        phase = self.phase()
        header = request.headers.get("Authorization", "")
        if phase == "expired_token" or not hmac.compare_digest(header, f"Bearer {self.token}"):
            return web.json_response({"error": "invalid token"}, status=401)
        if phase == "outage":
            return web.json_response({"error": "internal server error"}, status=500)
        key = request.headers.get("Idempotency-Key", "")
        body: Any = await request.json()
        if not isinstance(body, dict) or not body.get("email"):
            return web.json_response({"error": "email is required"}, status=422)
        with self._lock:
            if key in self.accepted:
                number = self.accepted.index(key) + 1
                return web.json_response(
                    {"error": "duplicate lead", "lead_id": f"ACME-{number}"}, status=409
                )
            if phase == "changed_contract":
                return web.json_response({"data": {"ref": "?"}})
            self.accepted.append(key)
            number = len(self.accepted)
        return web.json_response({"lead_id": f"ACME-{number}"}, status=201)
