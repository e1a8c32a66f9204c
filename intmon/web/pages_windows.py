"""`/integrations/{id}/recurring-windows`: support declares, changes and ends the
weekly and cron maintenance windows of an integration (issue 24 item 7; the
one-off windows are declared on the integration's page, `pages_actions.py`).

The page lists the integration's recurring windows with their schedule in the
viewer's language, and the form (`maintenance_recurring.py`) declares one or, with
`?window=<name>`, changes one added at the console, CLI or API; a window from
the integrations file is changed there. Each POST carries the session's CSRF
token, is support's only (403 for a client), calls the function the CLI and the
API call (`integrations.maintenance` add_window / replace_window), and is
recorded in the audit trail, refused or done. Ending a recurring window (it is
removed) is the integration page's "end" action, sent back here.
"""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.routing import APIRouter

from core import db
from integrations.config import IntegrationSpec
from integrations.maintenance import (
    StoredWindow,
    list_windows,
)
from intmon.web import audit
from intmon.web.errors import PageError
from intmon.web.i18n import Translator, language_of, zone_of
from intmon.web.maintenance_recurring import (
    RecurringForm,
    recurring_document,
    schedule_values,
    schedule_words,
    typed_of,
)
from intmon.web.pages_actions import integration_of, save_window, support_only, window_named
from intmon.web.render import page, redirect
from intmon.web.session import Account, Form, engine_of
from intmon.web.users import WebAccount

router = APIRouter(include_in_schema=False)


def path_of(integration_id: str) -> str:
    return f"/integrations/{integration_id}/recurring-windows"


def _t(request: Request) -> Translator:
    return Translator(language_of(request), zone_of(request))


def _recurring(request: Request, integration_id: str) -> list[StoredWindow]:
    stored = list_windows(engine_of(request), [integration_id])
    return [s for s in stored if s.window.kind != "once"]


def _stored(request: Request, spec: IntegrationSpec, name: str) -> StoredWindow:
    """The recurring window `name` of the integration; else the not-found page."""
    return window_named(request, _recurring(request, spec.id), name)


def _page(
    request: Request,
    account: WebAccount,
    spec: IntegrationSpec,
    name: str | None,
    typed: RecurringForm,
    errors: dict[str, str],
) -> Response:
    words, now = _t(request), db.utcnow()
    windows = [
        {
            "name": stored.name,
            "source": stored.source,
            "schedule": schedule_words(stored.spec, words),
            "reason": stored.window.reason,
            "active_until": (current := stored.window.current(now)) and current[1],
            "next_start": stored.window.next_start(now),
            "changeable": stored.source != "config",
        }
        for stored in _recurring(request, spec.id)
    ]
    return page(
        request,
        "maintenance_recurring.html",
        account=account,
        status_code=422 if errors else 200,
        spec=spec,
        windows=windows,
        editing=name,
        values=typed.values(),
        errors=errors,
        action_path=path_of(spec.id) + (f"/{name}" if name else ""),
    )


@router.get("/integrations/{integration_id}/recurring-windows")
def recurring_windows(request: Request, account: Account, integration_id: str) -> Response:
    support_only(account)
    spec = integration_of(request, account, integration_id)
    name = request.query_params.get("window")
    if name is None:
        typed = RecurringForm.blank(zone_of(request))
    else:
        stored = _stored(request, spec, name)
        if stored.source == "config":
            detail = _t(request)("why.from_file")
            raise PageError(400, "error.bad_request", detail=detail)
        typed = typed_of(stored.spec)
    return _page(request, account, spec, name, typed, {})


def _save(
    request: Request,
    account: WebAccount,
    spec: IntegrationSpec,
    name: str | None,
    form: dict[str, str],
) -> Response:
    """Declare (`name` None) or change a recurring window from the form."""
    typed = RecurringForm.of(form)
    done, errors = save_window(
        request,
        account,
        spec,
        name,
        recurring_document(typed, _t(request)),
        lambda stored: schedule_values(stored.spec),
        path_of(spec.id),
    )
    if done is not None:
        return done
    return _page(request, account, spec, name, typed, errors)


@router.post("/integrations/{integration_id}/recurring-windows")
def recurring_declare(
    request: Request, account: Account, integration_id: str, form: Form
) -> Response:
    support_only(account)
    spec = integration_of(request, account, integration_id)
    return _save(request, account, spec, None, form)


@router.post("/integrations/{integration_id}/recurring-windows/{name}")
def recurring_edit(
    request: Request, account: Account, integration_id: str, name: str, form: Form
) -> Response:
    support_only(account)
    spec = integration_of(request, account, integration_id)
    if _stored(request, spec, name).source == "config":
        action_id = audit.record(
            engine_of(request),
            account,
            "maintenance.edit",
            "refused",
            db.utcnow(),
            integration_id=spec.id,
            subject=name,
            why="why.from_file",
            name=name,
        )
        audit.remember(request, action_id)
        return redirect(path_of(spec.id))
    return _save(request, account, spec, name, form)
