"""`POST /api/results/import`: support backfills past check results (alerts.backfill)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from starlette.concurrency import run_in_threadpool

from alerts.backfill import backfill
from alerts.errors import BackfillError
from alerts.policy import policy_of
from core import db
from integrations.registry import load_specs
from intmon.api.access import Support
from intmon.api.problems import problem
from intmon.api.schemas.service import Backfill

router = APIRouter(prefix="/api/results", tags=["results"])
MAX_BODY_BYTES = 16 * 1024 * 1024


@router.post(
    "/import",
    status_code=status.HTTP_201_CREATED,
    summary="Backfill past check results (support only)",
    response_model=Backfill,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            "description": 'One result per line: {"integration", "check", "started_at", '
            '"outcome", "duration_s"?, "http_status"?, "detail"?, "response_excerpt"?}.',
        }
    },
    responses={422: {"description": "The file was refused whole; `problems` name each line."}},
)
async def results_import(request: Request, _caller: Support) -> Any:
    """Store past results through the worker's own intake, in the order they ran:
    incidents, streaks and maintenance flags come out as they would have then.
    Nobody is notified. One bad line refuses the whole file."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return problem(413, f"the file is over {MAX_BODY_BYTES // (1024 * 1024)} MiB; split it")
    text = body.decode("utf-8", errors="replace")
    engine, settings = request.app.state.engine, request.app.state.settings
    try:
        report = await run_in_threadpool(_import, engine, settings, text)
    except BackfillError as error:
        problems = [{"line": line, "message": message} for line, message in error.problems]
        return problem(422, "refused: no result was stored", problems=problems)
    return report


def _import(engine: Any, settings: Any, text: str) -> dict[str, Any]:
    specs = {i: r.spec for i, r in load_specs(engine).items()}
    report = backfill(engine, text.splitlines(), specs, policy_of(settings), db.utcnow())
    return report.as_dict()
