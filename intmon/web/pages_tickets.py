"""`/tickets`: the help pages of seed 004 — the ticket list with filters, creating a
ticket, a ticket's thread and history, and answering it.

Everything goes through the functions the API uses (`alerts.queries`,
`alerts.tickets`, the API's `file_ticket`) and its visibility rule
(`visible_ticket`): a client sees their own client's tickets without internal
notes, and any other ticket is "not found". Support also changes the status and
the question type; the domain decides whether that is allowed, and its refusal
is shown on the form with the field it names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy import Connection

from alerts import attachments, documents, manual_tickets, tickets
from alerts.errors import InvalidFormFields, InvalidTicketInput, InvalidTransition, TicketNotFound
from alerts.escalation import acknowledgements
from alerts.manual_tickets import FilledForm
from alerts.policy import policy_of
from alerts.queries import list_tickets, ticket_detail
from alerts.ticket_forms import TicketFormsConfig, Topic, forms_of
from alerts.tickets import SUBTYPES, TIERS, TRANSITIONS, Actor, Section, Status, ticket_number
from core import db
from integrations.strict import storable_moment
from intmon.api.access import visible_integrations, visible_ticket
from intmon.api.routes.tickets import (
    NewComment,
    NewTicket,
    SectionChange,
    StatusChange,
    attachment_response,
    file_ticket,
)
from intmon.web import staged_uploads, ticket_view
from intmon.web.errors import PageError
from intmon.web.i18n import Translator, language_of, zone_of
from intmon.web.refusals import refusal
from intmon.web.render import page, redirect
from intmon.web.session import Account, Form, UploadForm, engine_of
from intmon.web.session_store import key_hash
from intmon.web.users import WebAccount

router = APIRouter(include_in_schema=False)

STATUSES = [s.value for s in Status]
SECTIONS = [s.value for s in Section]
ALL_SUBTYPES = [subtype for subtypes in SUBTYPES.values() for subtype in subtypes]
FILTERS = ("status", "section", "integration", "client", "created_from", "created_to", "order")


def _t(request: Request) -> Translator:
    return Translator(language_of(request), zone_of(request))


def _policy(request: Request) -> Any:
    return policy_of(request.app.state.settings)


def _integrations(request: Request, account: WebAccount) -> dict[str, str]:
    visible = visible_integrations(engine_of(request), account.principal)
    return {i: r.spec.name for i, r in visible.items()}


# --- the list ----------------------------------------------------------------------------


def _day(field: str, value: str, after: bool) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidTicketInput(field, f"{value!r} is not a date (YYYY-MM-DD)") from None
    start = datetime.combine(day, time(0), UTC)
    try:
        # "to" includes that whole day; the day after 9999-12-31 is out of range.
        return storable_moment(start + timedelta(days=1) if after else start)
    except (OverflowError, ValueError) as error:
        raise InvalidTicketInput(field, str(error)) from None


@router.get("/tickets")
def ticket_list(request: Request, account: Account) -> Response:
    filters = {name: request.query_params.get(name, "").strip() for name in FILTERS}
    if account.role != "support":
        filters["client"] = ""
    errors: dict[str, str] = {}
    views: list[Any] = []
    try:
        views = list_tickets(
            engine_of(request),
            status=filters["status"] or None,
            section=filters["section"] or None,
            integration_id=filters["integration"] or None,
            client=account.client if account.role != "support" else filters["client"] or None,
            created_from=_day("created_from", filters["created_from"], after=False),
            created_to=_day("created_to", filters["created_to"], after=True),
            policy=_policy(request),
            now=db.utcnow(),
            # Seed 003: in order of arrival; by the first-response deadline on request.
            order=filters["order"] or "arrival",
        )
    except InvalidTicketInput as error:
        errors = refusal(error, _t(request), "form")
    integrations = _integrations(request, account)
    words = _t(request)
    return page(
        request,
        "tickets.html",
        account=account,
        status_code=422 if errors else 200,
        refresh=not errors,
        tickets=views,
        filters=filters,
        errors=errors,
        statuses=STATUSES,
        sections=SECTIONS,
        integrations=integrations,
        topics={
            view.number: ticket_view.topic(view, integrations.get(view.integration_id or ""), words)
            for view in views
        },
    )


# --- creating ----------------------------------------------------------------------------


def _forms(request: Request) -> TicketFormsConfig:
    return forms_of(documents.load(engine_of(request), documents.TICKET_FORMS))


def _chosen(forms: TicketFormsConfig, values: dict[str, str]) -> tuple[Any, Topic | None]:
    """The category and topic the page was asked for (None for one not configured)."""
    category = forms.category(values.get("category", ""))
    topic = category.topic(values.get("topic_id", "")) if category is not None else None
    return category, topic


def _new_page(
    request: Request,
    account: WebAccount,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    duplicate: str | None = None,
    staged: list[Any] | None = None,
) -> Response:
    forms = _forms(request)
    category, topic = _chosen(forms, values)
    return page(
        request,
        "ticket_new.html",
        account=account,
        status_code=422 if errors else 409 if duplicate else 200,
        duplicate=duplicate,
        staged=staged or [],
        values={name: values.get(name, "") for name in (*NEW_FIELDS, *_field_inputs(topic))},
        errors=errors,
        forms=forms,
        category=category,
        topic=topic,
        limits=forms.attachments,
        mib=forms.attachments.max_bytes / (1024 * 1024),
        tiers=TIERS,
        integrations=_integrations(request, account),
    )


NEW_FIELDS = (
    "category",
    "topic_id",
    "integration",
    "client",
    "tier",
    "topic",
    "description",
)
SUPPORT_FIELDS = ("client", "tier")  # a client files for itself, at its integration's tier
FIELD_PREFIX = "f_"  # a topic's field `account_number` is the input `f_account_number`


def _field_inputs(topic: Topic | None) -> list[str]:
    return [] if topic is None else [FIELD_PREFIX + field.name for field in topic.fields]


@router.get("/tickets/new")
def new_ticket_form(request: Request, account: Account) -> Response:
    """Seed 001: a category, then one of its topics (links: no script needed),
    then the topic's form; `?category=…&topic_id=…` re-renders with its fields."""
    chosen = {name: request.query_params.get(name, "") for name in ("category", "topic_id")}
    return _new_page(request, account, chosen, {})


