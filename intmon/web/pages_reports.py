"""`/reports/monthly`: the monthly report (`alerts.monthly_report`) in the console,
in the viewer's language and zone, as the client reads it and support sends it.

`?month=YYYY-MM` (default: the current month, so far) and, for support,
`?client=` (a client reads its own; any other client is "not found", exactly like
one that does not exist). A bad month is a 400 page naming the field, never a 500.
The same report as CSV, printable HTML or JSON stays with `intmon report monthly`
and `GET /api/reports/monthly`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from alerts.monthly_report import UnknownClient, monthly_report
from core import db
from integrations.periods import month_span
from intmon.api.access import visible_integrations
from intmon.web.errors import PageError
from intmon.web.i18n import Translator, language_of
from intmon.web.render import page
from intmon.web.session import Account, engine_of

router = APIRouter(include_in_schema=False)


@router.get("/reports/monthly")
def report_page(request: Request, account: Account) -> Response:
    words = Translator(language_of(request))
    now = db.utcnow()
    month = request.query_params.get("month") or f"{now:%Y-%m}"
    try:
        month_span(month)
    except ValueError:
        raise PageError(400, "error.bad_request", detail=words("report.bad_month")) from None
    engine = engine_of(request)
    visible = visible_integrations(engine, account.principal).values()
    clients = sorted({registered.spec.client for registered in visible})
    asked = request.query_params.get("client") or None
    # A client's report is its own; support names the client (or picks one first).
    client = account.client or asked
    if (asked and asked != client) or (client is not None and client not in clients):
        raise PageError(404, "error.not_found", detail=words("report.no_client", client=asked))
    report = None
    if client is not None:
        try:
            report = monthly_report(engine, client, month, now)
        except UnknownClient:
            raise PageError(
                404, "error.not_found", detail=words("report.no_client", client=client)
            ) from None
    return page(
        request,
        "report_month.html",
        account=account,
        report=report,
        month=month,
        client=client,
        clients=clients if account.role == "support" else [],
    )
