"""Postbacks over HTTP: the endpoint brokers call, and `GET /api/postbacks`.

    POST /postbacks/{integration_id}   a broker's event about a lead; no login: the
                                       shared secret (`postbacks.secret`) as an HMAC
                                       of the body or as a `token` header
    GET  /api/postbacks                each postback monitor's window (a client: its own)

The checks run in this order, each answering before the next looks at anything:
the body's size (413 over `BODY_BYTES`), its JSON and fields (422 naming the
field), credentials present (401), then the integration and the secret together
(404: an unknown integration, one without postbacks and a wrong secret get the
same answer, so the endpoint does not tell which integrations exist). A new event
is 201, a repeat of one already stored 200 with `duplicate: true`. Authentic
postbacks are charged to their broker's limit and stored a batch at a time per
process (`intmon.api.group_commit`): 201 means stored.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from core import db
from integrations.errors import SecretUnavailable
from integrations.postbacks.monitor import monitor_views
from integrations.postbacks.signature import has_credentials, is_authentic
from integrations.postbacks.store import (
    PostbackIn,
    Received,
    Stored,
    record_postbacks,
    record_postbacks_async,
)
from integrations.secrets import resolve
from intmon.api.access import Caller, Db, visible_integrations
from intmon.api.group_commit import GroupCommit
from intmon.api.postback_endpoints import PostbackEndpoints
from intmon.api.schemas import postbacks as schemas
from intmon.api.strict_json import StrictJsonRoute, not_json, strict_loads, validated

log = logging.getLogger(__name__)
router = APIRouter(tags=["postbacks"], route_class=StrictJsonRoute)
# A postback is a few ids and a status; anything this big is not one.
BODY_BYTES = 16 * 1024
NOT_FOUND = "no postback endpoint matches this integration and signature"
ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "A repeat of an event already stored.", "model": schemas.PostbackReceived},
    401: {"description": "Neither X-Intmon-Signature nor token was sent."},
    404: {"description": "No such integration with postbacks, or the signature does not match."},
    413: {"description": f"The body is larger than {BODY_BYTES} bytes."},
    429: {"description": "This integration sent too many postbacks (INTMON_LIMIT_POSTBACKS)."},
    503: {
        "description": "The secret cannot be read where the API runs, or the postback could "
        "not be stored; try again later."
    },
}
BODY_SCHEMA = {
    "required": True,
    "content": {"application/json": {"schema": PostbackIn.model_json_schema()}},
}


@router.post(
    "/postbacks/{integration_id}",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.PostbackReceived,
    responses=ANSWERS,
    openapi_extra={"requestBody": BODY_SCHEMA},
    summary="A broker's postback about a lead (no login: the shared secret)",
)
async def receive_postback(request: Request, integration_id: str) -> JSONResponse:
    raw = await _body(request)
    postback = _parse(raw)
    if not has_credentials(request.headers):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "sign the body: X-Intmon-Signature: sha256=<hex HMAC-SHA256>, or send the secret "
            "as the token header",
        )
    endpoints: PostbackEndpoints = request.app.state.postback_endpoints
    if endpoints.is_fresh():  # from memory: not worth a hop to a worker thread
        secret = _secret_of(endpoints, integration_id)
    else:
        secret = await run_in_threadpool(_secret_of, endpoints, integration_id)
    if not is_authentic(secret, raw, request.headers):
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    writer: GroupCommit[Received, Stored] = request.app.state.postbacks
    try:
        stored = await writer.submit(Received(integration_id, postback, db.utcnow()))
    except HTTPException:  # over the broker's limit (429), or no Redis to count it (503)
        raise
    except Exception:  # logged by the writer; the broker retries (a repeat is safe)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the postback could not be stored; try again"
        ) from None
    code = status.HTTP_200_OK if stored.duplicate else status.HTTP_201_CREATED
    return JSONResponse(stored.as_dict(), status_code=code)


async def _body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > BODY_BYTES:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                f"the postback is larger than {BODY_BYTES} bytes",
            )
    return bytes(body)


def _parse(raw: bytes) -> PostbackIn:
    """The body as a postback; RequestValidationError (422) naming the field."""
    try:
        data = strict_loads(raw)
    except json.JSONDecodeError as error:
        raise not_json(error) from None
    return validated(PostbackIn, data)


def install(app: Any) -> None:
    app.state.postback_endpoints = PostbackEndpoints(app.state.engine)
    engine = app.state.engine

    def answers(
        refusals: list[HTTPException | None], stored: list[Stored]
    ) -> list[Stored | Exception]:
        """Each authentic postback: stored (or a repeat), or its refusal (429).
        Only authentic postbacks get here, so a forger cannot spend a broker's bucket."""
        kept = iter(stored)
        return [refusal if refusal is not None else next(kept) for refusal in refusals]

    def write(batch: list[Received]) -> list[Stored | Exception]:
        # The throttle is looked up per batch: tests give the app one with their clock.
        ids = [item.integration_id for item in batch]
        refusals = app.state.throttle.charge_keys("postbacks", ids)
        within = [item for item, refusal in zip(batch, refusals, strict=True) if refusal is None]
        return answers(refusals, record_postbacks(engine, within))

    async def write_on_loop(batch: list[Received]) -> list[Stored | Exception]:
        ids = [item.integration_id for item in batch]
        refusals = await app.state.throttle.charge_keys_async("postbacks", ids)
        within = [item for item, refusal in zip(batch, refusals, strict=True) if refusal is None]
        if not within:
            return answers(refusals, [])
        async with app.state.loop_connections.connection() as connection:
            return answers(refusals, await record_postbacks_async(connection, within))

    on_postgresql = engine.dialect.name == "postgresql"
    app.state.postbacks = GroupCommit("postbacks", write_on_loop if on_postgresql else write)


def _secret_of(endpoints: PostbackEndpoints, integration_id: str) -> str | None:
    """The integration's postback secret; None when there is no such monitor."""
    ref = endpoints.secret_ref(integration_id)
    if ref is None:
        return None
    try:
        return resolve(ref, set())
    except SecretUnavailable as error:  # names the variable or file, never a value
        log.error("postbacks of %s cannot be verified: %s", integration_id, error)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "postbacks cannot be received now; try again"
        ) from None


@router.get(
    "/api/postbacks",
    response_model=list[schemas.PostbackMonitor],
    summary="Postback monitors: leads accepted in the window, postbacks, ratio, state",
)
async def postback_monitors(
    caller: Caller,
    engine: Db,
    integration_id: Annotated[
        str | None, Query(max_length=64, description="Only this integration.")
    ] = None,
) -> list[dict[str, Any]]:
    def read() -> list[dict[str, Any]]:
        visible = visible_integrations(engine, caller)
        specs = [
            registered.spec
            for key, registered in visible.items()
            if integration_id is None or key == integration_id
        ]
        return [view.as_dict() for view in monitor_views(engine, specs, db.utcnow())]

    return await run_in_threadpool(read)
