"""`/e2e/runs/{run_id}`: one end-to-end scenario run at the console — its status
while it is queued or running (the page refreshes itself), then its steps, with
links to the report (JSON) and the JUnit XML a CI server reads.

The integration is shown by its name (its id beside it, small), as on the board.
Read through the API's own rule (`intmon.api.routes.e2e.visible_run`): support
sees every run, a client the runs of its own integrations; any other run is
"not found". The report is the stored one, redacted when the run wrote it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, select

from checks.scenarios.junit import junit_xml
from checks.scenarios.report import ScenarioReport
from integrations.e2e_store import ENDED
from integrations.models import Integration
from intmon.api.routes.e2e import visible_run
from intmon.headers import SECURITY_HEADERS
from intmon.web.errors import PageError
from intmon.web.i18n import Translator, language_of
from intmon.web.render import page
from intmon.web.session import Account, engine_of
from intmon.web.users import WebAccount

router = APIRouter(include_in_schema=False)


def _run(request: Request, account: WebAccount, run_id: str) -> dict[str, Any]:
    try:
        return visible_run(engine_of(request), account.principal, run_id)
    except HTTPException:
        detail = Translator(language_of(request))("missing.run", reference=run_id)
        raise PageError(404, "error.not_found", detail=detail) from None


def _integration_name(engine: Engine, integration_id: str) -> str:
    """The integration's name; a removed one keeps its row, so its runs keep their name."""
    with engine.connect() as connection:
        name = connection.execute(
            select(Integration.name).where(Integration.id == integration_id)
        ).scalar()
    return name or integration_id


def _report(request: Request, run: dict[str, Any]) -> dict[str, Any]:
    """The run's report; a 409 page while the run has not ended."""
    if not run.get("report"):
        raise PageError(409, "run.not_ended")
    report: dict[str, Any] = run["report"]
    return report


@router.get("/e2e/runs/{run_id}")
def run_page(request: Request, account: Account, run_id: str) -> Response:
    run = _run(request, account, run_id)
    ended = run["status"] in ENDED
    return page(
        request,
        "e2e_run.html",
        account=account,
        refresh=not ended,
        run=run,
        integration_name=_integration_name(engine_of(request), run["integration"]),
        ended=ended,
        report=run.get("report") or {},
    )


@router.get("/e2e/runs/{run_id}/report")
def run_report(request: Request, account: Account, run_id: str) -> Response:
    report = _report(request, _run(request, account, run_id))
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'inline; filename="{run_id}.json"'}
    return JSONResponse(report, headers=headers)


@router.get("/e2e/runs/{run_id}/junit")
def run_junit(request: Request, account: Account, run_id: str) -> Response:
    report = _report(request, _run(request, account, run_id))
    xml = junit_xml([ScenarioReport.from_dict(report)])
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'inline; filename="{run_id}.xml"'}
    return Response(xml, media_type="application/xml", headers=headers)
