"""`/api/tickets`: the support queue, a ticket's thread, and the changes people make to it.

Support sees every ticket with internal comments; a client token sees its own
client's tickets without them, and any other ticket is "not found". Status and
section changes are support's; the lifecycle rules (which transitions, when the
section may still change) are enforced by `alerts.tickets`, not here.

The list is read in keyset pages (`alerts.ticket_pages`). A page stays a JSON
array, like every other list of this API, and says where the next one is in
headers (`X-Next-Cursor`, and `Link: <…>; rel="next"` as GitHub's API does), so
callers that read one page keep working unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Path, Query, Request, Response, UploadFile, status
from pydantic import Field
from sqlalchemy import Connection, Engine

from alerts import attachments, documents, manual_tickets, tickets
from alerts.attachments import Upload
from alerts.errors import InvalidTicketInput, TicketNotFound
from alerts.manual_tickets import FilledForm
from alerts.policy import policy_of
from alerts.queries import ticket_detail, ticket_page
from alerts.ticket_forms import forms_of
from alerts.ticket_pages import TicketFilter
from alerts.tickets import Actor
from core import db
from integrations.strict import StorableDatetime
from intmon.api.access import Db, TicketReader, visible_ticket
from intmon.api.auth import Principal
from intmon.api.fields import (
    ID_MAX,
    REASON_MAX,
    SECTION_MAX,
    STATUS_MAX,
    TEXT_MAX,
    TOPIC_MAX,
    Input,
)
from intmon.api.links import absolute
from intmon.api.schemas import tickets as schemas
from intmon.api.strict_json import StrictJsonRoute, validated
from intmon.api.ticket_input import request_body, ticket_values

router = APIRouter(prefix="/api/tickets", tags=["tickets"], route_class=StrictJsonRoute)


FieldValue = Annotated[str, Field(max_length=TEXT_MAX)] | int | float


class NewTicket(Input):
    section: str = Field(
        default="",
        max_length=SECTION_MAX,
        description="system_errors, app_help or documents_finance; "
        "required unless `category` gives it.",
    )
    subtype: str | None = Field(
        default=None, max_length=ID_MAX, description="Required for documents_finance."
    )
    topic: str = Field(min_length=1, max_length=TOPIC_MAX)
    body: str = Field(
        min_length=1,
        max_length=TEXT_MAX,
        description="The question or problem (form.description).",
    )
    integration: str | None = Field(default=None, max_length=ID_MAX)
    client: str | None = Field(
        default=None, max_length=ID_MAX, description="Support only; a client files its own."
    )
    tier: Literal["social", "standard", "premium"] | None = Field(
        default=None, description="Support only; default: the integration's tier, else standard."
    )
    category: str | None = Field(
        default=None,
        max_length=ID_MAX,
        description="Seed 001's form: a category of `ticket_forms` (it gives the section).",
    )
    topic_id: str | None = Field(
        default=None,
        max_length=ID_MAX,
        description="A topic of the category (it gives the subtype); required with `category`.",
    )
    fields: dict[Annotated[str, Field(max_length=ID_MAX)], FieldValue] | None = Field(
        default=None,
        max_length=50,
        description="The topic's fields by name, checked against its form (422 names "
        "the field as `fields.<name>`).",
    )


class NewComment(Input):
    body: str = Field(min_length=1, max_length=TEXT_MAX)
    internal: bool = Field(default=False, description="Support only: hidden from the client.")
    keep_working: bool = Field(
        default=False,
        description="Support: the answer keeps the ticket in progress instead of moving it "
        "to waiting for the client's reply.",
    )


class StatusChange(Input):
    status: str = Field(
        max_length=STATUS_MAX,
        description="open, in_progress, waiting_for_reply, closed or rejected",
    )
    reason: str | None = Field(
        default=None, max_length=REASON_MAX, description="Why it was closed or rejected."
    )


class SectionChange(Input):
    section: str = Field(max_length=SECTION_MAX)
    subtype: str | None = Field(default=None, max_length=ID_MAX)
    reason: str | None = Field(
        default=None,
        max_length=REASON_MAX,
        description="Required once work on the ticket started; told in a comment.",
    )


def _policy(request: Request) -> Any:
    return policy_of(request.app.state.settings)


def _detail(engine: Engine, caller: Principal, reference: str | int, request: Request) -> Any:
    detail = ticket_detail(
        engine,
        reference,
        include_internal=caller.is_support,
        policy=_policy(request),
        now=db.utcnow(),
    )
    return {**detail.as_dict(), "url": ticket_url(request, detail.ticket.number)}


def ticket_url(request: Request, number: str) -> str:
    return absolute(request, f"/api/tickets/{number}")


NEXT_CURSOR = "X-Next-Cursor"
PAGE_HEADERS = {
    NEXT_CURSOR: {
        "description": "Send it back as `cursor` for the next page; absent on the last page.",
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'The next page\'s URL as `<…>; rel="next"` (RFC 8288), when there is one.',
        "schema": {"type": "string"},
    },
}
LOCATION = {"description": "The new ticket (absolute URL).", "schema": {"type": "string"}}


@router.get(
    "",
    summary="List tickets (queue order, keyset pages)",
    response_model=list[schemas.Ticket],
    responses={
        200: {"headers": PAGE_HEADERS},
        422: {"description": "A filter or the cursor is invalid (`field` names it)."},
    },
)
def tickets_list(
    engine: Db,
    caller: TicketReader,
    request: Request,
    response: Response,
    status: Annotated[
        str | None, Query(description="open, in_progress, waiting_for_reply, closed or rejected")
    ] = None,
    section: Annotated[
        str | None, Query(description="system_errors, app_help or documents_finance")
    ] = None,
    integration: Annotated[str | None, Query(description="An integration id.")] = None,
    created_from: Annotated[
        StorableDatetime | None, Query(description="Created at or after (ISO 8601 with offset).")
    ] = None,
    created_to: Annotated[
        StorableDatetime | None, Query(description="Created before (ISO 8601 with offset).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Tickets per page.")] = 200,
    cursor: Annotated[
        str | None,
        Query(description=f"From the previous page's `{NEXT_CURSOR}` header; same filters."),
    ] = None,
) -> list[dict[str, Any]]:
    """Tickets in queue order: active ones by first-response deadline then arrival,
    then finished ones newest first. A client token lists its own client's only.

    Pages are read by keyset, so a deep page is as fast as the first: when more
    follow, the `X-Next-Cursor` and `Link` headers say how to get the next one."""
    filters = TicketFilter(
        status=status,
        section=section,
        client=None if caller.sees_every_client else caller.client,
        integration_id=integration,
        created_from=created_from,
        created_to=created_to,
    )
    page = ticket_page(
        engine, filters, limit=limit, cursor=cursor, policy=_policy(request), now=db.utcnow()
    )
    if page.next_cursor is not None:
        response.headers[NEXT_CURSOR] = page.next_cursor
        following = request.url.include_query_params(cursor=page.next_cursor)
        link = absolute(request, f"{router.prefix}?{following.query}")
        response.headers["Link"] = f'<{link}>; rel="next"'
    return [{**view.as_dict(), "url": ticket_url(request, view.number)} for view in page.items]


@router.get("/{number}", response_model=schemas.TicketDetail)
def ticket_show(engine: Db, caller: TicketReader, request: Request, number: str) -> Any:
    """One ticket with its form, comments, history and incidents."""
    with engine.connect() as connection:
        visible_ticket(connection, caller, number)
    return _detail(engine, caller, number, request)


async def _new_ticket(request: Request) -> tuple[NewTicket, list[Upload]]:
    values, uploads = await ticket_values(request)
    return validated(NewTicket, values), uploads


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.TicketDetail,
    responses={
        201: {"headers": {"Location": LOCATION}},
        400: {"description": "A multipart body that cannot be read, or has too many parts."},
        413: {"description": "The request is larger than the API takes."},
        415: {"description": "Neither JSON nor a form."},
        422: {
            "description": "A field is refused (`field` names it: `topic`, "
            "`fields.chat_id`, `attachments` for a file too large, too many or not "
            "an accepted type); nothing is filed."
        },
    },
    openapi_extra={"requestBody": request_body(NewTicket.model_json_schema())},
)
def ticket_create(
    engine: Db,
    caller: TicketReader,
    request: Request,
    response: Response,
    sent: Annotated[tuple[NewTicket, list[Upload]], Depends(_new_ticket)],
) -> Any:
    """Open a ticket by hand; a client token opens it for its own client.

    Send JSON, or `multipart/form-data` to attach files in the same call: the same
    fields as form parts (a topic field `x` as `fields.x`), the files as parts named
    `files`, checked as `…/attachments` checks them. A refused file files nothing."""
    ticket, files = sent
    ticket_id = file_ticket(engine, caller, ticket, _policy(request), files=files)
    created = _detail(engine, caller, ticket_id, request)
    response.headers["Location"] = created["url"]
    return created


@router.post(
    "/{number}/comments", status_code=status.HTTP_201_CREATED, response_model=schemas.TicketDetail
)
def ticket_comment(
    engine: Db, caller: TicketReader, request: Request, number: str, comment: NewComment
) -> Any:
    """Add a comment; a client's is always public (internal=true is refused)."""
    with engine.begin() as connection:
        row = visible_ticket(connection, caller, number)
        tickets.comment(
            connection,
            row.id,
            body=comment.body,
            actor=Actor(caller.role, caller.name),
            now=db.utcnow(),
            visibility="internal" if comment.internal else "public",
            policy=_policy(request),
            awaiting_client=not comment.keep_working,
        )
    return _detail(engine, caller, number, request)


