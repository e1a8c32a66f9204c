"""Two small ASGI middlewares around the whole app (API and console).

`BodyCap` refuses a request body over `max_bytes` before anything parses it: a
declared `Content-Length` over the cap is answered 413 at once, and a body sent
without one (chunked) is cut off as soon as the bytes read pass the cap. The
overflow is raised as `BodyTooLarge` (an `HTTPException`, so FastAPI's body
reader lets it through to the error handlers instead of calling it a parse error).

`UrlGuard` refuses a path or query parameter holding NUL (`%00`) with a 422
naming it: PostgreSQL cannot compare text with NUL in it, so any lookup would fail.

`ErrorHeaders` makes sure that every error answer (status 400 and up), whoever
produced it, carries the pages' security headers.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intmon.api.problems import bare_page, is_console, problem
from intmon.headers import SECURITY_HEADERS


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is larger than {max_bytes} bytes")


class BodyCap:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and not declared.isdigit():
            await self._refuse(scope, receive, send, 400)
            return
        if declared is not None and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send, 413)
            return
        received = 0

        async def capped() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped, watched)
        except BodyTooLarge:
            # Read outside the error handlers' reach (a streaming endpoint): answer here,
            # unless the answer has begun, when the connection is all there is to end.
            if started:
                raise
            await self._refuse(scope, receive, send, 413)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int) -> None:
        if status == 413:
            detail, errors = f"the request body is larger than {self.max_bytes} bytes", []
        else:
            detail = "Content-Length: not a number"
            errors = [{"field": "Content-Length", "in": "header", "message": "not a number"}]
        response = _refusal(scope, status, detail, errors)
        # The client may still be sending: say the connection ends with this answer.
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _refusal(scope: Scope, status: int, detail: str, errors: list[dict[str, str]]) -> Response:
    if is_console(Request(scope)):
        return HTMLResponse(bare_page(status, detail), status_code=status, headers=SECURITY_HEADERS)
    return problem(status, detail, errors=errors)


class UrlGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (found := self._nul(scope)) is not None:
            where, name = found
            message = "must not contain NUL (%00)"
            errors = [{"field": name, "in": where, "message": message}]
            await _refusal(scope, 422, f"{name}: {message}", errors)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _nul(scope: Scope) -> tuple[str, str] | None:
        if "\x00" in unquote(scope.get("path", "")):
            return "path", "path"
        query = scope.get("query_string", b"").decode("latin-1")
        for name, value in parse_qsl(query, keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return "query", name.replace("\x00", "") or "query"
        return None


class ErrorHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 400:
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
