"""`/board` and `/integrations/{id}`: how the watched integrations are doing.

Support sees every integration; a client sees only their own, and any other
integration is "not found", exactly like one that does not exist.

The board takes `?page=N` (`intmon.web.board.PAGE_ROWS` integrations a page). An
integration's page takes `?before=<result id>` (its older results, a keyset
page at a time) and `?chart=24h|7d` (the latency chart's span); anything else
there is a 400 page naming the parameter, never a 500.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response

from alerts.escalation import acknowledgements
from core import db
from integrations.e2e_store import list_runs
from integrations.heartbeats.store import list_heartbeats
from integrations.history import ResultNotFound
from intmon.web.audit import message, recent
from intmon.web.badges import badge_token
from intmon.web.board import CHART_WINDOWS, STATES, board, integration_page
from intmon.web.board_monitors import is_late, judged_views
from intmon.web.charts import latency_chart
from intmon.web.errors import PageError
from intmon.web.i18n import Translator, language_of, zone_of
from intmon.web.maintenance_form import typed_of
from intmon.web.render import page
from intmon.web.session import Account, engine_of
from intmon.web.ticket_view import topic
from intmon.web.users import WebAccount

router = APIRouter(include_in_schema=False)

MAX_RESULT_ID = 2**63 - 1
MAX_PAGE = 100_000


@router.get("/board")
def status_board(request: Request, account: Account) -> Response:
    number = page_number(request.query_params.get("page"))
    now = db.utcnow()
    view = board(
        engine_of(request), account.principal, request.app.state.settings, now, page=number
    )
    words = Translator(language_of(request))
    # An automatic ticket's topic names the partner in the viewer's language, as the
    # ticket list says it (ticket_view.topic), not as it was stored.
    topics = {
        ticket.number: topic(ticket, view.names.get(ticket.integration_id or "", ("",))[0], words)
        for ticket in view.tickets
    }
    return page(
        request,
        "board.html",
        account=account,
        refresh=True,
        board=view,
        states=STATES,
        topics=topics,
    )


def page_number(text: str | None) -> int:
    """`?page=`: a page of the board, from 1."""
    if text is None:
        return 1
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= MAX_PAGE:
        raise PageError(400, "error.bad_request", detail="page: give a page number (1, 2, …)")
    return int(text)


def result_id(text: str | None) -> int | None:
    """`?before=`: the id of a result, a positive whole number."""
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= MAX_RESULT_ID:
        raise PageError(
            400, "error.bad_request", detail="before: give the id of a result (a whole number)"
        )
    return int(text)


@router.get("/integrations/{integration_id}")
def integration(request: Request, account: Account, integration_id: str) -> Response:
    before = result_id(request.query_params.get("before"))
    chart = request.query_params.get("chart", "24h")
    if chart not in CHART_WINDOWS:
        raise PageError(400, "error.bad_request", detail="chart: give 24h or 7d")
    editing = request.query_params.get("window")
    window_form: dict[str, Any] | None = None
    if editing is not None and account.role == "support":
        window_form = {"name": editing, "values": None, "errors": {}}
    return integration_response(
        request, account, integration_id, before=before, chart=chart, window_form=window_form
    )


def integration_response(
    request: Request,
    account: WebAccount,
    integration_id: str,
    *,
    before: int | None = None,
    chart: str = "24h",
    status_code: int = 200,
    window_form: dict[str, Any] | None = None,
) -> Response:
    """The integration's page; for support with its actions: the maintenance form
    (`window_form`: the window being changed, what was typed, the refusals) and the
    trail of what support did here."""
    engine = engine_of(request)
    try:
        view = integration_page(
            engine,
            account.principal,
            integration_id,
            db.utcnow(),
            before=before,
            chart_window=chart,
        )
    except ResultNotFound as error:
        raise PageError(404, "error.not_found", detail=str(error)) from None
    if view is None:
        words = Translator(language_of(request))
        detail = words("missing.integration", reference=integration_id)
        raise PageError(404, "error.not_found", detail=detail)
    support = account.role == "support"
    actions = recent(engine, integration_id) if support else []
    now = db.utcnow()
    heartbeats = list_heartbeats(engine, [integration_id])
    words = Translator(language_of(request), zone_of(request))
    badge = f"/badge/{badge_token(request.app.state.badge_key, integration_id)}.svg"
    return page(
        request,
        "integration.html",
        account=account,
        status_code=status_code,
        refresh=True,
        refresh_url=f"/integrations/{integration_id}" if status_code != 200 else None,
        view=view,
        spec=view.spec,
        status=view.status,
        states=view.states,
        incidents=view.incidents,
        windows=view.windows,
        chart=latency_chart(view.latency, view.chart_start, view.chart_end),
        before=before,
        badge_path=badge,
        badge_url=str(request.base_url).rstrip("/") + badge,
        # Push monitors: state, last ping, next due (the ping URL stays off the page).
        heartbeats=heartbeats,
        late_heartbeats={beat.name for beat in heartbeats if is_late(beat, now)},
        # The broker's postback monitor: its window, ratio and state.
        postbacks=judged_views(engine, [view.spec], now),
        # The e2e history (issue 7): the latest runs of this integration's scenarios.
        runs=list_runs(engine, integration_ids=[integration_id], limit=10),
        support=support,
        acks=acknowledgements(engine, [incident.id for incident in view.incidents]),
        window_form=_window_form(request, view.windows, window_form) if support else None,
        actions=actions,
        said={action.id: message(action, words) for action in actions},
    )


def _window_form(
    request: Request, windows: list[dict[str, Any]], asked: dict[str, Any] | None
) -> dict[str, Any]:
    """The maintenance form: declaring a window, or changing the one `?window=` names
    (a one-off window added at the console, CLI or API), its times in the viewer's zone."""
    asked = asked or {"name": None, "values": None, "errors": {}}
    name = asked["name"]
    if name is not None and not any(w["name"] == name and w["editable"] for w in windows):
        raise PageError(
            400,
            "error.bad_request",
            detail="window: give a one-off window added here or by the API",
        )
    values = asked["values"]
    if values is None:
        values = {"starts_at": "", "ends_at": "", "reason": ""}
        if name is not None:
            stored = next(w for w in windows if w["name"] == name)
            values = typed_of(stored["window"], ZoneInfo(zone_of(request))).values()
    return {"name": name, "values": values, "errors": asked["errors"]}
