"""What support does at the console, besides answering tickets: acknowledge an
incident, declare / change / end a maintenance window, run checks now, run an
end-to-end scenario.

Each is a POST with the session's CSRF token (`session.Form`), for support only
(a client is refused with 403, whatever it names), and calls the one function
the CLI and the API call:

    acknowledge          alerts.escalation.acknowledge           (intmon incidents ack)
    maintenance window   integrations.maintenance add_window / replace_window /
                         remove_window                           (API …/maintenance)
    run checks now       intmon.run_now.run_now                  (API …/checks/run)
    run a scenario       intmon.api.routes.e2e.queue_run         (API …/scenarios/…/runs)

Every outcome, done or refused, is a row of the audit trail (`audit.record`),
and the browser is sent back (303) to the page it came from, which says what
happened (POST-redirect-GET). A maintenance form that does not validate is
shown again with each field's refusal in the viewer's language (422).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request, Response

from alerts.escalation import IncidentNotFound, acknowledge
from alerts.queries import incident_detail
from core import db
from integrations.config import IntegrationSpec
from integrations.maintenance import (
    MaintenanceError,
    StoredWindow,
    add_window,
    list_windows,
    remove_window,
    replace_window,
)
from intmon.api.access import visible_integrations
from intmon.api.routes.e2e import queue_run
from intmon.run_now import run_now
from intmon.web import audit
from intmon.web.errors import PageError
from intmon.web.i18n import Translator, language_of, zone_of
from intmon.web.maintenance_form import WindowForm, window_document
from intmon.web.pages_status import integration_response
from intmon.web.render import redirect
from intmon.web.session import Account, Form, engine_of
from intmon.web.users import WebAccount

router = APIRouter(include_in_schema=False)

# Where an action may send the browser back to: the page its button was on.
BACK = re.compile(
    r"^/(board|integrations/[A-Za-z0-9_.-]{1,64}(/recurring-windows)?|tickets/INC-\d{1,12})$"
)
DETAIL_SHOWN = 300  # characters of a result's detail told after a run now


def _t(request: Request) -> Translator:
    return Translator(language_of(request), zone_of(request))


def support_only(account: WebAccount) -> None:
    if account.role != "support":
        raise PageError(403, "error.forbidden")


def integration_of(request: Request, account: WebAccount, integration_id: str) -> IntegrationSpec:
    registered = visible_integrations(engine_of(request), account.principal).get(integration_id)
    if registered is None:
        detail = _t(request)("missing.integration", reference=integration_id)
        raise PageError(404, "error.not_found", detail=detail)
    return registered.spec


def _back(form: dict[str, str], default: str) -> str:
    wanted = form.get("back", "")
    return wanted if BACK.match(wanted) else default


def _report(
    request: Request,
    account: WebAccount,
    action: str,
    outcome: str,
    back: str,
    now: datetime,
    **details: Any,
) -> Response:
    """Record the action, keep it for the next page, and go back there."""
    action_id = audit.record(engine_of(request), account, action, outcome, now, **details)
    audit.remember(request, action_id)
    return redirect(back)


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _span_of(stored: StoredWindow) -> dict[str, str]:
    """What the audit trail keeps of a one-off window."""
    return {"starts": _iso(stored.window.starts_at), "ends": _iso(stored.window.ends_at)}


# --- incidents ---------------------------------------------------------------------------


@router.post("/incidents/{incident_id}/ack")
def incident_ack(request: Request, account: Account, incident_id: str, form: Form) -> Response:
    support_only(account)
    engine, now = engine_of(request), db.utcnow()
    words = _t(request)
    missing = PageError(
        404, "error.not_found", detail=words("missing.incident", reference=incident_id)
    )
    if not incident_id.isascii() or not incident_id.isdigit() or len(incident_id) > 18:
        raise missing
    try:
        incident = incident_detail(engine, int(incident_id))
    except IncidentNotFound:
        raise missing from None
    back = _back(form, f"/integrations/{incident.integration_id}")
    details: dict[str, Any] = {
        "integration_id": incident.integration_id,
        "subject": str(incident.id),
        "incident": incident.id,
    }
    if incident.state != "open":
        return _report(
            request, account, "incident.ack", "refused", back, now, why="why.resolved", **details
        )
    if not acknowledge(engine, incident.id, account.username, now):
        return _report(
            request, account, "incident.ack", "refused", back, now, why="why.acked", **details
        )
    return _report(request, account, "incident.ack", "done", back, now, **details)


# --- maintenance windows -----------------------------------------------------------------


def window_named(request: Request, windows: list[StoredWindow], name: str) -> StoredWindow:
    """The window `name` among `windows`; else the not-found page."""
    found = next((s for s in windows if s.name == name), None)
    if found is None:
        detail = _t(request)("missing.window", reference=name)
        raise PageError(404, "error.not_found", detail=detail)
    return found


def _stored(request: Request, integration_id: str, name: str) -> StoredWindow:
    return window_named(request, list_windows(engine_of(request), [integration_id]), name)


def save_window(
    request: Request,
    account: WebAccount,
    spec: IntegrationSpec,
    name: str | None,
    form: tuple[dict[str, Any] | None, dict[str, str]],
    done_values: Callable[[StoredWindow], dict[str, Any]],
    back: str,
) -> tuple[Response | None, dict[str, str]]:
    """Store a window form's document as a new window (`name` None) or as `name`'s
    new version, audit it and go `back`; or audit the refusal (the form's errors, or
    the store's) and hand the errors back for the caller to show its form again.
    `form` is (the document, None when refused; the errors by field). One-off
    windows here and recurring ones (`pages_windows.py`) are saved alike."""
    action = "maintenance.declare" if name is None else "maintenance.edit"
    engine, now = engine_of(request), db.utcnow()
    document, errors = form
    if document is not None:
        try:
            if name is None:
                stored = add_window(engine, spec.id, document, now)
            else:
                stored = replace_window(engine, spec.id, name, document, now)
        except MaintenanceError as error:  # the form checked all it can; shown as written
            errors = {"form": str(error)}
        else:
            done = _report(
                request,
                account,
                action,
                "done",
                back,
                now,
                integration_id=spec.id,
                subject=stored.name,
                name=stored.name,
                **done_values(stored),
            )
            return done, {}
    audit.record(
        engine,
        account,
        action,
        "refused",
        now,
        integration_id=spec.id,
        subject=name,
        why="why.invalid",
        fields=sorted(errors),
        **({"name": name} if name else {}),
    )
    return None, errors


def _window_form(
    request: Request,
    account: WebAccount,
    spec: IntegrationSpec,
    name: str | None,
    form: dict[str, str],
) -> Response:
    """Declare (`name` None) or change a one-off window from the form."""
    typed = WindowForm.of(form)
    zone, now = ZoneInfo(zone_of(request)), db.utcnow()
    done, errors = save_window(
        request,
        account,
        spec,
        name,
        window_document(typed, zone, now, _t(request)),
        lambda stored: {
            "starts": _iso(stored.window.starts_at),
            "ends": _iso(stored.window.ends_at),
        },
        f"/integrations/{spec.id}",
    )
    if done is not None:
        return done
    return integration_response(
        request,
        account,
        spec.id,
        status_code=422,
        window_form={"name": name, "values": typed.values(), "errors": errors},
    )


@router.post("/integrations/{integration_id}/maintenance")
def maintenance_declare(
    request: Request, account: Account, integration_id: str, form: Form
) -> Response:
    support_only(account)
    spec = integration_of(request, account, integration_id)
    return _window_form(request, account, spec, None, form)


def _editable(request: Request, spec: IntegrationSpec, name: str, action: str) -> str | None:
    """Why this window cannot be changed here (a catalogue key), or None."""
    stored = _stored(request, spec.id, name)
    if stored.source == "config":
        return "why.from_file"
    if action == "maintenance.edit" and stored.window.kind != "once":
        return "why.recurring"
    return None


@router.post("/integrations/{integration_id}/maintenance/{name}")
def maintenance_edit(
    request: Request, account: Account, integration_id: str, name: str, form: Form
) -> Response:
    support_only(account)
    spec = integration_of(request, account, integration_id)
    why = _editable(request, spec, name, "maintenance.edit")
    if why is not None:
        back = f"/integrations/{spec.id}"
        return _report(
            request,
            account,
            "maintenance.edit",
            "refused",
            back,
            db.utcnow(),
            integration_id=spec.id,
            subject=name,
            why=why,
            name=name,
        )
    return _window_form(request, account, spec, name, form)


@router.post("/integrations/{integration_id}/maintenance/{name}/end")
def maintenance_end(
    request: Request, account: Account, integration_id: str, name: str, form: Form
) -> Response:
    """End an active one-off window now (it keeps its start: results in it stay
    "in maintenance"); a window that has not started is cancelled, a recurring one
    removed."""
    support_only(account)
    spec = integration_of(request, account, integration_id)
    engine, now = engine_of(request), db.utcnow()
    details: dict[str, Any] = {"integration_id": spec.id, "subject": name, "name": name}
    # The integration's page, or its recurring windows' page (pages_windows.py).
    back = _back(form, f"/integrations/{spec.id}")
    if not back.startswith(f"/integrations/{spec.id}"):
        back = f"/integrations/{spec.id}"
    why = _editable(request, spec, name, "maintenance.end")
    if why is not None:
        return _report(
            request, account, "maintenance.end", "refused", back, now, why=why, **details
        )
    stored = _stored(request, spec.id, name)
    window = stored.window
    if window.kind != "once":
        remove_window(engine, spec.id, name)
        variant = "removed"
    elif window.current(now) is not None:
        replace_window(engine, spec.id, name, {**stored.spec, "ends_at": now.isoformat()}, now)
        variant = "done"
    elif window.next_start(now) is not None:
        remove_window(engine, spec.id, name)
        variant = "cancelled"
    else:
        return _report(
            request, account, "maintenance.end", "refused", back, now, why="why.over", **details
        )
    return _report(
        request, account, "maintenance.end", "done", back, now, variant=variant, **details
    )


# --- run checks now, run a scenario --------------------------------------------------------


@router.post("/integrations/{integration_id}/checks/run")
def checks_run(request: Request, account: Account, integration_id: str, form: Form) -> Response:
    """Run the integration's checks (or the one named `check`) once, now, as the API's
    run now does: recorded like a scheduled run, under the egress policy."""
    support_only(account)
    spec = integration_of(request, account, integration_id)
    now, back = db.utcnow(), f"/integrations/{spec.id}"
    wanted = form.get("check", "")
    checks = [c for c in spec.checks if not wanted or c.name == wanted]
    details: dict[str, Any] = {"integration_id": spec.id, "subject": wanted or None}
    if not checks:
        why = "why.no_check"
        return _report(
            request, account, "checks.run", "refused", back, now, why=why, check=wanted, **details
        )
    if not spec.enabled:
        return _report(
            request, account, "checks.run", "refused", back, now, why="why.disabled", **details
        )
    report = run_now(engine_of(request), request.app.state.settings, spec, checks)
    results = [
        {
            "check": result.check_name,
            "outcome": result.outcome.value,
            "up": result.outcome.is_up,
            "http_status": result.http_status,
            "duration_ms": round(result.duration_s * 1000, 1),
            "detail": result.detail[:DETAIL_SHOWN],  # redacted by the probe
        }
        for result in report.results
    ]
    failed = sum(1 for result in results if not result["up"])
    return _report(
        request,
        account,
        "checks.run",
        "done",
        back,
        db.utcnow(),
        count=len(results),
        failed=failed,
        results=results,
        **details,
    )


@router.post("/integrations/{integration_id}/scenarios/{scenario}/run")
def scenario_run(
    request: Request, account: Account, integration_id: str, scenario: str, form: Form
) -> Response:
    """Queue one run of the scenario as the API's trigger does, then show its page."""
    support_only(account)
    spec = integration_of(request, account, integration_id)
    found = spec.scenario(scenario)
    if found is None:
        detail = _t(request)("missing.scenario", reference=scenario)
        raise PageError(404, "error.not_found", detail=detail)
    now = db.utcnow()
    details: dict[str, Any] = {"integration_id": spec.id, "subject": found.name}
    try:
        with request.app.state.e2e_runs.slot() as dispatch:
            run_id = queue_run(engine_of(request), spec, found, dispatch, account.username)
    except HTTPException as busy:  # no free slot in this process (429)
        back = f"/integrations/{spec.id}"
        why = "why.busy" if busy.status_code == 429 else "why.unknown"
        return _report(
            request,
            account,
            "scenario.run",
            "refused",
            back,
            now,
            why=why,
            scenario=found.name,
            **details,
        )
    return _report(
        request,
        account,
        "scenario.run",
        "done",
        f"/e2e/runs/{run_id}",
        now,
        scenario=found.name,
        run=run_id,
        **details,
    )