@router.post("/{number}/status", response_model=schemas.TicketDetail)
def ticket_status(
    engine: Db, caller: TicketReader, request: Request, number: str, change: StatusChange
) -> Any:
    """Support only: move the ticket along its lifecycle; a move it does not allow is 409."""
    with engine.begin() as connection:
        row = visible_ticket(connection, caller, number, support_only=True)
        tickets.set_status(
            connection,
            row.id,
            change.status,
            actor=Actor("support", caller.name),
            now=db.utcnow(),
            reason=change.reason,
            policy=_policy(request),
        )
    return _detail(engine, caller, number, request)


@router.post("/{number}/section", response_model=schemas.TicketDetail)
def ticket_section(
    engine: Db, caller: TicketReader, request: Request, number: str, change: SectionChange
) -> Any:
    """Support only: re-file the ticket while it is open and unanswered (422 otherwise)."""
    with engine.begin() as connection:
        row = visible_ticket(connection, caller, number, support_only=True)
        tickets.set_section(
            connection,
            row.id,
            change.section,
            subtype=change.subtype,
            actor=Actor("support", caller.name),
            now=db.utcnow(),
            reason=change.reason,
        )
    return _detail(engine, caller, number, request)


ATTACHMENT_FILE = {
    "description": "The file's bytes, with the type recognised from them when it was "
    "attached (always as a download: `Content-Disposition: attachment`).",
    "content": {
        media: {"schema": {"type": "string", "format": "binary"}}
        for media in sorted({t.split(";")[0] for t in attachments.CONTENT_TYPES.values()})
        if media != "application/json"
    }
    # A JSON file is the client's data, not an answer of this API: any JSON.
    | {"application/json": {"schema": {"description": "The JSON file as attached."}}},
}


