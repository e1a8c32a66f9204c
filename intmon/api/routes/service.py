"""`/healthz`, `/readyz` and `/metrics`: for the orchestrator and Prometheus.

`/healthz` says the process answers; `/readyz` says it can do its work (the
database answers, and Redis when one is configured) and names what failed.
`/metrics` names every client's integrations, so on this port (the console's)
it is off unless `INTMON_API_METRICS_TOKEN` is set, and then wants that token;
`intmon metrics` serves the same on a port of its own for Prometheus.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine

from intmon.api.schemas.service import Health, Readiness
from intmon.api.strict_json import StrictJsonRoute

router = APIRouter(tags=["service"], route_class=StrictJsonRoute)


@router.get("/healthz", response_model=Health)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        503: {
            "description": "A dependency is not reachable: the same body, naming it.",
            "model": Readiness,
        }
    },
)
def readyz(request: Request) -> JSONResponse:
    checks = readiness(request.app.state.engine, request.app.state.settings.redis_url)
    ready = all(result == "ok" for result in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "The Prometheus text exposition format.",
            "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
        }
    },
)
def metrics(request: Request) -> Response:
    """Prometheus exposition: incidents, tickets, SLA breaches and the outbox.

    Off (404) unless INTMON_API_METRICS_TOKEN is set; then `Authorization: Bearer`
    must carry it (401)."""
    token = request.app.state.settings.api_metrics_token
    if token is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or invalid metrics token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)


def readiness(engine: Engine, redis_url: str | None) -> dict[str, Any]:
    """ "ok" or what went wrong, per dependency. Messages carry no URL (it may hold a password)."""
    checks: dict[str, Any] = {"database": _probe(lambda: _database(engine))}
    if redis_url:
        checks["redis"] = _probe(lambda: _redis(redis_url))
    return checks


def _probe(probe: Any) -> str:
    try:
        probe()
    except Exception as error:
        first_line = (str(error).splitlines() or [""])[0][:200]
        return f"{type(error).__name__}: {first_line}"
    return "ok"


def _database(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1").scalar()


def _redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
