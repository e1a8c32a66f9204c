"""A fake lead partner for the scenario tests: submit a lead, poll its status, get a postback.

    POST   /leads          bearer token required; 201 {"id", "status": "received"}, Location
    GET    /leads/{id}     "received" until it was polled `accept_after` times, then
                           "accepted" and, once, a postback to the lead's `postback_url`
    DELETE /leads/{id}     204 (the cleanup); remembered in `deleted`
    GET    /ping           {"pong": true} (the load test's target)

Switches on the instance change its behaviour between tests: `postback` (False:
the broker never calls back), `accept_after`, `submit_status`, `id_format`.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

TOKEN = "partner-token-7f3a9c"


@dataclass
class FakeLeadPartner:
    postback: bool = True
    accept_after: int = 2
    submit_status: int = 201
    id_format: str = "L{n}"
    token: str = TOKEN
    leads: dict[str, dict[str, Any]] = field(default_factory=dict)
    polls: dict[str, int] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    postbacks: list[tuple[str, int]] = field(default_factory=list)  # (url, status answered)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    pings: int = 0
    _ids: Any = field(default_factory=lambda: itertools.count(101))
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/leads", self.submit)
        app.router.add_get("/leads/{id:.+}", self.status)
        app.router.add_delete("/leads/{id:.+}", self.delete)
        app.router.add_get("/ping", self.ping)
        return app

    def _authorised(self, request: web.Request) -> bool:
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append((request.method, request.path_qs, headers))
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def submit(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "invalid token"}, status=401)
        body = await request.json()
        if self.submit_status != 201:
            return web.json_response({"error": "rejected"}, status=self.submit_status)
        number = next(self._ids)
        lead_id = self.id_format.format(n=number)
        self.leads[lead_id] = body
        self.polls[lead_id] = 0
        return web.json_response(
            {"id": lead_id, "status": "received", "receipt": f"ref=r{number}x"},
            status=201,
            headers={"Location": f"/leads/{lead_id}"},
        )

    async def status(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "invalid token"}, status=401)
        lead_id = request.match_info["id"]
        if lead_id not in self.leads:
            return web.json_response({"error": "no such lead"}, status=404)
        self.polls[lead_id] += 1
        if self.polls[lead_id] < self.accept_after:
            return web.json_response({"id": lead_id, "status": "received"})
        if self.polls[lead_id] == self.accept_after and self.postback:
            task = asyncio.get_running_loop().create_task(self._post_back(lead_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.json_response({"id": lead_id, "status": "accepted", "payout": 12.5})

    async def _post_back(self, lead_id: str) -> None:
        url = self.leads[lead_id].get("postback_url")
        if not url:
            return
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json={"lead_id": lead_id, "state": "accepted"}) as answer,
        ):
            self.postbacks.append((url, answer.status))

    async def delete(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "invalid token"}, status=401)
        self.deleted.append(request.match_info["id"])
        return web.Response(status=204)

    async def ping(self, request: web.Request) -> web.Response:
        self.pings += 1
        return web.json_response({"pong": True})


def main() -> None:
    """Serve a partner in a process of its own (`python -m tests.e2e.partner`), so a load
    test does not share its interpreter lock with it; prints the port it listens on."""
    import sys

    async def serve() -> None:
        runner = web.AppRunner(FakeLeadPartner().app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        sys.stdout.write(f"{runner.addresses[0][1]}\n")
        sys.stdout.flush()
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
