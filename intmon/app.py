"""`create_app(engine, settings)`: the FastAPI application (OpenAPI at /docs, served locally).

It mounts the HTTP API (`intmon.api`) and the web console (`intmon.web`), which
reuses the API's access rules, so it sits above both. `intmon.serve` runs it in
a background thread (the demo, the browser tests); `intmon api` in the foreground.

Every error answer has one shape (`problems.py`: RFC 9457 problem details on the
API, the console's error page on its own paths), and domain refusals become
HTTP answers there, in one place, with the domain's own message as `detail`:

    TicketNotFound      404   (also what a client gets for another client's ticket)
    InvalidTransition   409
    InvalidTicketInput  422   (+ `field`)
    other AlertsError   409
    MaintenanceError    422
    anything else       500   (logged; the answer says nothing of the cause)

Around it all, `middleware.py` caps the request body before it is parsed (413),
refuses NUL in the path and query (422), and puts the security headers on every
error answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine

from core.settings import Settings
from intmon import web
from intmon.api import problems, throttle
from intmon.api.loop_connections import LoopConnections, conninfo_of
from intmon.api.middleware import BodyCap, ErrorHeaders, UrlGuard
from intmon.api.routes import (
    docs,
    e2e,
    heartbeats,
    history,
    integrations,
    leads,
    postbacks,
    results,
    service,
    sinks,
    tickets,
)
from intmon.metrics import aggregate_registry


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At shutdown, close what the ingest writers opened on the event loop (their
    PostgreSQL connections, the limiter's Redis client)."""
    yield
    app.state.loop_connections.close()
    loop_limiter = app.state.throttle.loop_limiter
    if loop_limiter is not None:
        await loop_limiter.aclose()


def create_app(engine: Engine, settings: Settings) -> FastAPI:
    app = FastAPI(
        lifespan=lifespan,
        title="intmon",
        summary="Integration monitoring: integrations, incidents and tickets.",
        version="0.1.0",
        docs_url=None,  # FastAPI's loads Swagger UI from a CDN: routes/docs.py serves it
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.registry = aggregate_registry(engine=engine)
    throttle.install(app, settings)  # request limits; where triggered scenarios run
    # PostgreSQL connections of the ping and postback writers on the event loop
    # (opened only on PostgreSQL: on SQLite the writers run in worker threads).
    app.state.loop_connections = LoopConnections(conninfo_of(engine))
    heartbeats.install(app)  # the ping endpoint's batched writer
    postbacks.install(app)  # which integrations take postbacks, re-read every few seconds
    # The ping endpoint first: routes are matched in order, and pings are the
    # API's hottest path (thousands a second; bench/pings.py).
    for module in (
        heartbeats,
        postbacks,
        service,
        integrations,
        tickets,
        sinks,
        leads,
        e2e,
        results,
        history,
    ):
        app.include_router(module.router, responses=problems.RESPONSES)
    docs.install(app)
    problems.install(app)
    web.install(app)  # the web console: /login, /board, /tickets, /integrations/{id}
    # Added last, so outermost: the cap applies before the session is read.
    app.add_middleware(BodyCap, max_bytes=settings.api_max_body_bytes)
    app.add_middleware(UrlGuard)
    app.add_middleware(ErrorHeaders)
    return app
