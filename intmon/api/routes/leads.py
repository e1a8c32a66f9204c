"""`/api/leads`, `/api/lead-deliveries`, `/api/leads/report` and change notices.

A client token may submit, record and report only for its own integrations;
anything else is 404, as everywhere. A refused batch is 422 naming the lead's
index and field (`leads[2].fields.email`), and nothing of it is stored.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from alerts.lead_metrics import publish
from alerts.lead_report import build_report
from core import db
from integrations.leads import ledger
from integrations.leads.flow import verdicts
from integrations.leads.notices import (
    NoticeError,
    add_notice,
    list_notices,
    remove_notice,
    replace_notice,
)
from integrations.strict import StorableDatetime
from intmon.api.access import (
    Caller,
    Db,
    Support,
    require,
    visible_integration,
    visible_integrations,
)
from intmon.api.auth import Principal
from intmon.api.fields import ID_MAX, TEXT_MAX, Input
from intmon.api.problems import problem
from intmon.api.schemas import leads as schemas
from intmon.api.strict_json import StrictJsonRoute
from intmon.api.throttle import limited

router = APIRouter(prefix="/api", tags=["leads"], route_class=StrictJsonRoute)
# Real leads come from the platform: support or a client token, never a tester's.
LeadSender = Annotated[Principal, Depends(require("support", "client"))]


class LeadBatch(BaseModel):
    leads: list[ledger.LeadIn] = Field(min_length=1, max_length=10_000)


class AttemptBatch(BaseModel):
    attempts: list[ledger.AttemptIn] = Field(min_length=1, max_length=50_000)


class NoticeIn(Input):
    id: str = Field(
        min_length=1,
        max_length=ID_MAX,
        description="A name for the notice, unique per integration.",
    )
    announced_at: StorableDatetime
    effective_at: StorableDatetime
    description: str = Field(max_length=TEXT_MAX)
    breaking: bool = True


def _refused(error: ledger.LeadError, name: str) -> Response:
    errors = [
        {"field": f"{name}[{index}].{field}", "in": "body", "message": message}
        for index, field, message in error.problems
    ]
    return problem(422, str(error), errors=errors)


def _notice_error(error: NoticeError) -> dict[str, str]:
    """NoticeError's message starts with the field it refuses ("effective_at: …")."""
    return {"field": str(error).split(":", 1)[0], "in": "body", "message": str(error)}


def _own(engine: Any, caller: Any, ids: set[str]) -> None:
    visible = visible_integrations(engine, caller)
    for integration_id in sorted(ids):
        if integration_id not in visible:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"integration {integration_id} not found"
            )


@router.post(
    "/leads",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Hand leads to intmon",
    response_model=schemas.Accepted,
    dependencies=[limited("leads")],
    responses={429: {"description": "Over INTMON_LIMIT_LEADS for the caller; see Retry-After."}},
)
def leads_submit(engine: Db, caller: LeadSender, batch: LeadBatch) -> Any:
    """Queue leads for delivery to their integrations' brokers. Idempotent on
    (integration, lead id): a lead sent twice is stored once (`duplicates`)."""
    _own(engine, caller, {lead.integration for lead in batch.leads})
    specs = {i: r.spec for i, r in visible_integrations(engine, caller).items()}
    try:
        return ledger.submit(engine, batch.leads, specs, db.utcnow()).as_dict()
    except ledger.LeadError as error:
        return _refused(error, "leads")


@router.post(
    "/lead-deliveries",
    status_code=status.HTTP_201_CREATED,
    summary="Record delivery attempts",
    response_model=schemas.Accepted,
    dependencies=[limited("lead_deliveries")],
    responses={429: {"description": "Over INTMON_LIMIT_LEAD_DELIVERIES; see Retry-After."}},
)
def deliveries_record(engine: Db, caller: LeadSender, batch: AttemptBatch) -> Any:
    """Record attempts the platform made itself, for the ledger and the liability
    report. Idempotent on (integration, lead id, attempt, outcome)."""
    _own(engine, caller, {attempt.integration for attempt in batch.attempts})
    try:
        done = ledger.record(engine, batch.attempts, set(visible_integrations(engine, caller)))
    except ledger.LeadError as error:
        return _refused(error, "attempts")
    stored = set(done.stored)  # a report sent twice is counted once
    publish(
        engine,
        [
            (a.integration, a.lead_id, a.outcome.value)
            for a in batch.attempts
            if a.lead_id in stored
        ],
    )
    return done.as_dict()


