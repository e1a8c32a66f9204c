"""Every error answer of the API in one shape: RFC 9457 problem details.

    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "topic: String should have at most 200 characters",
     "field": "topic",
     "errors": [{"field": "topic", "in": "body", "message": "String should have …"}]}

`type`, `title`, `status` and `detail` are always there (`about:blank`: the status
says it all); `field` names the first field at fault and `errors` lists each one
with where it was (`body`, `query`, `path`, `header`) when the request was
invalid. The media type is `application/problem+json`.

The handlers installed here turn every exception into such an answer:
`HTTPException` (routing's 404 and 405 too), request validation, the domain's
refusals (`AlertsError`, `MaintenanceError`) and, last, anything unexpected (a
500 that says nothing of the cause; the traceback goes to the log). Requests for
the web console get its HTML error page instead (`error_page` in the app's state,
set by `intmon.web.install`). Every error answer carries the pages' security
headers (`intmon.headers`).

The OpenAPI document says so for every operation (`describe_errors`): each 4xx
and 5xx it declares, a route's own `404: {"description": …}` included, has the
problem as its `application/problem+json` content, the `Problem` component.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from alerts.errors import (
    AlertsError,
    InvalidFormFields,
    InvalidTicketInput,
    InvalidTransition,
    TicketNotFound,
)
from integrations.maintenance import MaintenanceError
from intmon.headers import SECURITY_HEADERS

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
# Paths that are the API (JSON for machines); everything else is the web console.
API_PATHS = (
    "/api/",
    "/callbacks/",
    "/ping/",
    "/postbacks/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/badge/",  # the public uptime badges (intmon.web.pages_badge): embedded, not browsed
)

# (request, status, detail) -> the console's HTML error page; set by intmon.web.install.
ErrorPage = Callable[[Request, int, str], Response]


def _string(description: str) -> dict[str, str]:
    return {"type": "string", "description": description}


# The shape in OpenAPI (written out: FastAPI keeps models' schemas for JSON only).
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": _string("about:blank: the status says it all"),
        "title": _string("The status's phrase"),
        "status": {"type": "integer"},
        "detail": _string("What is wrong, for people"),
        "field": _string("The first field at fault: `topic`, `leads[2].fields.email`"),
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "in", "message"],
                "properties": {
                    "field": _string("The field at fault"),
                    "in": {"type": "string", "enum": ["body", "query", "path", "header"]},
                    "message": _string("What is wrong with it"),
                },
            },
        },
        "callback": _string("A postback's answer (extension): unknown or ended"),
        "problems": {
            "type": "array",
            "description": "A refused results file's bad lines (extension)",
            "items": {
                "type": "object",
                "properties": {"line": {"type": "integer"}, "message": {"type": "string"}},
            },
        },
    },
}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# Declared on every operation, in place of FastAPI's own 422 shape.
RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "description": "Refused: RFC 9457 problem details naming the field at fault.",
        "content": {MEDIA_TYPE: {"schema": PROBLEM_REF}},
    },
    "5XX": {
        "description": "Failed on our side; the cause is logged, never told.",
        "content": {MEDIA_TYPE: {"schema": PROBLEM_REF}},
    },
}


def title_of(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem(
    status: int,
    detail: str,
    *,
    field: str | None = None,
    errors: Sequence[dict[str, Any]] = (),
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """An `application/problem+json` answer; `field` defaults to the first error's;
    `extensions` are members of the endpoint's own (RFC 9457 §3.2)."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title_of(status),
        "status": status,
        "detail": detail,
    }
    if field is None and errors:
        field = errors[0].get("field")
    if field:
        body["field"] = field
    if errors:
        body["errors"] = list(errors)
    body.update(extensions)
    return JSONResponse(
        body,
        status_code=status,
        media_type=MEDIA_TYPE,
        headers={**SECURITY_HEADERS, **(headers or {})},
    )


