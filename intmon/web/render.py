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

from intmon import db
from intmon.web import i18n
from intmon.web.headers import SECURITY_HEADERS
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
    """A moment in the viewer's zone and language (`Translator.when`)."""
    translator: i18n.Translator = context["t"]
    return translator.when(moment)


def without_credentials(url: str) -> str:
    """A URL as shown: any `user:password@` in it is left out."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


environment.filters["when"] = when
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
    html = environment.get_template(template).render(
        t=i18n.Translator(language, i18n.zone_of(request)),
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
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def redirect(location: str) -> RedirectResponse:
    """After a POST: 303, so reloading the next page does not send the form again."""
    return RedirectResponse(location, status_code=303, headers=SECURITY_HEADERS)