@router.post(
    "/{number}/attachments",
    status_code=status.HTTP_201_CREATED,
    response_model=list[schemas.Attachment],
    responses={
        413: {"description": "The request is larger than the API takes."},
        422: {
            "description": "A file is refused (`field`: attachments): too large, too "
            "many, or not an accepted type (executables, scripts, archives never are)."
        },
    },
)
def ticket_attach(
    engine: Db,
    caller: TicketReader,
    request: Request,
    number: str,
    files: Annotated[list[UploadFile], File(description="png, jpeg, gif, webp, pdf, text, json")],
) -> Any:
    """Attach files to the ticket (multipart, field `files`); its client and support may."""
    uploads = [Upload(upload.filename or "", upload.file.read()) for upload in files]
    limits = forms_of(documents.load(engine, documents.TICKET_FORMS)).attachments
    with engine.begin() as connection:
        row = visible_ticket(connection, caller, number)
        ids = attachments.attach(
            connection,
            row.id,
            uploads,
            limits=limits,
            actor=Actor(caller.role, caller.name),
            now=db.utcnow(),
        )
        listed = attachments.listed(connection, row.id, include_internal=caller.is_support)
    return [a.as_dict() for a in listed if a.id in ids]


@router.get(
    "/{number}/attachments/{attachment_id}",
    response_class=Response,
    responses={200: ATTACHMENT_FILE, 404: {"description": "No such file on a ticket you see."}},
)
def ticket_attachment(
    engine: Db,
    caller: TicketReader,
    number: str,
    attachment_id: Annotated[str, Path(max_length=40, description="The file's id.")],
) -> Response:
    """Download one of the ticket's files: only its client and support (404 otherwise,
    as for an id that names no file: the answer tells nothing of what exists)."""
    with engine.connect() as connection:
        row = visible_ticket(connection, caller, number)
        found = None
        if attachment_id.isdigit() and len(attachment_id) <= 18:
            found = attachments.content_of(
                connection, row.id, int(attachment_id), include_internal=caller.is_support
            )
    if found is None:
        raise TicketNotFound(f"{number} attachment {attachment_id}")
    return attachment_response(*found)