def field_path(location: Sequence[str | int]) -> str:
    """("leads", 0, "fields", "email") -> "leads[0].fields.email"; a mapping's key at
    fault, ("variables", "1st", "[key]"), is named as the entry: "variables.1st"."""
    path = ""
    for part in location:
        if part == "[key]":
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def validation_errors(raw: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI's error list as {field, in, message}; never echoes the input back
    (it may be NaN, a lone surrogate or megabytes)."""
    found = []
    for error in raw:
        location = list(error.get("loc", ()))
        where = str(location.pop(0)) if location else "body"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "json_invalid":
            # loc is ("body", offset): the field is the body itself.
            reason = (error.get("ctx") or {}).get("error", "")
            at = f" at character {location[0]}" if location else ""
            location, message = [], f"invalid JSON{at}: {reason}".rstrip(": ")
        found.append({"field": field_path(location) or where, "in": where, "message": message})
    return found


def summary(errors: Sequence[dict[str, Any]]) -> str:
    return "; ".join(f"{e['field']}: {e['message']}" for e in errors)


# --- handlers ------------------------------------------------------------------------


def is_console(request: Request) -> bool:
    path = request.url.path
    return not any(path == p.rstrip("/") or path.startswith(p) for p in API_PATHS)


def _refuse(request: Request, status: int, detail: str, **problem_members: Any) -> Response:
    """The problem, or the console's error page for a request to one of its paths."""
    error_page: ErrorPage | None = getattr(request.app.state, "error_page", None)
    if error_page is not None and is_console(request):
        return error_page(request, status, detail)
    return problem(status, detail, **problem_members)


def _input_of(request: Request) -> str:
    """Where a field the domain refused came from: a body, or the query of a read."""
    return "query" if request.method in ("GET", "HEAD", "DELETE") else "body"


async def http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    detail: Any = error.detail
    field = None
    if isinstance(detail, dict):  # {"field": …, "message": …}
        field, detail = detail.get("field"), detail.get("message", "")
    return _refuse(
        request,
        error.status_code,
        str(detail),
        field=field,
        errors=getattr(error, "errors", ()),  # InvalidJson's
        headers=dict(error.headers or {}),
    )


async def invalid_request(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = validation_errors(error.errors())
    return _refuse(request, 422, summary(errors), errors=errors)


async def alerts_error(request: Request, error: Exception) -> Response:
    detail = str(error)
    if isinstance(error, TicketNotFound):
        return _refuse(request, 404, detail)
    if isinstance(error, InvalidFormFields):  # every field of the form it refuses
        where = _input_of(request)
        errors = [
            {"field": f"fields.{p.field}", "in": where, "message": p.english()}
            for p in error.problems
        ]
        return _refuse(request, 422, detail, errors=errors)
    if isinstance(error, InvalidTicketInput):
        errors = [{"field": error.field, "in": _input_of(request), "message": detail}]
        return _refuse(request, 422, detail, errors=errors)
    assert isinstance(error, InvalidTransition | AlertsError)
    return _refuse(request, 409, detail)


async def maintenance_error(request: Request, error: Exception) -> Response:
    detail = str(error)  # "starts_at: …", "weekly.days: …"
    field = detail.split(":", 1)[0] if ":" in detail else "window"
    return _refuse(request, 422, detail, errors=[{"field": field, "in": "body", "message": detail}])


async def unexpected(request: Request, error: Exception) -> Response:
    """The last resort: a 500 in the usual shape, without the exception's text
    (it may hold a query or a secret); the traceback is logged."""
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    detail = "an unexpected error happened; it has been logged"
    if is_console(request):
        return HTMLResponse(bare_page(500, detail), status_code=500, headers=SECURITY_HEADERS)
    return problem(500, detail)


def bare_page(status: int, detail: str) -> str:
    """A console error page that needs nothing (no session, database or template)
    that may be what failed; `detail` is escaped."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{status}</title></head><body><h1>{status} · {title_of(status)}</h1>"
        f"<p>{html.escape(detail)}</p>"
        '<p><a href="/">Back to the start page</a></p></body></html>'
    )


def describe_errors(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with the problem shape on every error answer: a 4xx or
    5xx a route declares with a description only (`404: {"description": …}`) gets
    the problem schema as its content, and FastAPI's own 422 shape is replaced."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for code, answer in operation.get("responses", {}).items():
                content = answer.get("content") or {}
                fastapi_422 = "HTTPValidationError" in str(content)
                if str(code)[0] in "45" and (not content or fastapi_422):
                    answer["content"] = {MEDIA_TYPE: {"schema": PROBLEM_REF}}
    for name in ("HTTPValidationError", "ValidationError"):  # the first refers to the second
        if f"#/components/schemas/{name}" not in json.dumps(document):
            schemas.pop(name, None)
    return document


def document(app: FastAPI) -> None:
    """Build the app's OpenAPI document (once, as FastAPI does) through `describe_errors`."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_errors(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    document(app)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(AlertsError, alerts_error)
    app.add_exception_handler(MaintenanceError, maintenance_error)
    app.add_exception_handler(Exception, unexpected)
