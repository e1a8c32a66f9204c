"""`GET /badge/{token}.svg`: an integration's uptime as a small SVG badge, for the
client's own status page. No login: the secret link is the permission
(`badges.py`); anything else is 404, as for an integration that does not exist.

The badge says the uptime over the last 24 h (`?window=7d|30d` for longer), in
English unless `?lang=ru`, and may be cached for a few minutes by the browser
and any proxy: it is the same for everyone who holds the link.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request, Response

from core import db
from integrations.registry import load_specs
from integrations.uptime import availability
from intmon.web import i18n
from intmon.web.badges import integration_of
from intmon.web.charts import uptime_badge
from intmon.web.render import environment
from intmon.web.session import engine_of

router = APIRouter(include_in_schema=False)

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
CACHE_S = 300
HEADERS = {
    "Cache-Control": f"public, max-age={CACHE_S}",
    # An image: it runs nothing and loads nothing, wherever it is opened.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    # Embedded by the client's status page, on another site.
    "Cross-Origin-Resource-Policy": "cross-origin",
}


@router.get("/badge/{token}.svg")
def uptime_badge_svg(request: Request, token: str, window: str = "24h") -> Response:
    period = WINDOWS.get(window)
    if period is None:
        raise HTTPException(422, {"field": "window", "message": "window: give 24h, 7d or 30d"})
    integration_id = integration_of(request.app.state.badge_key, token)
    engine = engine_of(request)
    if integration_id is None or not load_specs(engine, [integration_id]):
        raise HTTPException(404, "badge not found")
    now = db.utcnow()
    found = availability(engine, now - period, now, integration_ids=[integration_id])
    language = request.query_params.get("lang")
    t = i18n.Translator(language if language in i18n.LANGUAGES else i18n.DEFAULT)
    badge = uptime_badge(
        t("badge.label", window=t(f"window.{window}")),
        found[0].ratio if found else None,
        t("badge.no_data"),
    )
    svg = environment.get_template("badge.svg").render(badge=badge)
    return Response(svg, media_type="image/svg+xml", headers=HEADERS)