@router.post("/tickets/new")
def new_ticket(request: Request, account: Account, upload: UploadForm) -> Response:
    form, files = upload
    forms = _forms(request)
    _, topic = _chosen(forms, form)
    names = (*NEW_FIELDS, *_field_inputs(topic))
    values = {name: form.get(name, "").strip() for name in names}
    words = _t(request)
    engine, now, owner = engine_of(request), db.utcnow(), _owner(request, account)
    kept = KeptFiles.of(form)
    try:
        ticket = _ticket_of(form, values)
        # Without a category (a form of an older page, or a script) it is filed by
        # its section, as the API files it.
        filled = None
        section = ticket.section
        if values["category"] or not ticket.section:
            filled = FilledForm(
                forms,
                values["category"],
                values["topic_id"] or None,
                {name.removeprefix(FIELD_PREFIX): values[name] for name in _field_inputs(topic)},
            )
            section = filled.resolve("", None)[0]
        # Refused before being asked twice, kept files and new ones together.
        earlier_files = staged_uploads.uploads_of(engine, owner, kept.ticked, now)
        attachments.check([*earlier_files, *files], forms.attachments, 0)
        earlier = (
            None if form.get("duplicate_ok") else _duplicate_of(request, account, ticket, section)
        )
        if earlier is not None:
            staged = _stage(request, owner, kept, files, forms, now)
            return _new_page(
                request, account, values, {}, duplicate=ticket_number(earlier), staged=staged
            )
        ticket_id = file_ticket(
            engine,
            account.principal,
            ticket,
            _policy(request),
            form=filled,
            files=files,
            staged=lambda connection: staged_uploads.claim(
                connection, owner, kept.ticked, kept.shown, now
            ),
        )
    except InvalidFormFields as error:
        errors = _field_errors(error, topic, words)
    except (ValidationError, InvalidTicketInput) as error:
        fields = [f for f in NEW_FIELDS if account.role == "support" or f not in SUPPORT_FIELDS]
        errors = refusal(error, words, "form", ("form", "attachments", *fields))
    else:
        return redirect(f"/tickets/{ticket_number(ticket_id)}")
    staged = _stage(request, owner, kept, files, forms, now)
    return _new_page(request, account, values, errors, staged=staged)


def _ticket_of(form: dict[str, str], values: dict[str, str]) -> NewTicket:
    """The form as the API's model: the same sizes, no NUL."""
    return NewTicket.model_validate(
        {
            "section": form.get("section", "").strip(),
            "subtype": form.get("subtype", "").strip() or None,
            "topic": values["topic"],
            "body": values["description"],
            "integration": values["integration"] or None,
            "client": values["client"] or None,
            "tier": values["tier"] or None,
        }
    )


KEEP_PREFIX = "keep:"  # a staged file's checkbox: keep:<its token>
SHOWN = "staged_shown"  # the tokens of every staged file the form listed
MAX_STAGED_SHOWN = 20