@router.get(
    "/leads/report", summary="Lead outcomes and liability", response_model=schemas.LeadReport
)
def leads_report(
    engine: Db,
    caller: Caller,
    integration: Annotated[list[str] | None, Query(description="Repeatable; default all.")] = None,
    from_: Annotated[StorableDatetime | None, Query(alias="from")] = None,
    to: Annotated[StorableDatetime | None, Query()] = None,
) -> Any:
    """Delivered, failed, held, expired; who is liable for each lead not delivered, with
    the evidence ids (maintenance window, change notice, incident, attempts)."""
    visible = sorted(visible_integrations(engine, caller))
    if integration:
        _own(engine, caller, set(integration))
    now = db.utcnow()
    start, end = from_ or now - timedelta(days=7), to or now + timedelta(seconds=1)
    for name, moment in (("from", start), ("to", end)):
        if moment.tzinfo is None:
            raise HTTPException(422, {"field": name, "message": "give a time zone offset"})
    return build_report(engine, integration or visible, start, end).as_dict()


@router.get(
    "/leads/flow",
    summary="Lead acceptance and delivery time against the broker's usual",
    response_model=list[schemas.LeadFlow],
)
def leads_flow(
    engine: Db,
    caller: Caller,
    integration: Annotated[
        list[str] | None, Query(description="Repeatable; default all with lead_flow.")
    ] = None,
    at: Annotated[StorableDatetime | None, Query(description="Window end; default now.")] = None,
) -> Any:
    """The last `window_s` of each broker with a `lead_flow` block against the same hours
    of the past weeks: acceptance, median delivery time, top rejection reasons."""
    visible = visible_integrations(engine, caller)
    if integration:
        _own(engine, caller, set(integration))
    if at is not None and at.tzinfo is None:
        raise HTTPException(422, {"field": "at", "message": "give a time zone offset"})
    chosen = [visible[key].spec for key in (integration or visible) if key in visible]
    return [v.as_dict() for v in verdicts(engine, chosen, at or db.utcnow())]


@router.get(
    "/integrations/{integration_id}/notices",
    tags=["change notices"],
    response_model=list[schemas.Notice],
)
def notices_list(engine: Db, caller: Caller, integration_id: str) -> list[dict[str, Any]]:
    """The broker's change notices with their lead time."""
    visible_integration(engine, caller, integration_id)
    return [n.as_dict() for n in list_notices(engine, [integration_id])]


@router.post(
    "/integrations/{integration_id}/notices",
    tags=["change notices"],
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Notice,
)
def notices_add(engine: Db, _caller: Support, integration_id: str, notice: NoticeIn) -> Any:
    """Record a change notice (support only)."""
    try:
        stored = add_notice(
            engine, integration_id, notice.model_dump(mode="json"), db.utcnow(), source="api"
        )
    except NoticeError as error:
        return problem(422, str(error), errors=[_notice_error(error)])
    return stored.as_dict()


@router.put(
    "/integrations/{integration_id}/notices/{name}",
    tags=["change notices"],
    response_model=schemas.Notice,
)
def notices_replace(
    engine: Db, _caller: Support, integration_id: str, name: str, notice: NoticeIn
) -> Any:
    """Correct a notice added through the CLI or API (support only); one from the
    integrations file is 422 (it changes with the file)."""
    try:
        return replace_notice(
            engine, integration_id, name, notice.model_dump(mode="json")
        ).as_dict()
    except NoticeError as error:
        text = str(error)
        code = (
            404 if "has no change notice" in text else 409 if "integrations file" in text else 422
        )
        return problem(code, text, errors=[_notice_error(error)] if code == 422 else ())


@router.delete(
    "/integrations/{integration_id}/notices/{name}",
    tags=["change notices"],
    status_code=status.HTTP_204_NO_CONTENT,
)
def notices_remove(engine: Db, _caller: Support, integration_id: str, name: str) -> None:
    try:
        remove_notice(engine, integration_id, name)
    except NoticeError as error:  # missing: 404; declared in the file: a conflict
        missing = "has no change notice" in str(error)
        raise HTTPException(404 if missing else 409, str(error)) from None
