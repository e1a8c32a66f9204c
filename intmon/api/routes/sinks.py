"""`/api/sinks/{name}/callback`: a webhook sink's partner pushing status and comments back.

No bearer token: the request is authenticated by its HMAC signature with the
sink's secret (`WebhookSink.parse_callback`), then applied as support actions
by `alerts.mirror.apply_external`, exactly like a polled sync-back.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool

from alerts import mirror
from alerts.policy import policy_of
from alerts.sinks import SinkError, build_sink
from alerts.sinks.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSink
from core import db
from intmon.api.schemas.service import SyncBack
from intmon.api.strict_json import StrictJsonRoute

router = APIRouter(prefix="/api/sinks", tags=["sinks"], route_class=StrictJsonRoute)


@router.post(
    "/{name}/callback",
    response_model=SyncBack,
    responses={401: {"description": "Missing, stale or wrong signature."}},
)
async def sink_callback(request: Request, name: str) -> dict[str, Any]:
    """Apply a signed sync-back (`X-Intmon-Timestamp`, `X-Intmon-Signature`)."""
    body = await request.body()
    state = request.app.state
    return await run_in_threadpool(
        apply_callback, state.engine, state.settings, name, request, body
    )


def apply_callback(engine: Any, settings: Any, name: str, request: Request, body: bytes) -> Any:
    config = next((c for c in mirror.load_sinks(engine) if c.name == name), None)
    if config is None or config.kind != "webhook":
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no webhook sink named {name!r}")
    sink = build_sink(config)
    assert isinstance(sink, WebhookSink)
    now = db.utcnow()
    try:
        number, state = sink.parse_callback(dict(request.headers), body, now.timestamp())
    except SinkError as error:
        # alerts/ raises one SinkError for a bad signature and for a bad body.
        signed_wrong = TIMESTAMP_HEADER in error.message or SIGNATURE_HEADER in error.message
        code = status.HTTP_401_UNAUTHORIZED if signed_wrong else 422
        raise HTTPException(code, error.message) from None
    finally:
        sink.close()
    if not mirror.is_mirrored(engine, name, number):
        # Correctly signed, but about a ticket this sink never received.
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"ticket {number} not found")
    report = mirror.apply_external(
        engine,
        name,
        number,
        state,
        policy_of(settings),
        now,
        status_map=getattr(config, "status_map", None),
    )
    return {"ticket": number, **asdict(report)}
