"""Who is at the console: the signed session cookie, CSRF tokens, and login throttling.

The session is Starlette's signed cookie (HttpOnly, SameSite=Lax) holding the
user's id, a CSRF token and the chosen language; nothing secret. Every request
looks the user up again, so a disabled user's session ends at their next click.
Every form carries the session's CSRF token in a hidden field and every POST is
refused (403) without it: a cookie alone never changes anything.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from sqlalchemy import Engine

from intmon.settings import Settings
from intmon.web.errors import LoginRequired, PageError, WebConfigError
from intmon.web.users import WebAccount, active_account

log = logging.getLogger("intmon.web")

SESSION_COOKIE = "intmon_session"
MIN_SECRET = 32
MAX_FORM_BYTES = 256 * 1024
MAX_FORM_FIELDS = 50


def session_secret(settings: Settings) -> str:
    """The cookie-signing key from the settings; a random one (and a warning) if none."""
    if settings.session_secret is not None and settings.session_secret_file is not None:
        raise WebConfigError(
            "INTMON_SESSION_SECRET", "set it or INTMON_SESSION_SECRET_FILE, not both"
        )
    if settings.session_secret is not None:
        field, secret = "INTMON_SESSION_SECRET", settings.session_secret.get_secret_value()
    elif settings.session_secret_file is not None:
        field = "INTMON_SESSION_SECRET_FILE"
        try:
            secret = settings.session_secret_file.read_text().strip()
        except OSError as error:
            raise WebConfigError(field, f"cannot read it: {error.strerror}") from None
    else:
        log.warning(
            "INTMON_SESSION_SECRET is not set: using a random key for this process; "
            "web sessions will not survive a restart nor be shared between API processes"
        )
        return secrets.token_urlsafe(48)
    if len(secret) < MIN_SECRET:
        raise WebConfigError(field, f"must be at least {MIN_SECRET} characters")
    return secret


# --- the current user -------------------------------------------------------------------


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def optional_account(request: Request) -> WebAccount | None:
    """The logged-in user, or None; a session whose user is gone or disabled is cleared."""
    user_id = request.session.get("user")
    if not isinstance(user_id, int):
        return None
    account = active_account(engine_of(request), user_id)
    if account is None:
        request.session.clear()
    return account


def account(request: Request) -> WebAccount:
    found = optional_account(request)
    if found is None:
        raise LoginRequired()
    return found


Account = Annotated[WebAccount, Depends(account)]


def log_in(request: Request, found: WebAccount) -> None:
    """A fresh session for the user: a new CSRF token, the language kept."""
    language = request.session.get("lang")
    request.session.clear()
    request.session.update(user=found.id, csrf=secrets.token_urlsafe(32))
    if language:
        request.session["lang"] = language


# --- CSRF -------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def form_fields(request: Request) -> dict[str, str]:
    """The POSTed form (urlencoded), once its CSRF token matches the session's; else 403."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise PageError(415, "error.form")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise PageError(413, "error.form")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except ValueError:  # also UnicodeDecodeError
        raise PageError(400, "error.form") from None
    fields = dict(pairs)
    expected = request.session.get("csrf")
    given = fields.pop("csrf", "")
    if not isinstance(expected, str) or not expected or not hmac.compare_digest(given, expected):
        raise PageError(403, "error.csrf")
    return fields


Form = Annotated[dict[str, str], Depends(form_fields)]


# --- guessing -------------------------------------------------------------------------


class LoginThrottle:
    """At most `limit` failed logins per username and per address within `window_s`.

    In memory, per process: it slows a guesser down without a table to clean up;
    the scrypt cost of every attempt does the rest.
    """

    def __init__(
        self,
        limit: int = 5,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self.max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.get(key, deque())
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        return failures

    def blocked(self, keys: Iterable[str]) -> bool:
        now = self.clock()
        return any(len(self._recent(key, now)) >= self.limit for key in keys)

    def failed(self, keys: Iterable[str]) -> None:
        now = self.clock()
        if len(self._failures) >= self.max_keys:
            self._failures = {k: v for k, v in self._failures.items() if self._recent(k, now)}
        for key in keys:
            self._failures[key] = self._recent(key, now)
            self._failures[key].append(now)

    def succeeded(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._failures.pop(key, None)
