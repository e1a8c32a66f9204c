"""`create_app(engine, settings)`: the FastAPI application (OpenAPI at /docs, served locally).

Domain refusals become HTTP answers here, in one place, with the domain's own
message as `detail`:

    TicketNotFound      404   (also what a client gets for another client's ticket)
    InvalidTransition   409
    InvalidTicketInput  422   (+ `field`)
    other AlertsError   409
    MaintenanceError    422
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from alerts.errors import AlertsError, InvalidTicketInput, InvalidTransition, TicketNotFound
from integrations.maintenance import MaintenanceError
from intmon import web
from intmon.api.routes import docs, e2e, integrations, leads, results, service, sinks, tickets
from intmon.metrics import aggregate_registry
from intmon.settings import Settings


def create_app(engine: Engine, settings: Settings) -> FastAPI:
    app = FastAPI(
        title="intmon",
        summary="Integration monitoring: integrations, incidents and tickets.",
        version="0.1.0",
        docs_url=None,  # FastAPI's loads Swagger UI from a CDN: routes/docs.py serves it
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.registry = aggregate_registry(engine=engine)
    for module in (service, integrations, tickets, sinks, leads, e2e, results):
        app.include_router(module.router)
    docs.install(app)
    app.add_exception_handler(AlertsError, _alerts_error)
    app.add_exception_handler(MaintenanceError, _maintenance_error)
    web.install(app)  # the web console: /login, /board, /tickets, /integrations/{id}
    return app


async def _alerts_error(_request: Request, error: Exception) -> JSONResponse:
    if isinstance(error, TicketNotFound):
        return JSONResponse({"detail": str(error)}, status_code=404)
    if isinstance(error, InvalidTicketInput):
        return JSONResponse({"detail": str(error), "field": error.field}, status_code=422)
    assert isinstance(error, InvalidTransition | AlertsError)
    return JSONResponse({"detail": str(error)}, status_code=409)


async def _maintenance_error(_request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=422)
