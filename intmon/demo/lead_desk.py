"""The sandbox broker's lead desk, for the demo's end-to-end scenario.

    POST   /e2e/leads        bearer token; the lead must be marked {"test": true} and
                             carry a `postback_url`; 201 {"id", "status": "received"}
    GET    /e2e/leads/{id}   "received" on the first read, then "accepted"; on
                             acceptance the desk posts {"lead_id", "status", "payout"}
                             to the lead's postback URL, once
    DELETE /e2e/leads/{id}   204: the test lead is gone

Unlike the rest of the sandbox it does not follow the phase clock: the demo
runs its scenario once and shows a report that passes.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
from typing import Any

import aiohttp
from aiohttp import web


class LeadDesk:
    def __init__(self, token: str) -> None:
        self.token = token
        self.leads: dict[str, dict[str, Any]] = {}
        self.deleted: list[str] = []
        self.postbacks: list[tuple[str, int]] = []  # (url, the status intmon answered)
        self._numbers = itertools.count(5001)
        self._tasks: set[asyncio.Task[None]] = set()

    def install(self, app: web.Application) -> None:
        app.router.add_post("/e2e/leads", self._submit)
        app.router.add_get("/e2e/leads/{id}", self._status)
        app.router.add_delete("/e2e/leads/{id}", self._delete)

    def _authorised(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        given = token.strip().encode()
        return scheme.lower() == "bearer" and hmac.compare_digest(given, self.token.encode())

    async def _submit(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            lead = await request.json()
        except ValueError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        if not isinstance(lead, dict) or lead.get("test") is not True:
            return web.json_response({"error": "the sandbox takes test leads only"}, status=422)
        if not isinstance(lead.get("postback_url"), str):
            return web.json_response({"error": "postback_url is required"}, status=422)
        lead_id = f"SBX-{next(self._numbers)}"
        self.leads[lead_id] = {**lead, "reads": 0}
        return web.json_response({"id": lead_id, "status": "received"}, status=201)

    async def _status(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        lead = self.leads.get(request.match_info["id"])
        if lead is None:
            return web.json_response({"error": "no such lead"}, status=404)
        lead["reads"] += 1
        if lead["reads"] < 2:
            return web.json_response({"id": request.match_info["id"], "status": "received"})
        if lead["reads"] == 2:
            task = asyncio.get_running_loop().create_task(
                self._post_back(request.match_info["id"], lead["postback_url"])
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.json_response({"id": request.match_info["id"], "status": "accepted"})

    async def _post_back(self, lead_id: str, url: str) -> None:
        payload = {"lead_id": lead_id, "status": "accepted", "payout": 12.5}
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
                session.post(url, json=payload) as answer,
            ):
                self.postbacks.append((url, answer.status))
        except (aiohttp.ClientError, TimeoutError):
            self.postbacks.append((url, 0))

    async def _delete(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        lead_id = request.match_info["id"]
        if self.leads.pop(lead_id, None) is None:
            return web.json_response({"error": "no such lead"}, status=404)
        self.deleted.append(lead_id)
        return web.Response(status=204)
