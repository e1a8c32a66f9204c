"""`/login`, `/logout` and `/`: who is at the console, and where they start.

A failed login gets one message whatever was wrong (unknown user, wrong
password, disabled user). Five failures for a username, or twenty from one
address, within five minutes refuse further tries for a while.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from intmon.web.i18n import language_of
from intmon.web.render import page, redirect
from intmon.web.session import (
    Form,
    LoginThrottle,
    engine_of,
    log_in,
    optional_account,
)
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
    throttles: tuple[LoginThrottle, LoginThrottle] = request.app.state.web_throttles
    by_name, by_address = throttles
    name_key = [normalise_username(username)]
    address_key = [request.client.host if request.client else "unknown"]
    error = None
    if by_name.blocked(name_key) or by_address.blocked(address_key):
        error = "login.throttled"
    else:
        found = authenticate(engine_of(request), username, form.get("password", ""))
        if found is not None:
            by_name.succeeded(name_key)
            log_in(request, found)
            return redirect(local_path(form.get("next")) or home_of(found))
        by_name.failed(name_key)
        by_address.failed(address_key)
        error = "login.failed"
    return page(
        request,
        "login.html",
        account=None,
        status_code=401 if error == "login.failed" else 429,
        error=error,
        username=username,
        next=form.get("next", ""),
    )


@router.post("/logout")
def logout(request: Request, form: Form) -> Response:
    language = request.session.get("lang")
    request.session.clear()
    if language:
        request.session["lang"] = language
    return redirect("/login")
