"""`/api/integrations`: what is watched and how it is doing, running its checks now,
incidents, maintenance windows.

A spec is summarised, never dumped: `auth`, headers, query parameters and
request bodies may name secrets (as `${ENV}` references), so none of them is
returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request, Response, status

from alerts.queries import list_incidents
from core import db
from integrations.config import IntegrationSpec
from integrations.maintenance import (
    MaintenanceError,
    StoredWindow,
    add_window,
    as_view,
    list_windows,
    remove_window,
    replace_window,
)
from integrations.results import current_states, history
from integrations.staleness import CheckId, Freshness, check_freshness, state_rows
from intmon.api.access import Caller, Db, Support, visible_integration, visible_integrations
from intmon.api.auth import Principal
from intmon.api.schemas import integrations as schemas
from intmon.api.strict_json import StrictJsonRoute
from intmon.api.throttle import limited
from intmon.run_now import run_now

router = APIRouter(prefix="/api", tags=["integrations"], route_class=StrictJsonRoute)


def summary(spec: IntegrationSpec) -> dict[str, Any]:
    return {
        "id": spec.id,
        "name": spec.name,
        "kind": spec.kind,
        "client": spec.client,
        "tier": spec.tier,
        "base_url": spec.base_url,
        "enabled": spec.enabled,
        "production": spec.production,
        "interval_s": spec.interval_s,
        "timeout_s": spec.timeout_s,
        "checks": [
            {"name": check.name, "method": check.method, "path": check.path}
            for check in spec.checks
        ],
    }


def with_states(
    engine: Any, spec: IntegrationSpec, fresh: Mapping[CheckId, Freshness]
) -> dict[str, Any]:
    """The summary and each check's state, with whether it went stale and why
    (`integrations.staleness`); a stale check without any result is listed too."""
    mine = {key: value for key, value in fresh.items() if key[0] == spec.id}
    return {**summary(spec), "states": state_rows(current_states(engine, spec.id), mine)}


@router.get("/integrations", response_model=list[schemas.Integration])
def integrations_list(engine: Db, caller: Caller) -> list[dict[str, Any]]:
    """Integrations the caller may see, with the current state of each check."""
    fresh = check_freshness(engine, db.utcnow())
    return [
        with_states(engine, r.spec, fresh) for r in visible_integrations(engine, caller).values()
    ]


@router.get("/integrations/{integration_id}", response_model=schemas.Integration)
def integration_detail(engine: Db, caller: Caller, integration_id: str) -> dict[str, Any]:
    spec = visible_integration(engine, caller, integration_id)
    return with_states(engine, spec, check_freshness(engine, db.utcnow(), spec.id))


@router.get("/integrations/{integration_id}/results", response_model=list[schemas.CheckResult])
def integration_results(
    engine: Db,
    caller: Caller,
    integration_id: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    check: str | None = None,
) -> list[dict[str, Any]]:
    """The latest check results, newest first."""
    visible_integration(engine, caller, integration_id)
    return history(engine, integration_id, check, limit=limit)


@router.post(
    "/integrations/{integration_id}/checks/run",
    summary="Run checks now",
    response_model=schemas.CheckRun,
    dependencies=[limited("checks_run")],
    responses={
        404: {"description": "No such integration (or another client's), or no such check."},
        409: {"description": "The integration is disabled."},
        429: {"description": "Over INTMON_LIMIT_CHECKS_RUN for the caller; see Retry-After."},
    },
)
def integration_run_checks(
    engine: Db,
    caller: Caller,
    request: Request,
    integration_id: str,
    check: Annotated[str | None, Query(description="Run only the check of this name.")] = None,
) -> Any:
    """Run the integration's checks once, now, with the workers' probe engine, and
    record the results as a scheduled run would: streaks move and incidents and
    tickets open or resolve. For support and testers, and for a client token on
    its own integrations. Results are redacted: no secret value appears."""
    spec = visible_integration(engine, caller, integration_id)
    if not spec.enabled:
        raise HTTPException(status.HTTP_409_CONFLICT, f"integration {integration_id} is disabled")
    checks = list(spec.checks)
    if check is not None:
        checks = [c for c in checks if c.name == check]
        if not checks:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"integration {integration_id} has no check {check!r}"
            )
    return run_now(engine, request.app.state.settings, spec, checks).as_dict()


@router.get("/incidents", tags=["incidents"], response_model=list[schemas.Incident])
def incidents_list(
    engine: Db,
    caller: Caller,
    state: str | None = None,
    integration: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Incidents of the integrations the caller may see, newest first."""
    ids = list(visible_integrations(engine, caller))
    if integration is not None:
        ids = [integration] if integration in ids else []
    if caller.sees_every_client and integration is None:
        views = list_incidents(engine, state=state, limit=limit)
    else:
        views = [
            view
            for integration_id in ids
            for view in list_incidents(engine, state=state, integration_id=integration_id)
        ]
        views.sort(key=lambda v: (v.opened_at, v.id), reverse=True)
    return [view.as_dict() for view in views[:limit]]


