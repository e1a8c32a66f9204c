"""The web console: people (support and clients) at a browser, server-rendered.

`install(app)` mounts it into the API's FastAPI application: the session
middleware, the pages, the stylesheet and the auto-refresh script. It is glue
like the API: `users.py` keeps the people and their password hashes,
`session.py` the cookie, CSRF and login throttling, `i18n.py` every word in
English and Russian, `board.py` what the status pages read, the `pages_*`
modules parse a request, call one function of `alerts/` or `integrations/`
(with the API's visibility rules) and render a template from `templates/`.
`pages_badge.py` serves the public uptime badges (`badges.py`: their secret links).
`pages_actions.py` is what support does (acknowledge, maintenance windows, run
checks or a scenario now), each recorded by `audit.py`; `pages_windows.py` the
recurring maintenance windows; `pages_runs.py` shows a scenario run with its
report and JUnit; `pages_reports.py` a client's monthly report.
`intmon.serve` runs the whole app on a free local port (the demo, the browser test).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.datastructures import MutableHeaders

if TYPE_CHECKING:
    from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Add the console to `app` (whose state holds `engine` and `settings`)."""
    from urllib.parse import quote

    from fastapi import Request
    from fastapi.responses import Response
    from starlette.middleware.sessions import SessionMiddleware
    from starlette.staticfiles import StaticFiles

    from intmon.web import (
        pages_actions,
        pages_auth,
        pages_badge,
        pages_reports,
        pages_runs,
        pages_status,
        pages_tickets,
        pages_windows,
    )
    from intmon.web.badges import badge_key
    from intmon.web.errors import LoginRequired, PageError
    from intmon.web.render import STATIC, STATIC_URL, page, redirect
    from intmon.web.report_print import printable_report
    from intmon.web.session import SESSION_COOKIE, session_secret
    from intmon.web.throttle import LoginThrottle

    settings = app.state.settings
    secret = session_secret(settings)
    app.state.badge_key = badge_key(settings, secret)
    # The API's printable monthly report is the console's (the API sits below it).
    app.state.printable_report = printable_report
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=SESSION_COOKIE,
        # The server ends sessions (session_store.py); the cookie need not outlive them.
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.session_https_only,
    )
    app.state.login_throttle = LoginThrottle()
    if settings.session_https_only and settings.hsts_max_age_s:
        # Browsers that once reached the console over HTTPS never try plain http
        # again (where the cookie could be stripped of its protection by a downgrade).
        app.add_middleware(StrictTransport, max_age_s=settings.hsts_max_age_s)

    for module in (
        pages_auth,
        pages_status,
        pages_tickets,
        pages_badge,
        pages_actions,
        pages_runs,
        pages_reports,
        pages_windows,
    ):
        app.include_router(module.router)
    app.mount(STATIC_URL, StaticFiles(directory=STATIC), name="web-static")

    def login_required(request: Request, _error: Exception) -> Response:
        target = request.url.path if request.method == "GET" else "/"
        return redirect(f"/login?next={quote(target)}" if target != "/" else "/login")

    def error_html(request: Request, status_code: int, message_key: str, detail: str) -> Response:
        from intmon.web.session import optional_account

        return page(
            request,
            "error.html",
            account=optional_account(request),
            status_code=status_code,
            message_key=message_key,
            detail=detail,
        )

    def error_page(request: Request, status_code: int, detail: str) -> Response:
        from intmon.web.i18n import DEFAULT, language_of

        key = MESSAGE_KEYS.get(status_code, "error.bad_request")
        # The framework's own detail ("Not Found", a validation message) is English
        # only: another language gets the translated message alone.
        shown = detail if language_of(request) == DEFAULT else ""
        return error_html(request, status_code, key, shown)

    def page_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, PageError)
        detail = error.details.get("detail", "")
        return error_html(request, error.status_code, error.message_key, detail)

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(PageError, page_error)
    # The API's error handlers (intmon.api.problems) answer the console's paths with it.
    app.state.error_page = error_page


# The message of an error page the console did not raise itself (a bad path, a
# request that does not validate, a body over the cap) by its status.
MESSAGE_KEYS = {
    403: "error.forbidden",
    404: "error.not_found",
    405: "error.method",
    409: "error.conflict",
    413: "error.too_large",
    415: "error.form",
}


class StrictTransport:
    """Adds `Strict-Transport-Security` to every answer that has none. Plain ASGI, not
    `@app.middleware("http")`: that wraps the request body in a task group, and a
    body refused by `BodyCap` mid-read would reach the route as a parse error."""

    def __init__(self, app: Any, max_age_s: int) -> None:
        self.app = app
        self.value = f"max-age={max_age_s}"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_header(message: Any) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("Strict-Transport-Security", self.value)
            await send(message)

        await self.app(scope, receive, with_header)
