"""The web console: people (support and clients) at a browser, server-rendered.

`install(app)` mounts it into the API's FastAPI application: the session
middleware, the pages, the stylesheet and the auto-refresh script. It is glue
like the API: `users.py` keeps the people and their password hashes,
`session.py` the cookie, CSRF and login throttling, `i18n.py` every word in
English and Russian, `board.py` what the status pages read, the `pages_*`
modules parse a request, call one function of `alerts/` or `integrations/`
(with the API's visibility rules) and render a template from `templates/`.
`serve.py` runs the whole app on a free local port (the demo, the browser test).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Add the console to `app` (whose state holds `engine` and `settings`)."""
    from urllib.parse import quote

    from fastapi import Request
    from fastapi.responses import Response
    from starlette.middleware.sessions import SessionMiddleware
    from starlette.staticfiles import StaticFiles

    from intmon.web import pages_auth, pages_status, pages_tickets
    from intmon.web.errors import LoginRequired, PageError
    from intmon.web.render import STATIC, STATIC_URL, page, redirect
    from intmon.web.session import SESSION_COOKIE, session_secret
    from intmon.web.throttle import LoginThrottle

    settings = app.state.settings
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
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
        hsts = f"max-age={settings.hsts_max_age_s}"

        @app.middleware("http")
        async def strict_transport(request: Request, call_next: Any) -> Response:
            response: Response = await call_next(request)
            response.headers.setdefault("Strict-Transport-Security", hsts)
            return response

    for module in (pages_auth, pages_status, pages_tickets):
        app.include_router(module.router)
    app.mount(STATIC_URL, StaticFiles(directory=STATIC), name="web-static")

    def login_required(request: Request, _error: Exception) -> Response:
        target = request.url.path if request.method == "GET" else "/"
        return redirect(f"/login?next={quote(target)}" if target != "/" else "/login")

    def page_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, PageError)
        from intmon.web.session import optional_account

        return page(
            request,
            "error.html",
            account=optional_account(request),
            status_code=error.status_code,
            message_key=error.message_key,
            detail=error.details.get("detail", ""),
        )

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(PageError, page_error)
