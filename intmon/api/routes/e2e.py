"""End-to-end scenario runs over HTTP: trigger, status, report, JUnit, and postbacks.

    POST /api/integrations/{id}/scenarios/{name}/runs   support, tester; a client for
                                                         its own integrations (else 404)
    GET  /api/e2e/runs                                   history the caller may see
    GET  /api/e2e/runs/{run_id}[?wait=SECONDS]           status and the redacted report;
                                                         `wait` holds the answer until the
                                                         run ends (60 s at most)
    GET  /api/e2e/runs/{run_id}/junit                    the report as JUnit XML
    GET|POST /callbacks/{run_id}/{name}                  a partner's postback; no token:
                                                         the run id is the credential

A triggered run is queued for the workers (the `e2e` queue) when Redis is
configured; without it (one machine, no workers) this process runs it in a
thread of its own, a few at most (`intmon.api.local_runs`). Triggering counts
against the caller's `INTMON_LIMIT_E2E_RUNS` (`intmon.api.throttle`). The trigger
may carry `variables`: values for some of the scenario's own `variables`, sent
with the job and used as literal text (never rendered as templates).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool

from checks.scenarios.clock import SystemClock
from checks.scenarios.junit import junit_xml
from checks.scenarios.listener import callback_from
from checks.scenarios.report import ScenarioReport
from checks.scenarios.runner import new_run_id
from core import db
from core.vocabulary.callbacks import BODY_CAP_BYTES, Delivery
from integrations.config import IntegrationSpec
from integrations.e2e_store import ENDED, create_run, deliver_callback, list_runs, load_run
from integrations.errors import RunNotFound
from integrations.models import Integration
from integrations.scenarios import VARIABLE, ScenarioSpec
from intmon.api.access import Caller, Db, require, visible_integration, visible_integrations
from intmon.api.auth import Principal
from intmon.api.fields import Input
from intmon.api.links import absolute
from intmon.api.local_runs import Dispatch, ScenarioRuns
from intmon.api.problems import problem
from intmon.api.schemas import e2e as schemas
from intmon.api.strict_json import StrictJsonRoute
from intmon.api.throttle import limited
from worker.e2e import Job

router = APIRouter(tags=["e2e"], route_class=StrictJsonRoute)

Trigger = Annotated[Principal, Depends(require("support", "tester", "client"))]

MAX_VARIABLES = 64
VARIABLE_VALUE_MAX = 4096  # characters; a test lead's e-mail, an id, a short JSON text
# The longest a status request may be held; a client wanting longer asks again.
MAX_WAIT_S = 60
POLL_EVERY_S = (0.1, 0.2, 0.5, 1.0)  # then every second


class RunRequest(Input):
    variables: dict[
        Annotated[str, Field(pattern=VARIABLE)],
        Annotated[str, Field(max_length=VARIABLE_VALUE_MAX)],
    ] = Field(
        default_factory=dict,
        max_length=MAX_VARIABLES,
        description="Values for some of the scenario's `variables` (names it declares), "
        "used as given in place of its own: literal text, not templates.",
        examples=[{"email": "qa+1234@example.com"}],
    )


def dispatcher(request: Request) -> Iterator[Dispatch]:
    """How a triggered run reaches a worker: a slot of the app's scenario runs,
    429 when none is free (tests override this dependency)."""
    runs: ScenarioRuns = request.app.state.e2e_runs
    with runs.slot() as dispatch:
        yield dispatch


@router.post(
    "/api/integrations/{integration_id}/scenarios/{scenario}/runs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.TriggeredRun,
    dependencies=[limited("e2e_runs")],
    responses={
        202: {
            "headers": {
                "Location": {
                    "description": "The run's status (absolute URL).",
                    "schema": {"type": "string"},
                }
            }
        },
        422: {"description": "A variable the scenario does not declare, or too long."},
        429: {"description": "Over INTMON_LIMIT_E2E_RUNS, or no free slot (Retry-After)."},
    },
)
def trigger_run(
    engine: Db,
    caller: Trigger,
    request: Request,
    response: Response,
    integration_id: str,
    scenario: str,
    dispatch: Annotated[Dispatch, Depends(dispatcher)],
    run: Annotated[RunRequest | None, Body()] = None,
) -> dict[str, Any]:
    """Queue one run of a scenario; wait for it at the returned `url` (`?wait=60`).

    The body is optional: `{"variables": {"email": "qa+1@example.com"}}` runs the
    scenario with those values in place of its own."""
    spec = visible_integration(engine, caller, integration_id)
    found = spec.scenario(scenario)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"{integration_id} has no scenario named {scenario!r}"
        )
    variables = _declared(found, run.variables if run is not None else {})
    run_id = queue_run(engine, spec, found, dispatch, caller.name, variables)
    links = _links(request, run_id)
    response.headers["Location"] = links["url"]
    return {"run_id": run_id, "status": "queued", **links}


def queue_run(
    engine: Engine,
    spec: IntegrationSpec,
    scenario: ScenarioSpec,
    dispatch: Dispatch,
    requested_by: str,
    variables: dict[str, str] | None = None,
) -> str:
    """Record a queued run and hand it to a worker (or a thread of this process); its
    id. The web console's "run scenario" is this too."""
    run_id = new_run_id()
    create_run(
        engine, run_id, spec, scenario, trigger="api", now=db.utcnow(), requested_by=requested_by
    )
    dispatch(Job(spec.id, scenario.name, "api", run_id=run_id, variables=variables or None))
    return run_id


