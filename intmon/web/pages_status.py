"""`/board` and `/integrations/{id}`: how the watched integrations are doing.

Support sees every integration; a client sees only their own, and any other
integration is "not found", exactly like one that does not exist.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from integrations.e2e_store import list_runs
from integrations.heartbeats.store import list_heartbeats
from intmon import db
from intmon.web.board import STATES, board, integration_page
from intmon.web.errors import PageError
from intmon.web.render import page
from intmon.web.session import Account, engine_of

router = APIRouter(include_in_schema=False)


@router.get("/board")
def status_board(request: Request, account: Account) -> Response:
    now = db.utcnow()
    view = board(engine_of(request), account.principal, request.app.state.settings, now)
    return page(request, "board.html", account=account, refresh=True, board=view, states=STATES)


@router.get("/integrations/{integration_id}")
def integration(request: Request, account: Account, integration_id: str) -> Response:
    view = integration_page(engine_of(request), account.principal, integration_id, db.utcnow())
    if view is None:
        raise PageError(404, "error.not_found", detail=f"integration {integration_id} not found")
    return page(
        request,
        "integration.html",
        account=account,
        refresh=True,
        spec=view.spec,
        status=view.status,
        states=view.states,
        results=view.results,
        incidents=view.incidents,
        windows=view.windows,
        # Push monitors: state, last ping, next due (the ping URL stays off the page).
        heartbeats=list_heartbeats(engine_of(request), [integration_id]),
        # The e2e history (issue 7): the latest runs of this integration's scenarios.
        runs=list_runs(engine_of(request), integration_ids=[integration_id], limit=10),
    )
