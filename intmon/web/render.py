"""Turning a template and its data into a page: Jinja2 with autoescape, the
translator of the request's language, and the headers every page carries.

Every value is escaped by Jinja2 (autoescape is on for every template, and
nothing is marked safe); the Content-Security-Policy allows only this site's own
stylesheet and script, so even a missed escape could not run injected code.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from core import db
from intmon.headers import SECURITY_HEADERS
from intmon.web import audit, i18n, zones
from intmon.web.charts import percent_text, uptime_grade
from intmon.web.result_bar import bar_marks
from intmon.web.session import csrf_token
from intmon.web.users import WebAccount

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
STATIC_URL = "/web-static"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@pass_context
def when(context: Context, moment: datetime | str | None) -> str:
    """A moment in the viewer's zone and language, to the second (`Translator.when`)."""
    translator: i18n.Translator = context["t"]
    return translator.when(moment)


@pass_context
def stamp(context: Context, moment: datetime | None) -> str:
    """A time to the second, in the viewer's zone: results every 2 s stay apart."""
    return zones.stamp(moment, context["zone"])


@pass_context
def clock(context: Context, moment: datetime, pattern: str) -> str:
    """A time in the viewer's zone as `pattern` (a chart's axis: "%H:%M", "%m-%d")."""
    return zones.in_zone(moment, context["zone"], pattern)


def without_credentials(url: str) -> str:
    """A URL as shown: any `user:password@` in it is left out."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


@pass_context
def duration(context: Context, seconds: float) -> str:
    """A duration in the viewer's language: "250 ms", "1.5 s" / "1,5 с"."""
    t: i18n.Translator = context["t"]
    if seconds < 1:
        return t("unit.ms", n=round(seconds * 1000))
    rounded = round(seconds, 1)
    return t("time.seconds", n=t.number(rounded, 0 if rounded.is_integer() else 1))


def uptime_class(ratio: float) -> str:
    """The CSS class an uptime is coloured by: the badge's grades."""
    return f"uptime-{uptime_grade(ratio)}"


environment.filters["when"] = when
environment.filters["percent"] = percent_text
environment.filters["duration"] = duration
environment.filters["bar_marks"] = bar_marks
environment.filters["uptime_class"] = uptime_class
environment.filters["stamp"] = stamp
environment.filters["clock"] = clock
environment.filters["without_credentials"] = without_credentials


def _relative(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def language_links(request: Request) -> dict[str, str]:
    """This page in each language (a relative link keeping the other query parameters)."""
    links = {}
    for code in i18n.LANGUAGES:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        links[code] = f"{request.url.path}?{urlencode([*params, ('lang', code)])}"
    return links


def page(
    request: Request,
    template: str,
    *,
    account: WebAccount | None,
    status_code: int = 200,
    refresh: bool = False,
    refresh_url: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render `template`; `refresh` turns on the auto-refresh of its refresh regions,
    read again from `refresh_url` (default: this page's own URL)."""
    language = i18n.language_of(request)
    settings = request.app.state.settings
    translator = i18n.Translator(language, i18n.zone_of(request))
    # What the action that sent the browser here came to (audit.py), said once.
    flash = audit.flashed(request, request.app.state.engine, account)
    html = environment.get_template(template).render(
        t=translator,
        flash=flash,
        flash_text=audit.message(flash, translator) if flash else "",
        lang=language,
        languages=i18n.LANGUAGES,
        account=account,
        csrf=csrf_token(request),
        refresh_s=int(settings.web_refresh_s) if refresh else 0,
        status_code=status_code,
        refresh_url=refresh_url or _relative(request),
        static=STATIC_URL,
        language_links=language_links(request),
        now=db.utcnow(),
        zone=zones.viewer_zone(request),
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def redirect(location: str) -> RedirectResponse:
    """After a POST: 303, so reloading the next page does not send the form again."""
    return RedirectResponse(location, status_code=303, headers=SECURITY_HEADERS)