def _declared(scenario: ScenarioSpec, given: dict[str, str]) -> dict[str, str]:
    """`given`, when the scenario declares each name: a value for a variable it does not
    have would be used by nothing, and is most likely a typing error."""
    for name in sorted(given):
        if name not in scenario.variables:
            declared = ", ".join(sorted(scenario.variables)) or "none"
            raise HTTPException(
                422,
                {
                    "field": f"variables.{name}",
                    "message": f"scenario {scenario.name!r} has no variable {name!r} "
                    f"(it declares: {declared})",
                },
            )
    return dict(given)


def _links(request: Request, run_id: str) -> dict[str, str]:
    return {
        "url": absolute(request, f"/api/e2e/runs/{run_id}"),
        "junit_url": absolute(request, f"/api/e2e/runs/{run_id}/junit"),
    }


@router.get("/api/e2e/runs", response_model=list[schemas.Run])
def runs_list(
    engine: Db,
    caller: Caller,
    integration: str | None = None,
    scenario: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    """Runs of the integrations the caller may see, newest first (without reports)."""
    ids = list(visible_integrations(engine, caller))
    if integration is not None:
        ids = [integration] if integration in ids or caller.sees_every_client else []
    scope = ids if integration is not None or not caller.sees_every_client else None
    return list_runs(engine, integration_ids=scope, scenario=scenario, limit=limit)


@router.get("/api/e2e/runs/{run_id}", response_model=schemas.RunDetail)
async def run_detail(
    engine: Db,
    caller: Caller,
    request: Request,
    run_id: str,
    wait: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_WAIT_S,
            description="Hold the answer until the run has ended, for this many seconds "
            f"at most ({MAX_WAIT_S}); the answer says whether it has (`status`).",
        ),
    ] = 0,
) -> dict[str, Any]:
    """The run's status, and its redacted report once it has ended."""
    run = await run_in_threadpool(visible_run, engine, caller, run_id)
    deadline = time.monotonic() + wait
    for pause in _pauses():
        if run["status"] in ENDED or await request.is_disconnected():
            break
        left = deadline - time.monotonic()
        if left <= 0:
            break
        await asyncio.sleep(min(pause, left))
        run = await run_in_threadpool(visible_run, engine, caller, run_id)
    return {**run, **_links(request, run_id)}


def _pauses() -> Iterator[float]:
    yield from POLL_EVERY_S
    while True:
        yield POLL_EVERY_S[-1]


@router.get(
    "/api/e2e/runs/{run_id}/junit",
    response_class=Response,
    responses={
        200: {
            "description": "JUnit XML (one test suite, a test case per step).",
            "content": {"application/xml": {"schema": {"type": "string"}}},
        },
        409: {"description": "The run has not ended yet."},
    },
)
def run_junit(engine: Db, caller: Caller, run_id: str) -> Response:
    """JUnit XML of a finished run; 409 while it is still queued or running."""
    run = visible_run(engine, caller, run_id)
    if not run.get("report"):
        raise HTTPException(status.HTTP_409_CONFLICT, f"run {run_id} is {run['status']}")
    xml = junit_xml([ScenarioReport.from_dict(run["report"])])
    return Response(xml, media_type="application/xml")


def visible_run(engine: Engine, caller: Principal, run_id: str) -> dict[str, Any]:
    """The run if the caller may see it; 404 (the same answer) otherwise."""
    try:
        run = load_run(engine, run_id)
    except RunNotFound:
        run = None
    if run is not None and not caller.sees_every_client:
        with engine.connect() as connection:
            client = connection.execute(
                select(Integration.client).where(Integration.id == run["integration"])
            ).scalar()
        if client != caller.client:
            run = None
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"e2e run {run_id} not found")
    return run


CALLBACK_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such run, or a callback name it does not wait for."},
    410: {"description": "The run has ended."},
}


@router.post(
    "/callbacks/{run_id}/{name}",
    response_model=schemas.CallbackAccepted,
    responses=CALLBACK_ANSWERS,
)
async def callback_post(request: Request, run_id: str, name: str) -> Response:
    """A partner's postback: stored for the waiting run; a repeat is answered 200, ignored."""
    return await _receive(request, run_id, name)


@router.get(
    "/callbacks/{run_id}/{name}",
    response_model=schemas.CallbackAccepted,
    responses=CALLBACK_ANSWERS,
)
async def callback_get(request: Request, run_id: str, name: str) -> Response:
    """The same for partners that call back with GET and query parameters."""
    return await _receive(request, run_id, name)


async def _receive(request: Request, run_id: str, name: str) -> Response:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk[: BODY_CAP_BYTES - len(body)]
        if len(body) >= BODY_CAP_BYTES:
            break
    received = callback_from(
        name,
        request.method,
        bytes(body),
        request.headers.get("content-type", ""),
        dict(request.query_params),
        dict(request.headers),
        SystemClock(),
    )
    engine = request.app.state.engine
    delivery: Delivery = await run_in_threadpool(deliver_callback, engine, run_id, received)
    if delivery.http_status >= 400:  # no such run or callback (404), or the run ended (410)
        detail = f"callback {name!r} of run {run_id}: {delivery.value}"
        return problem(delivery.http_status, detail, callback=delivery.value)
    return JSONResponse({"callback": delivery.value}, status_code=delivery.http_status)