def attachment_response(name: str, content_type: str, content: bytes) -> Response:
    """The answer that hands a stored file over: always as a download, never shown
    in the page (a text file holding HTML stays text), with the stored type."""
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return Response(
        content,
        media_type=content_type,
        headers={
            "Content-Disposition": disposition,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


def file_ticket(
    engine: Engine,
    caller: Principal,
    ticket: NewTicket,
    policy: Any,
    *,
    form: FilledForm | None = None,
    files: Sequence[Upload] = (),
    staged: Callable[[Connection], Sequence[Upload]] | None = None,
) -> int:
    """Open a hand-made ticket as `caller`, with its files; InvalidTicketInput names a
    field it refuses. `form`: seed 001's form when the caller read it already (the
    console), else the one `ticket.category` names. `staged`: files kept from an
    earlier showing of the console's form, claimed in the ticket's transaction."""
    if caller.role == "client":
        if ticket.client not in (None, caller.client):
            raise InvalidTicketInput("client", "a client token files tickets for its own client")
        if ticket.tier is not None:
            raise InvalidTicketInput("tier", "the tier is set by support")
    forms = forms_of(documents.load(engine, documents.TICKET_FORMS))
    if form is None and ticket.category is not None:
        form = FilledForm(forms, ticket.category, ticket.topic_id, dict(ticket.fields or {}))
    elif form is None and (ticket.topic_id is not None or ticket.fields is not None):
        raise InvalidTicketInput("category", "required with topic_id or fields")
    elif form is None and not ticket.section:
        raise InvalidTicketInput("section", "required when no category is given")
    actor = Actor(caller.role, caller.name)
    now = db.utcnow()
    with engine.begin() as connection:
        ticket_id = manual_tickets.file(
            connection,
            client=caller.client if caller.role == "client" else ticket.client,
            integration_id=ticket.integration,
            section=ticket.section,
            subtype=ticket.subtype,
            topic=ticket.topic,
            body=ticket.body,
            actor=actor,
            now=now,
            policy=policy,
            tier=ticket.tier,
            sees=caller.sees_client,
            form=form,
        )
        kept = list(staged(connection)) if staged is not None else []
        attachments.attach(
            connection,
            ticket_id,
            [*kept, *files],
            limits=forms.attachments,
            actor=actor,
            now=now,
        )
    return ticket_id