# --- maintenance windows -------------------------------------------------------------


def window_view(stored: StoredWindow) -> dict[str, Any]:
    return as_view(stored, db.utcnow())


@router.get(
    "/integrations/{integration_id}/maintenance",
    tags=["maintenance"],
    response_model=list[schemas.MaintenanceWindow],
)
def maintenance_list(engine: Db, caller: Caller, integration_id: str) -> list[dict[str, Any]]:
    """Windows from the integrations file (config) and added by support (cli/api)."""
    visible_integration(engine, caller, integration_id)
    return [window_view(stored) for stored in list_windows(engine, [integration_id])]


@router.post(
    "/integrations/{integration_id}/maintenance",
    tags=["maintenance"],
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.MaintenanceWindow,
)
def maintenance_add(
    engine: Db,
    caller: Support,
    integration_id: str,
    window: Annotated[
        dict[str, Any],
        Body(
            description="A `maintenance:` entry as in the integrations file",
            examples=[{"starts_at": "2026-12-01T02:00:00Z", "ends_at": "2026-12-01T04:00:00Z"}],
        ),
    ],
) -> dict[str, Any]:
    """Declare a window (one-off, weekly or cron); 422 names what is wrong with it."""
    visible_integration(engine, caller, integration_id)
    return window_view(add_window(engine, integration_id, window, db.utcnow()))


@router.delete(
    "/integrations/{integration_id}/maintenance/{name}",
    tags=["maintenance"],
    status_code=status.HTTP_204_NO_CONTENT,
)
def maintenance_remove(engine: Db, caller: Support, integration_id: str, name: str) -> Response:
    """Remove a window added from the CLI or API (file windows change with `intmon apply`)."""
    _require_window(engine, caller, integration_id, name)
    try:
        remove_window(engine, integration_id, name)
    except MaintenanceError as error:  # declared in the file: a conflict, not bad input
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/integrations/{integration_id}/maintenance/{name}",
    tags=["maintenance"],
    response_model=schemas.MaintenanceWindow,
)
def maintenance_replace(
    engine: Db,
    caller: Support,
    integration_id: str,
    name: str,
    window: Annotated[dict[str, Any], Body(description="The window's new definition")],
) -> dict[str, Any]:
    """Change a window added from the CLI or API; its name stays. 422 names what is
    wrong with the new definition; a window from the integrations file is 409."""
    _require_window(engine, caller, integration_id, name)
    if any(s.name == name and s.source == "config" for s in list_windows(engine, [integration_id])):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"window {name!r} of {integration_id} is declared in the integrations file",
        )
    return window_view(replace_window(engine, integration_id, name, window, db.utcnow()))


def _require_window(engine: Any, caller: Principal, integration_id: str, name: str) -> None:
    visible_integration(engine, caller, integration_id)
    if not any(s.name == name for s in list_windows(engine, [integration_id])):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"{integration_id} has no maintenance window named {name!r}"
        )