@dataclass(frozen=True, slots=True)
class KeptFiles:
    """The files kept from the form's last showing (staged_uploads.py): the ones the
    form listed, and those still ticked; the others are deleted."""

    shown: list[str]
    ticked: list[str]

    @classmethod
    def of(cls, form: dict[str, str]) -> KeptFiles:
        ticked = [name.removeprefix(KEEP_PREFIX) for name in form if name.startswith(KEEP_PREFIX)]
        return cls(form.get(SHOWN, "").split()[:MAX_STAGED_SHOWN], ticked)

    @property
    def unticked(self) -> list[str]:
        return [token for token in self.shown if token not in self.ticked]


def _owner(request: Request, account: WebAccount) -> staged_uploads.Owner:
    """This login: the session (checked live by `Account`) and its user."""
    return staged_uploads.Owner(key_hash(str(request.session.get("sid", ""))), account.id)


def _stage(
    request: Request,
    owner: staged_uploads.Owner,
    kept: KeptFiles,
    files: list[Any],
    forms: TicketFormsConfig,
    now: datetime,
) -> list[staged_uploads.StagedFile]:
    """The files the form shows again: the ones still ticked, and the new ones if they
    pass the attachment checks with them (a refused file is chosen again, knowingly).
    The ones unticked are forgotten."""
    engine = engine_of(request)
    staged_uploads.drop(engine, owner, kept.unticked)
    try:
        earlier = staged_uploads.uploads_of(engine, owner, kept.ticked, now)
        attachments.check([*earlier, *files], forms.attachments, 0)
    except InvalidTicketInput:
        return staged_uploads.listed(engine, owner, kept.ticked, now)
    new = staged_uploads.stage(engine, owner, files, now)
    return staged_uploads.listed(engine, owner, [*kept.ticked, *new], now)


def _field_errors(error: InvalidFormFields, topic: Topic | None, t: Translator) -> dict[str, str]:
    """Each refused field of the topic's form, in the viewer's language, under its input."""
    found: dict[str, str] = {}
    for problem in error.problems:
        field = topic.field(problem.field) if topic is not None else None
        key = FIELD_PREFIX + problem.field if field is not None else "form"
        said = t(f"form.{problem.code}", **problem.values)
        found.setdefault(key, said if field is not None else f"{problem.field}: {said}")
    return found


def _duplicate_of(
    request: Request, account: WebAccount, ticket: NewTicket, section: str
) -> int | None:
    """A client's active ticket this one would duplicate (seed 003); the client is
    warned and may send it anyway. Support files for others and is not asked."""
    if account.role == "support" or account.client is None:
        return None
    with engine_of(request).connect() as connection:
        return manual_tickets.similar_active(
            connection,
            client=account.client,
            integration_id=ticket.integration,
            section=section,
            now=db.utcnow(),
        )


# --- one ticket ----------------------------------------------------------------------------


def _not_found(request: Request, number: str) -> PageError:
    return PageError(404, "error.not_found", detail=_t(request)("missing.ticket", reference=number))


def _visible(request: Request, connection: Connection, account: WebAccount, number: str) -> Any:
    try:
        return visible_ticket(connection, account.principal, number)
    except TicketNotFound:
        raise _not_found(request, number) from None


