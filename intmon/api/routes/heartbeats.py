"""Heartbeats over HTTP: the ping endpoint jobs call, and `GET /api/heartbeats`.

    GET|POST /ping/{key}         the job ran and succeeded
    GET|POST /ping/{key}/start   the job started (optional; gives run times)
    GET|POST /ping/{key}/fail    the job ran and failed (a `missed_heartbeat` result)

The ping key is the only credential (no login, as healthchecks.io does), so the
endpoint answers an unknown key exactly like a malformed one: 404, without
saying which. A body (a log excerpt, say) is optional; its first `BODY_BYTES`
are kept, redacted, and the rest is read and dropped, so a job sending its whole
log still gets its ping recorded. Pings are charged to their keys' limits and
written a batch at a time per process (`intmon.api.group_commit`); 200 means
stored.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import PlainTextResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from alerts.heartbeat_watch import ingest_heartbeat_results
from alerts.policy import Policy, policy_of
from core import db
from integrations.heartbeats.pings import (
    Ping,
    PingKind,
    by_key_of,
    record_fast_successes_async,
    record_pings,
)
from integrations.heartbeats.store import list_heartbeats
from intmon.api.access import Caller, Db, visible_integrations
from intmon.api.group_commit import GroupCommit
from intmon.api.schemas.heartbeats import Heartbeat
from intmon.api.strict_json import StrictJsonRoute

log = logging.getLogger(__name__)
router = APIRouter(tags=["heartbeats"], route_class=StrictJsonRoute)
BODY_BYTES = 10 * 1024
# What `intmon` issues (secrets.token_urlsafe); anything else cannot be a key.
KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
PING_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Stored.", "content": {"text/plain": {"schema": {"type": "string"}}}},
    404: {"description": "No heartbeat has this ping key."},
    429: {"description": "This key pinged too often (INTMON_LIMIT_PINGS)."},
}


def install(app: Any) -> None:
    engine, policy = app.state.engine, policy_of(app.state.settings)

    def answers(
        pings: list[Ping], refusals: list[HTTPException | None], found: set[str]
    ) -> list[bool | Exception]:
        """Each ping: stored (True), an unknown key (False), or its refusal (429)."""
        return [
            refusal if refusal is not None else ping.key in found
            for ping, refusal in zip(pings, refusals, strict=True)
        ]

    def write(pings: list[Ping]) -> list[bool | Exception]:
        # The throttle is looked up per batch: tests give the app one with their clock.
        refusals = app.state.throttle.charge_keys("pings", [ping.key for ping in pings])
        within = [ping for ping, refusal in zip(pings, refusals, strict=True) if refusal is None]
        found = _store(engine, policy, within) if within else set()
        return answers(pings, refusals, found)

    async def write_on_loop(pings: list[Ping]) -> list[bool | Exception]:
        """On PostgreSQL: the limits and the fast path (success pings of heartbeats
        that are up, one statement) on the event loop; what the fast path leaves
        (a start, a failure, a heartbeat coming back) is folded in a worker thread."""
        keys = [ping.key for ping in pings]
        refusals = await app.state.throttle.charge_keys_async("pings", keys)
        within = [ping for ping, refusal in zip(pings, refusals, strict=True) if refusal is None]
        if not within:
            return answers(pings, refusals, set())
        async with app.state.loop_connections.connection() as connection:
            found = await record_fast_successes_async(connection, by_key_of(within))
        rest = [ping for ping in within if ping.key not in found]
        if rest:
            found |= await run_in_threadpool(_store, engine, policy, rest, True)
        return answers(pings, refusals, found)

    on_postgresql = engine.dialect.name == "postgresql"
    app.state.pings = GroupCommit("pings", write_on_loop if on_postgresql else write)


def _store(engine: Engine, policy: Policy, pings: list[Ping], fast_done: bool = False) -> set[str]:
    """Store `pings`; the keys found. Results they produced (a heartbeat back after a
    miss, a `/fail`) go through the alerts intake before the answers, so the
    incident has moved too."""
    written = record_pings(engine, pings, fast_done=fast_done)
    if written.results:
        try:
            ingest_heartbeat_results(engine, written.results, policy)
        except Exception:
            # The pings are stored; the heartbeat's next transition brings the
            # incident up to date.
            log.exception("could not hand %d heartbeat results to intake", len(written.results))
    return written.found


async def _ping(request: Request, key: str, kind: PingKind) -> PlainTextResponse:
    if not KEY.match(key):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no heartbeat has this ping key")
    body = await _body_head(request)
    buffer: GroupCommit[Ping, bool] = request.app.state.pings
    ping = Ping(key, kind, db.utcnow(), body.decode("utf-8", errors="replace"))
    try:
        stored = await buffer.submit(ping)
    except HTTPException:  # over the key's limit (429), or no Redis to count it (503)
        raise
    except Exception:  # logged by the buffer; the job should retry (curl --retry)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the ping could not be stored; try again"
        ) from None
    if not stored:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no heartbeat has this ping key")
    return PlainTextResponse("OK")


async def _body_head(request: Request) -> bytes:
    if request.method != "POST":
        return b""
    head = bytearray()
    async for chunk in request.stream():
        if len(head) < BODY_BYTES:
            head += chunk[: BODY_BYTES - len(head)]
    return bytes(head)


async def ping_success(request: Request, key: str) -> PlainTextResponse:
    return await _ping(request, key, PingKind.SUCCESS)


async def ping_start(request: Request, key: str) -> PlainTextResponse:
    return await _ping(request, key, PingKind.START)


async def ping_fail(request: Request, key: str) -> PlainTextResponse:
    return await _ping(request, key, PingKind.FAIL)


PING_ROUTES = (
    ("/ping/{key}", ping_success, "success", "the job ran and succeeded (no login: the key)"),
    ("/ping/{key}/start", ping_start, "start", "the job started"),
    ("/ping/{key}/fail", ping_fail, "fail", "the job ran and failed (send its log as the body)"),
)
# GET and POST each (cron lines use either), with an operation id of their own.
for path, endpoint, kind, what in PING_ROUTES:
    for method in ("GET", "POST"):
        router.add_api_route(
            path,
            endpoint,
            methods=[method],
            operation_id=f"ping_{kind}_{method.lower()}",
            response_class=PlainTextResponse,
            responses=PING_RESPONSES,
            summary=f"Ping a heartbeat: {what}",
        )


@router.get(
    "/api/heartbeats",
    response_model=list[Heartbeat],
    summary="Heartbeats with their ping URLs (a client: its own)",
)
async def heartbeats(request: Request, caller: Caller, engine: Db) -> Any:
    public_url = request.app.state.settings.public_url

    def read() -> list[dict[str, Any]]:
        ids = list(visible_integrations(engine, caller))
        return [view.as_dict(public_url) for view in list_heartbeats(engine, ids)]

    return await run_in_threadpool(read)
