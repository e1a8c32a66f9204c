"""`GET /api/uptime` and `GET /api/reports/monthly`: history from rollups.

A client token sees its own integrations only: asking for another client's
integration (or report) answers 404 exactly like one that does not exist.

The monthly report's printable page (`format=html`) is in English or Russian:
`?lang=`, else the request's Accept-Language (the console's rule,
`intmon.languages`), else English. JSON and CSV are for machines: their keys, column
names and values (`auth`, `delivered`) are identifiers and stay as they are.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from alerts.monthly_report import UnknownClient, monthly_report
from core import db
from integrations.periods import period
from integrations.slo import uptime_summary
from intmon.api.access import Db, TicketReader, visible_integrations
from intmon.api.problems import problem
from intmon.api.schemas.history import MonthlyReport
from intmon.languages import DEFAULT, from_accept_language
from intmon.report_monthly import render_csv

router = APIRouter(prefix="/api", tags=["history"])

# The report page is self-contained (its CSS inline) and loads nothing.
REPORT_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class UptimeRow(BaseModel):
    integration: str
    check: str | None
    total: int
    up: int
    down: int
    maintenance: int
    inhibited: int
    ratio: float | None
    # 24h / 7d / 30d up to now, when no period was asked for.
    windows: dict[str, float | None] | None = None


class UptimeAnswer(BaseModel):
    start: datetime
    end: datetime
    rows: list[UptimeRow]


@router.get(
    "/uptime",
    response_model=UptimeAnswer,
    summary="Availability per integration or check (maintenance and platform outages not counted)",
)
async def uptime(
    engine: Db,
    caller: TicketReader,
    integration: Annotated[list[str] | None, Query(description="Repeatable; default all.")] = None,
    from_: Annotated[
        str | None, Query(alias="from", description="ISO date or time; default 30 days ago.")
    ] = None,
    to: Annotated[str | None, Query(description="End, exclusive; default now.")] = None,
    per_check: bool = False,
) -> Any:
    now = db.utcnow()
    try:
        start, end = period(from_, to, now, timedelta(days=30))
    except ValueError as error:
        field = str(error).split(":", 1)[0]
        return problem(422, str(error), field=field)
    visible = visible_integrations(engine, caller)
    for wanted in integration or []:
        if wanted not in visible:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"integration {wanted} not found")
    ids = integration or sorted(visible)
    rows = await run_in_threadpool(
        uptime_summary,
        engine,
        now,
        start,
        end,
        integration_ids=ids,
        per_check=per_check,
        windows=from_ is None and to is None,
    )
    return UptimeAnswer(start=start, end=end, rows=[UptimeRow.model_validate(r) for r in rows])


@router.get(
    "/reports/monthly",
    summary="A client's month: availability, maintenance, incidents, lead liability",
    response_model=MonthlyReport,
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
            }
        }
    },
)
async def reports_monthly(
    request: Request,
    engine: Db,
    caller: TicketReader,
    month: Annotated[str, Query(description="YYYY-MM, e.g. 2026-11.")],
    client: Annotated[
        str | None, Query(description="The client; a client token may leave it out.")
    ] = None,
    format: Annotated[Literal["json", "csv", "html"], Query()] = "json",
    lang: Annotated[
        Literal["en", "ru"] | None,
        Query(description="The printable page's language; default: Accept-Language, else en."),
    ] = None,
    accept_language: Annotated[str, Header(include_in_schema=False)] = "",
) -> Any:
    wanted = client or caller.client
    if wanted is None:
        return problem(422, "client: name the client whose report this is", field="client")
    if not caller.sees_client(wanted):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"client {wanted} not found")
    try:
        report = await run_in_threadpool(monthly_report, engine, wanted, month, db.utcnow())
    except UnknownClient as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"client {wanted} not found") from error
    except ValueError as error:
        return problem(422, str(error), field=str(error).split(":", 1)[0])
    if format == "csv":
        name = f"intmon-{wanted}-{month}.csv"
        return Response(
            render_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={**REPORT_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
        )
    if format == "html":
        language = lang or from_accept_language(accept_language) or DEFAULT
        page = request.app.state.printable_report(report, language)
        return HTMLResponse(page, headers={**REPORT_HEADERS, "Content-Language": language})
    return report.as_dict()  # checked against MonthlyReport on the way out
