"""Each hostile input an attacker run found answered 500 (a bare text page without
security headers) is now a 4xx in the one error shape, naming the field at fault,
on SQLite and on PostgreSQL (where NUL and over-long text used to fail):

- the API answers RFC 9457 problem details (`application/problem+json`: type,
  title, status, detail, and for invalid input `field` and `errors`);
- the web console answers its HTML error page (or the form again, with the
  message under the field);
- every error answer carries the same security headers as the console's pages,
  and an unexpected exception is a 500 of the same shape that does not leak
  its message.

Oversized bodies: over the cap (`api_max_body_bytes`) a 413 before parsing,
declared or chunked; under it, a text field over its documented size is a 422.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.types import Message

from intmon.api.fields import REASON_MAX, TEXT_MAX
from intmon.headers import SECURITY_HEADERS
from tests.hostile.site import Site, database, settings

MiB = 1024 * 1024
GOOD_TICKET = b'"section": "app_help", "topic": "Exports", "integration": "a"'
AT_YEAR_0 = "0001-01-01T00:00:00+14:00"  # year 0 in UTC
AT_YEAR_10000 = "9999-12-31T23:59:59-14:00"  # year 10000 in UTC


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    with database(request.param, tmp_path_factory.mktemp("site")) as engine:
        site = Site(engine, settings())
        site.log_in()
        yield site
        site.close()


def ticket_with(body_value: bytes) -> bytes:
    return b"{" + GOOD_TICKET + b', "body": ' + body_value + b"}"


def attempt_at(moment: str) -> dict[str, Any]:
    attempt = {"lead_id": "L-1", "integration": "a", "attempt": 1, "at": moment}
    return {"attempts": [{**attempt, "outcome": "delivered"}]}


# (name, caller, method, url, request keywords, status, field named)
API_CASES: list[tuple[str, str, str, str, dict[str, Any], int, str | None]] = [
    ("lone surrogate", "client", "POST", "/api/tickets",
     {"content": ticket_with(b'"\\ud800"')}, 422, "body"),
    ("NaN in a field", "client", "POST", "/api/tickets",
     {"content": ticket_with(b"NaN")}, 422, "body"),
    ("bare NaN", "client", "POST", "/api/tickets", {"content": b"NaN"}, 422, "body"),
    ("Infinity", "client", "POST", "/api/tickets",
     {"content": ticket_with(b"-Infinity")}, 422, "body"),
    ("overflowing float", "client", "POST", "/api/tickets",
     {"content": ticket_with(b"1e400")}, 422, "body"),
    ("huge integer", "support", "POST", "/api/lead-deliveries",
     {"content": b'{"attempts": [{"attempt": 99999999999999999999999}]}'}, 422,
     "attempts[0].attempt"),
    ("huge ticket number", "client", "GET",
     "/api/tickets/INC-99999999999999999999999", {}, 404, None),
    ("huge ticket number, comment", "client", "POST",
     "/api/tickets/INC-99999999999999999999999/comments", {"json": {"body": "hi"}}, 404, None),
    ("created_from in year 0", "client", "GET", "/api/tickets",
     {"params": {"created_from": AT_YEAR_0}}, 422, "created_from"),
    ("created_to in year 10000", "client", "GET", "/api/tickets",
     {"params": {"created_to": AT_YEAR_10000}}, 422, "created_to"),
    ("report from year 0", "client", "GET", "/api/leads/report",
     {"params": {"from": AT_YEAR_0}}, 422, "from"),
    ("attempt in year 0", "client", "POST", "/api/lead-deliveries",
     {"json": attempt_at(AT_YEAR_0)}, 422, "attempts[0].at"),
    ("NUL in a ticket", "client", "POST", "/api/tickets",
     {"content": ticket_with(b'"a\\u0000b"')}, 422, "body"),
    ("NUL in a comment", "client", "POST", "/api/tickets/INC-000001/comments",
     {"json": {"body": "a\0b"}}, 422, "body"),
    ("NUL in a query", "support", "GET", "/api/tickets", {"params": {"integration": "a\0"}}, 422,
     "integration"),
    ("NUL in a path", "support", "GET", "/api/integrations/a%00b", {}, 422, "path"),
    ("client over 64", "support", "POST", "/api/tickets",
     {"json": {"section": "app_help", "topic": "t", "body": "b", "client": "c" * 65}}, 422,
     "client"),
    ("5 MB comment", "client", "POST", "/api/tickets/INC-000001/comments",
     {"json": {"body": "x" * (5 * MiB)}}, 422, "body"),
    ("ticket body over 64 KiB", "client", "POST", "/api/tickets",
     {"content": ticket_with(b'"' + b"x" * (TEXT_MAX + 1) + b'"')}, 422, "body"),
    ("2 MB reason", "support", "POST", "/api/tickets/INC-000001/status",
     {"json": {"status": "closed", "reason": "r" * (2 * MiB)}}, 422, "reason"),
    ("20 MB ticket body", "client", "POST", "/api/tickets",
     {"content": ticket_with(b'"' + b"x" * (20 * MiB) + b'"')}, 413, None),
    ("unknown path", "client", "GET", "/api/nowhere", {}, 404, None),
    ("wrong method", "client", "DELETE", "/api/tickets", {}, 405, None),
    ("no token", "", "GET", "/api/tickets", {}, 401, None),
]  # fmt: skip


def assert_security_headers(answer: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers.get(name) == value, (name, answer.headers)


def assert_problem(answer: httpx.Response, status: int, field: str | None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text[:500]
    assert answer.headers["content-type"] == "application/problem+json", answer.text[:500]
    assert_security_headers(answer)
    problem = answer.json()
    assert problem["status"] == status and problem["type"] == "about:blank"
    assert problem["title"] and isinstance(problem["detail"], str) and problem["detail"]
    if field is not None:
        assert problem["field"] == field, problem
        assert field in [error["field"] for error in problem["errors"]], problem
        assert all(error["message"] for error in problem["errors"])
    return dict(problem)


@pytest.mark.parametrize(
    ("caller", "method", "url", "keywords", "status", "field"),
    [pytest.param(*case[1:], id=case[0]) for case in API_CASES],
)
def test_api_answers_a_problem(
    site: Site,
    caller: str,
    method: str,
    url: str,
    keywords: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    headers = site.headers(caller) if caller else {}
    if "content" in keywords:
        headers["Content-Type"] = "application/json"

    answer = site.client.request(method, url, headers=headers, **keywords)

    assert_problem(answer, status, field)


def test_a_chunked_body_is_cut_off_at_the_cap(site: Site) -> None:
    """No Content-Length (chunked): the app stops reading as soon as the cap is passed
    and answers 413. Driven at the ASGI level, where the chunks read can be counted
    (the TestClient would read the whole body before the app sees it)."""
    cap = site.app.state.settings.api_max_body_bytes
    read = 0
    answer: list[Message] = []

    async def receive() -> Message:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": b"x" * MiB, "more_body": read < 40}

    async def send(message: Message) -> None:
        answer.append(message)

    headers = [
        (b"authorization", site.headers("client")["Authorization"].encode()),
        (b"content-type", b"application/json"),
        (b"transfer-encoding", b"chunked"),
    ]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/tickets", "raw_path": b"/api/tickets",
        "root_path": "", "query_string": b"", "headers": headers,
        "client": ("127.0.0.1", 1), "server": ("testserver", 80),
    }  # fmt: skip

    asyncio.run(site.app(scope, receive, send))

    start = next(m for m in answer if m["type"] == "http.response.start")
    assert start["status"] == 413
    assert (b"content-type", b"application/problem+json") in start["headers"]
    body = b"".join(m.get("body", b"") for m in answer if m["type"] == "http.response.body")
    assert str(cap).encode() in body
    assert read == cap // MiB + 1  # the first chunk past the cap, and no more


def test_a_long_reason_closes_the_ticket(site: Site) -> None:
    """A reason up to its documented size is stored (PostgreSQL's column held 32)."""
    reason = "the partner fixed their certificate chain; confirmed by three green checks"
    change = {"status": "closed", "reason": reason + "." * (REASON_MAX - len(reason))}

    answer = site.client.post(
        "/api/tickets/INC-000002/status", json=change, headers=site.headers("support")
    )

    assert answer.status_code == 200, answer.text[:500]
    assert answer.json()["close_reason"] == change["reason"]


def test_an_unexpected_error_is_a_problem_that_hides_its_cause(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("password=hunter2 in a connection string")

    monkeypatch.setattr("intmon.api.routes.tickets.ticket_page", broken)

    answer = site.client.get("/api/tickets", headers=site.headers("support"))

    problem = assert_problem(answer, 500, None)
    assert "hunter2" not in answer.text and "logged" in problem["detail"]


# --- the web console -----------------------------------------------------------------

WEB_CASES: list[tuple[str, str, str, dict[str, str] | None, int, str]] = [
    ("huge ticket number", "GET", "/tickets/INC-99999999999999999999999", None, 404, "Not found"),
    ("huge ticket number, comment", "POST", "/tickets/INC-99999999999999999999999/comments",
     {"body": "hi"}, 404, "Not found"),
    ("created_to after 9999", "GET", "/tickets?created_to=9999-12-31", None, 422, "out of range"),
    ("NUL in a comment", "POST", "/tickets/INC-000001/comments", {"body": "a\0b"}, 422, "NUL"),
    ("NUL in a filter", "GET", "/tickets?integration=a%00", None, 422, "NUL"),
    ("reason over 2 KiB", "POST", "/tickets/INC-000001/status",
     {"status": "closed", "reason": "r" * (REASON_MAX + 1)}, 422, "at most 2048"),
    ("unknown page", "GET", "/nowhere", None, 404, "Not found"),
    ("huge result id", "GET", "/integrations/a?before=99999999999999999999", None, 400, "before:"),
    ("result id not a number", "GET", "/integrations/a?before=1e3", None, 400, "before:"),
    ("unknown chart span", "GET", "/integrations/a?chart=1y", None, 400, "chart:"),
    ("NUL as a time zone", "GET", "/integrations/a?tz=%00", None, 422, "tz: must not contain NUL"),
    # Support's actions (issue 24, item 7).
    ("huge incident id", "POST", "/incidents/99999999999999999999/ack", {}, 404, "Not found"),
    ("incident id past bigint", "POST", "/incidents/9223372036854775808/ack", {}, 404,
     "Not found"),
    ("NUL in an incident id", "POST", "/incidents/1%00/ack", {}, 422, "path: must not contain NUL"),
    ("NUL in a window's reason", "POST", "/integrations/a/maintenance",
     {"starts_at": "2026-11-24T10:00", "ends_at": "2026-11-24T11:00", "reason": "a\0b"}, 422,
     "NUL"),
    ("window in the year 10000", "POST", "/integrations/a/maintenance",
     {"starts_at": "9999-12-31T23:59", "ends_at": "9999-12-31T23:59"}, 422,
     "give a date and time"),
    ("NUL in a window's start", "POST", "/integrations/a/maintenance",
     {"starts_at": "2026-11-24T10:00\0", "ends_at": "2026-11-24T11:00"}, 422,
     "give a date and time"),
    ("NUL in a window's name", "POST", "/integrations/a/maintenance/w%00/end", {}, 422,
     "path: must not contain NUL"),
    ("NUL in an integration", "POST", "/integrations/a%00/checks/run", {}, 422,
     "path: must not contain NUL"),
    ("NUL in a scenario", "POST", "/integrations/a/scenarios/s%00/run", {}, 422,
     "path: must not contain NUL"),
    ("NUL in a run id", "GET", "/e2e/runs/r%00", None, 422, "path: must not contain NUL"),
    ("huge run id", "GET", "/e2e/runs/" + "r" * 5000 + "/junit", None, 404, "Not found"),
    ("NUL in the window to change", "GET", "/integrations/a?window=%00", None, 422,
     "window: must not contain NUL"),
    ("unknown window to change", "GET", "/integrations/a?window=nope", None, 400, "window:"),
    ("NUL in a report's month", "GET", "/reports/monthly?month=2026-11%00", None, 422,
     "month: must not contain NUL"),
    ("a report's month of 13", "GET", "/reports/monthly?month=2026-13", None, 400,
     "month: give a month as YYYY-MM"),
    ("a report's month in the year 10000", "GET", "/reports/monthly?month=10000-01", None, 400,
     "month: give a month as YYYY-MM"),
    ("NUL in a report's client", "GET", "/reports/monthly?client=a%00", None, 422,
     "client: must not contain NUL"),
    ("huge report client", "GET", "/reports/monthly?client=" + "c" * 5000, None, 404,
     "Not found"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "url", "form", "status", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in WEB_CASES],
)
def test_console_answers_an_error_page(
    site: Site, method: str, url: str, form: dict[str, str] | None, status: int, words: str
) -> None:
    data = None if form is None else {"csrf": site.csrf, **form}

    answer = site.console.request(method, url, data=data)

    assert answer.status_code == status, answer.text[:500]
    assert answer.headers["content-type"].startswith("text/html")
    assert_security_headers(answer)
    assert words in answer.text


def test_console_login_with_nul_is_a_failed_login(site: Site) -> None:
    form = {"csrf": site.csrf, "username": "sup\0", "password": "whatever"}

    answer = site.console.post("/login", data=form)

    assert answer.status_code < 500 and "Wrong username or password" in answer.text


def test_console_unexpected_error_is_a_bare_page(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("password=hunter2")

    monkeypatch.setattr("intmon.web.pages_status.board", broken)

    answer = site.console.get("/board")

    assert answer.status_code == 500 and answer.headers["content-type"].startswith("text/html")
    assert_security_headers(answer)
    assert "hunter2" not in answer.text and "500" in answer.text