def _ticket_page(
    request: Request,
    account: WebAccount,
    number: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    engine = engine_of(request)
    with engine.connect() as connection:
        _visible(request, connection, account, number)
    detail = ticket_detail(
        engine,
        number,
        include_internal=account.role == "support",
        policy=_policy(request),
        now=db.utcnow(),
    )
    integrations = _integrations(request, account)
    partner = integrations.get(detail.ticket.integration_id or "")
    words = _t(request)
    return page(
        request,
        "ticket.html",
        account=account,
        status_code=422 if errors else 200,
        refresh=True,
        refresh_url=f"/tickets/{detail.ticket.number}",
        detail=detail,
        ticket=detail.ticket,
        topic=ticket_view.topic(detail.ticket, partner, words),
        said={comment.id: ticket_view.said(comment, words) for comment in detail.comments},
        partner=partner,
        description=detail.form.get("description"),
        story=ticket_view.story(detail, account.role),
        moments=ticket_view.MOMENTS,
        errors=errors or {},
        values=values or {},
        filled=_filled(request, detail, words.language),
        limits=_forms(request).attachments,
        transitions=[s.value for s in TRANSITIONS[Status(detail.ticket.status)]],
        sections=SECTIONS,
        subtypes=ALL_SUBTYPES,
        # Support acknowledges the ticket's open incident here too (pages_actions.py).
        acks=acknowledgements(engine, [incident.id for incident in detail.incidents]),
    )


def _filled(request: Request, detail: Any, language: str) -> dict[str, Any] | None:
    """Seed 001's form of the ticket in the viewer's language: the category and topic
    labels and each field's label with its value (a select's option label); names
    the configuration no longer has are shown as stored. None without a form."""
    if detail.category is None:
        return None
    category, topic = _chosen(
        _forms(request), {"category": detail.category, "topic_id": detail.topic_id or ""}
    )
    rows = []
    for name, value in detail.fields.items():
        field = topic.field(name) if topic is not None else None
        if field is None:
            rows.append((name, value))
            continue
        option = next((o for o in field.options if o.value == value), None)
        rows.append((field.label.said(language), option.label.said(language) if option else value))
    return {
        "category": category.label.said(language) if category else detail.category,
        "topic": topic.label.said(language) if topic else detail.topic_id,
        "rows": rows,
    }


@router.get("/tickets/{number}")
def ticket_show(request: Request, account: Account, number: str) -> Response:
    return _ticket_page(request, account, number)


def _change(
    request: Request,
    account: WebAccount,
    number: str,
    form: dict[str, str],
    shown: tuple[str, ...],
    apply: Any,
    *,
    support_only: bool = False,
) -> Response:
    """Run `apply(connection, ticket_row, actor, now)` on a ticket the account may see;
    the page again with the domain's refusal under the field of the form (`shown`,
    else the first of them), or back to the ticket."""
    try:
        with engine_of(request).begin() as connection:
            row = _visible(request, connection, account, number)
            if support_only and account.role != "support":
                raise PageError(403, "error.forbidden")
            apply(connection, row, Actor(account.role, account.username), db.utcnow())
    except TicketNotFound:
        raise _not_found(request, number) from None
    except (InvalidTicketInput, InvalidTransition, ValidationError) as error:
        errors = refusal(error, _t(request), shown[0], shown)
        return _ticket_page(request, account, number, errors=errors, values=form)
    return redirect(f"/tickets/{ticket_number(row.id)}")


@router.post("/tickets/{number}/comments")
def ticket_comment(request: Request, account: Account, number: str, upload: UploadForm) -> Response:
    form, files = upload
    # A client asking for an internal note is refused by the domain, as in the API.
    internal = bool(form.get("internal"))
    limits = _forms(request).attachments

    def answer(connection: Connection, row: Any, actor: Actor, now: datetime) -> None:
        comment_id = tickets.comment(
            connection,
            row.id,
            # The API's model: the same size limit, no NUL.
            body=NewComment.model_validate({"body": form.get("body", "")}).body,
            actor=actor,
            now=now,
            visibility="internal" if internal else "public",
            policy=_policy(request),
            awaiting_client=not form.get("keep_working"),
        )
        attachments.attach(
            connection, row.id, files, limits=limits, actor=actor, now=now, comment_id=comment_id
        )

    return _change(
        request, account, number, form, ("comment", "body", "visibility", "attachments"), answer
    )


@router.get("/tickets/{number}/attachments/{attachment_id}")
def ticket_attachment(
    request: Request, account: Account, number: str, attachment_id: str
) -> Response:
    """A file of the ticket, for its client and support only (404 for anyone else,
    and for a file on an internal note when a client asks)."""
    with engine_of(request).connect() as connection:
        row = _visible(request, connection, account, number)
        found = None
        if attachment_id.isdigit() and len(attachment_id) <= 18:
            found = attachments.content_of(
                connection,
                row.id,
                int(attachment_id),
                include_internal=account.role == "support",
            )
    if found is None:
        raise _not_found(request, number)
    return attachment_response(*found)


@router.post("/tickets/{number}/status")
def ticket_status(request: Request, account: Account, number: str, form: Form) -> Response:
    return _change(
        request,
        account,
        number,
        form,
        ("status", "reason"),
        lambda connection, row, actor, now: tickets.set_status(
            connection,
            row.id,
            (change := _status_change(form)).status,
            actor=actor,
            now=now,
            reason=change.reason,
            policy=_policy(request),
        ),
        support_only=True,
    )


@router.post("/tickets/{number}/section")
def ticket_section(request: Request, account: Account, number: str, form: Form) -> Response:
    return _change(
        request,
        account,
        number,
        form,
        ("section", "subtype", "reason"),
        lambda connection, row, actor, now: tickets.set_section(
            connection,
            row.id,
            (change := _section_change(form)).section,
            subtype=change.subtype,
            actor=actor,
            now=now,
            reason=change.reason,
        ),
        support_only=True,
    )


# The forms are checked with the API's models: the same sizes, no NUL.
def _status_change(form: dict[str, str]) -> StatusChange:
    reason = form.get("reason", "").strip() or None
    return StatusChange.model_validate({"status": form.get("status", ""), "reason": reason})


def _section_change(form: dict[str, str]) -> SectionChange:
    subtype = form.get("subtype") or None
    reason = form.get("section_reason", "").strip() or None
    return SectionChange.model_validate(
        {"section": form.get("section", ""), "subtype": subtype, "reason": reason}
    )
