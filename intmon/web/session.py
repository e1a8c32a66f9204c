"""Who is at the console: the signed session cookie and CSRF tokens.

The cookie is Starlette's signed cookie (HttpOnly, SameSite=Lax, Secure unless
the console is declared plain http) holding a session key, a CSRF token and the
chosen language. The key names a row of `web_sessions` (`session_store.py`):
every request looks it up, so logging out, a new password or a disabled user
ends the session at once, and the session's lifetime and idle timeout are kept
on the server, not by the cookie.
Every form carries the session's CSRF token in a hidden field and every POST is
refused (403) without it: a cookie alone never changes anything.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from sqlalchemy import Engine
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.exceptions import HTTPException

from alerts.attachments import Upload
from core import db
from core.settings import Settings
from intmon.web.errors import LoginRequired, PageError, WebConfigError
from intmon.web.session_store import SessionLimits, end_session, session_account, start_session
from intmon.web.users import WebAccount

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


def session_limits(settings: Settings) -> SessionLimits:
    return SessionLimits(settings.session_max_age_s, settings.session_idle_timeout_s)


def optional_account(request: Request) -> WebAccount | None:
    """The logged-in user, or None; a cookie whose session has ended is cleared."""
    key = request.session.get("sid")
    if not isinstance(key, str):
        return None
    limits = session_limits(request.app.state.settings)
    account = session_account(engine_of(request), key, db.utcnow(), limits)
    if account is None:
        _forget_session(request)
    return account


def account(request: Request) -> WebAccount:
    found = optional_account(request)
    if found is None:
        raise LoginRequired()
    return found


Account = Annotated[WebAccount, Depends(account)]


def log_in(request: Request, found: WebAccount) -> None:
    """A fresh session for the user (a new key: a key planted before the login is
    worth nothing after it) and a new CSRF token; the language kept."""
    log_out(request)
    limits = session_limits(request.app.state.settings)
    key = start_session(engine_of(request), found.id, db.utcnow(), limits)
    request.session.update(sid=key, csrf=secrets.token_urlsafe(32))


def log_out(request: Request) -> None:
    """End this browser's session on the server, and forget it in the cookie."""
    key = request.session.get("sid")
    if isinstance(key, str):
        end_session(engine_of(request), key)
    _forget_session(request)


def _forget_session(request: Request) -> None:
    language = request.session.get("lang")
    request.session.clear()
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

# A form with files (a new ticket, an answer): the count is checked again against the
# ticket's limit (alerts.attachments); the whole body is capped by BodyCap.
MAX_FORM_FILES = 20


async def upload_fields(request: Request) -> tuple[dict[str, str], list[Upload]]:
    """A POSTed form that may carry files (multipart/form-data, or urlencoded without
    files), once its CSRF token matches the session's; else 403. Empty file inputs
    (a browser sends one when nothing was chosen) are left out."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        return await form_fields(request), []
    try:
        form = await request.form(
            max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_BYTES
        )
    except HTTPException:  # a malformed body, or too many parts
        raise PageError(400, "error.form") from None
    fields: dict[str, str] = {}
    uploads: list[Upload] = []
    for name, value in form.multi_items():
        if isinstance(value, StarletteUpload):
            if value.filename:
                uploads.append(Upload(value.filename, await value.read()))
        else:
            fields[name] = value
    await form.close()
    expected = request.session.get("csrf")
    given = fields.pop("csrf", "")
    if not isinstance(expected, str) or not expected or not hmac.compare_digest(given, expected):
        raise PageError(403, "error.csrf")
    return fields, uploads


UploadForm = Annotated[tuple[dict[str, str], list[Upload]], Depends(upload_fields)]
