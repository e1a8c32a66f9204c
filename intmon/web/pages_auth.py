"""`/login`, `/logout` and `/`: who is at the console, and where they start.

A failed login gets one message whatever was wrong (unknown user, wrong
password, disabled user). Repeated failures slow down the (username, address)
pair that made them, and an address spraying usernames (`throttle.py`); the
right password from another address is never refused because of them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from intmon.web.i18n import language_of
from intmon.web.render import page, redirect
from intmon.web.session import Form, engine_of, log_in, log_out, optional_account
from intmon.web.throttle import LoginThrottle, client_address
from intmon.web.users import WebAccount, authenticate, normalise_username

router = APIRouter(include_in_schema=False)

MaybeAccount = Annotated[WebAccount | None, Depends(optional_account)]


def home_of(account: WebAccount) -> str:
    return "/board" if account.role == "support" else "/tickets"


def local_path(target: str | None) -> str | None:
    """`next` only ever leads to a page of this site, never off it."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return None


@router.get("/")
def index(request: Request, account: MaybeAccount) -> Response:
    language_of(request)  # keeps `?lang=` for the page this leads to
    return redirect(home_of(account) if account else "/login")


@router.get("/login")
def login_page(
    request: Request,
    account: MaybeAccount,
    after: Annotated[str | None, Query(alias="next")] = None,
) -> Response:
    if account is not None:
        return redirect(local_path(after) or home_of(account))
    return page(request, "login.html", account=None, error=None, username="", next=after or "")


@router.post("/login")
def login(request: Request, form: Form) -> Response:
    username = form.get("username", "")
    throttle: LoginThrottle = request.app.state.login_throttle
    name = normalise_username(username)
    address = client_address(
        request.client.host if request.client else None,
        request.headers.get("x-forwarded-for"),
        request.app.state.settings.trusted_proxy_networks,
    )
    wait_s = throttle.retry_after(name, address)
    if not wait_s:
        found = authenticate(engine_of(request), username, form.get("password", ""))
        if found is not None:
            throttle.succeeded(name, address)
            log_in(request, found)
            return redirect(local_path(form.get("next")) or home_of(found))
        throttle.failed(name, address)
    response = page(
        request,
        "login.html",
        account=None,
        status_code=429 if wait_s else 401,
        error="login.throttled" if wait_s else "login.failed",
        username=username,
        next=form.get("next", ""),
    )
    if wait_s:
        response.headers["Retry-After"] = str(max(1, round(wait_s)))
    return response


@router.post("/logout")
def logout(request: Request, form: Form) -> Response:
    log_out(request)  # the session ends on the server: a copy of the cookie is worthless
    return redirect("/login")
