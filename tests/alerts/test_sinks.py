"""Ticket sinks against real HTTP servers on 127.0.0.1.

One aiohttp app in a background thread plays three parts with in-memory state:
a webhook receiver, the few Jira REST v2 endpoints the Jira sink uses and the
few Zendesk v2 endpoints the Zendesk sink uses. Every request is recorded
(method, path, query, headers, body) and faults can be queued per endpoint.
Comment lists are served two to a page so the sinks' paging is exercised.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, get_args

import pytest
from aiohttp import web
from pydantic import TypeAdapter, ValidationError

from alerts.sinks import (
    SINKS,
    CommentSnapshot,
    SinkConfig,
    SinkError,
    SinksSection,
    TicketSink,
    TicketSnapshot,
    build_sink,
    parse_callback,
    verify_signature,
)
from alerts.sinks.base import inverse_status_map
from alerts.sinks.webhook import WebhookSink, sign
from tests.alerts.servers import serving

SECRET = "s3cr3t-token-XYZ"
HOOK_KEY = "hmac-key-ABC123"
EMAIL = "bot@example.com"
NOW = 1_700_000_000.0
PAGE = 2
JIRA_WORKFLOW = ["To Do", "In Progress", "Waiting for customer", "Done", "Won't Do"]
CONFIGS: TypeAdapter[Any] = TypeAdapter(SinkConfig)

TICKET = TicketSnapshot(
    number="INC-000042",
    client="acme",
    integration_id="acme-shop",
    section="integration",
    subtype="api",
    topic="Orders API answers 500",
    status="open",
    family="server_error",
    form={"endpoint": "/orders", "failures": 3, "since": datetime(2024, 5, 1, tzinfo=UTC)},
    created_at=datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
    url="https://intmon.example/tickets/42",
)


def comment(body: str = "We are looking into it.", visibility: str = "public") -> CommentSnapshot:
    return CommentSnapshot(
        id=7,
        author_kind="support",
        body=body,
        visibility=visibility,
        created_at=datetime(2024, 5, 1, 10, tzinfo=UTC),
    )


# --- the fake services -------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: str


@dataclass
class Fault:
    method: str
    path: str
    status: int
    body: str
    times: int
    headers: dict[str, str]


@dataclass
class Fakes:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    webhook_reply: tuple[int, str] = (200, '{"id": "ext-7"}')
    jira_issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    jira_workflow: list[str] = field(default_factory=lambda: list(JIRA_WORKFLOW))
    zendesk_tickets: dict[int, dict[str, Any]] = field(default_factory=dict)

    def reset(self) -> None:
        url = self.url
        self.__init__()  # type: ignore[misc]
        self.url = url

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        body: str = "",
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` requests to (method, path) with `status`.

        `{auth}` in the body is replaced by the decoded credentials the request carried,
        as careless servers echo them.
        """
        self.faults.append(Fault(method, path, status, body, times, headers or {}))

    def calls(self, method: str, path: str) -> list[Received]:
        return [r for r in self.received if r.method == method and r.path == path]


def _credentials(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    return base64.b64decode(header[6:]).decode() if header.startswith("Basic ") else ""


def _jira_comment(number: int, body: str, author: str = "intmon bot") -> dict[str, Any]:
    return {
        "id": str(10_000 + number),
        "author": {"displayName": author},
        "body": body,
        "created": "2024-05-01T10:00:00.000+0000",
    }


def _zendesk_comment(number: int, body: str, public: bool = True) -> dict[str, Any]:
    return {
        "id": 500 + number,
        "author_id": 99,
        "body": body,
        "public": public,
        "created_at": "2024-05-01T10:00:00Z",
    }


class FakeApp:
    def __init__(self, fakes: Fakes) -> None:
        self.fakes = fakes
        self.app = web.Application(middlewares=[self.record])
        route = self.app.router
        route.add_post("/hook", self.hook)
        route.add_post("/slow", self.slow)
        route.add_get("/rest/api/2/search", self.jira_search)
        route.add_post("/rest/api/2/issue", self.jira_create)
        route.add_get("/rest/api/2/issue/{key}", self.jira_issue)
        route.add_get("/rest/api/2/issue/{key}/comment", self.jira_comments)
        route.add_post("/rest/api/2/issue/{key}/comment", self.jira_add_comment)
        route.add_get("/rest/api/2/issue/{key}/transitions", self.jira_transitions)
        route.add_post("/rest/api/2/issue/{key}/transitions", self.jira_transition)
        route.add_get("/api/v2/tickets.json", self.zendesk_search)
        route.add_post("/api/v2/tickets.json", self.zendesk_create)
        route.add_get(r"/api/v2/tickets/{id:\d+}.json", self.zendesk_ticket)
        route.add_put(r"/api/v2/tickets/{id:\d+}.json", self.zendesk_update)
        route.add_get(r"/api/v2/tickets/{id:\d+}/comments.json", self.zendesk_comments)

    @web.middleware
    async def record(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        fakes = self.fakes
        fakes.received.append(
            Received(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                await request.text(),
            )
        )
        for fault in fakes.faults:
            if (fault.method, fault.path) == (request.method, request.path) and fault.times:
                fault.times -= 1
                body = fault.body.replace("{auth}", _credentials(request))
                return web.Response(status=fault.status, text=body, headers=fault.headers)
        if request.path.startswith(("/rest/", "/api/")):
            expected = {f"{EMAIL}:{SECRET}", f"{EMAIL}/token:{SECRET}"}
            if _credentials(request) not in expected:
                return web.json_response({"error": "unauthorized"}, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    # webhook receiver

    async def hook(self, request: web.Request) -> web.Response:
        status, body = self.fakes.webhook_reply
        if status == 204:
            return web.Response(status=204)
        return web.Response(status=status, text=body, content_type="application/json")

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(text="late")

    # Jira

    def _issue(self, request: web.Request) -> dict[str, Any]:
        issue = self.fakes.jira_issues.get(request.match_info["key"])
        if issue is None:
            raise web.HTTPNotFound(text='{"errorMessages": ["Issue does not exist"]}')
        return issue

    async def jira_search(self, request: web.Request) -> web.Response:
        match = re.fullmatch(r'labels = "(.+)"', request.query["jql"])
        assert match, request.query["jql"]
        keys = [k for k, i in self.fakes.jira_issues.items() if match[1] in i["labels"]]
        return web.json_response({"issues": [{"key": k} for k in keys], "total": len(keys)})

    async def jira_create(self, request: web.Request) -> web.Response:
        fields = (await request.json())["fields"]
        key = f"{fields['project']['key']}-{len(self.fakes.jira_issues) + 1}"
        self.fakes.jira_issues[key] = {**fields, "status": "To Do", "comments": []}
        return web.json_response({"id": "1", "key": key}, status=201)

    async def jira_issue(self, request: web.Request) -> web.Response:
        issue = self._issue(request)
        comments = issue["comments"]
        fields = {
            "status": {"name": issue["status"]},
            "comment": {"comments": comments, "total": len(comments)},
        }
        wanted = request.query.get("fields", "").split(",")
        return web.json_response({"fields": {k: v for k, v in fields.items() if k in wanted}})

    async def jira_comments(self, request: web.Request) -> web.Response:
        comments = self._issue(request)["comments"]
        start = int(request.query.get("startAt", "0"))
        size = min(int(request.query.get("maxResults", "50")), PAGE)
        page = comments[start : start + size]
        return web.json_response({"comments": page, "startAt": start, "total": len(comments)})

    async def jira_add_comment(self, request: web.Request) -> web.Response:
        comments = self._issue(request)["comments"]
        comments.append(_jira_comment(len(comments), (await request.json())["body"]))
        return web.json_response(comments[-1], status=201)

    def _transitions(self, issue: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"id": str(11 + 10 * n), "name": f"Move to {name}", "to": {"name": name}}
            for n, name in enumerate(self.fakes.jira_workflow)
            if name != issue["status"]
        ]

    async def jira_transitions(self, request: web.Request) -> web.Response:
        return web.json_response({"transitions": self._transitions(self._issue(request))})

    async def jira_transition(self, request: web.Request) -> web.Response:
        issue = self._issue(request)
        wanted = (await request.json())["transition"]["id"]
        for transition in self._transitions(issue):
            if transition["id"] == wanted:
                issue["status"] = transition["to"]["name"]
                return web.Response(status=204)
        return web.json_response({"errorMessages": ["no such transition"]}, status=400)

    # Zendesk

    def _ticket(self, request: web.Request) -> dict[str, Any]:
        ticket = self.fakes.zendesk_tickets.get(int(request.match_info["id"]))
        if ticket is None:
            raise web.HTTPNotFound(text='{"error": "RecordNotFound"}')
        return ticket

    @staticmethod
    def _public(ticket: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in ticket.items() if k != "comments"}

    async def zendesk_search(self, request: web.Request) -> web.Response:
        wanted = request.query.get("external_id")
        found = [t for t in self.fakes.zendesk_tickets.values() if t["external_id"] == wanted]
        return web.json_response({"tickets": [self._public(t) for t in found]})

    async def zendesk_create(self, request: web.Request) -> web.Response:
        fields = (await request.json())["ticket"]
        number = len(self.fakes.zendesk_tickets) + 1
        ticket = {
            "id": number,
            "subject": fields["subject"],
            "status": "new",
            "external_id": fields["external_id"],
            "tags": fields["tags"],
            "comments": [_zendesk_comment(0, fields["comment"]["body"])],
        }
        self.fakes.zendesk_tickets[number] = ticket
        return web.json_response({"ticket": self._public(ticket)}, status=201)

    async def zendesk_ticket(self, request: web.Request) -> web.Response:
        return web.json_response({"ticket": self._public(self._ticket(request))})

    async def zendesk_update(self, request: web.Request) -> web.Response:
        ticket = self._ticket(request)
        update = (await request.json())["ticket"]
        if "status" in update:
            ticket["status"] = update["status"]
        if "comment" in update:
            comments = ticket["comments"]
            reply = update["comment"]
            comments.append(_zendesk_comment(len(comments), reply["body"], reply["public"]))
        return web.json_response({"ticket": self._public(ticket)})

    async def zendesk_comments(self, request: web.Request) -> web.Response:
        comments = self._ticket(request)["comments"]
        page = int(request.query.get("page", "1"))
        more = page * PAGE < len(comments)
        next_page = f"{self.fakes.url}{request.path}?page={page + 1}" if more else None
        chunk = comments[(page - 1) * PAGE : page * PAGE]
        return web.json_response({"comments": chunk, "next_page": next_page})


@pytest.fixture(scope="module")
def server() -> Iterator[Fakes]:
    fakes = Fakes()
    with serving(FakeApp(fakes).app) as url:
        fakes.url = url
        yield fakes


@pytest.fixture
def fakes(server: Fakes, monkeypatch: pytest.MonkeyPatch) -> Fakes:
    server.reset()
    monkeypatch.setenv("SINK_TOKEN", SECRET)
    monkeypatch.setenv("HOOK_KEY", HOOK_KEY)
    return server


def config(kind: str, address: str, **overrides: Any) -> Any:
    documents: dict[str, dict[str, Any]] = {
        "webhook": {"url": f"{address}/hook", "secret": "${HOOK_KEY}"},
        "jira": {
            "base_url": address,
            "email": EMAIL,
            "api_token": "${SINK_TOKEN}",
            "project": "OPS",
        },
        "zendesk": {"base_url": address, "email": EMAIL, "api_token": "${SINK_TOKEN}"},
    }
    return CONFIGS.validate_python(
        {"name": f"{kind}-main", "kind": kind, **documents[kind], **overrides}
    )


@pytest.fixture
def make_sink(fakes: Fakes) -> Iterator[Callable[..., TicketSink]]:
    """Build a sink against the fakes (retry wait 0); all are closed afterwards."""
    built: list[TicketSink] = []

    def make(kind: str, base_url: str | None = None, **overrides: Any) -> TicketSink:
        settings = config(kind, base_url or fakes.url, **overrides)
        if kind == "webhook":  # a fixed clock makes the signature reproducible
            sink: TicketSink = WebhookSink(settings, retry_wait_s=0, clock=lambda: NOW)
        else:
            sink = build_sink(settings, retry_wait_s=0)
        built.append(sink)
        return sink

    yield make
    for sink in built:
        sink.close()


# --- registry and configuration ---------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(SINKS))
def test_registry_builds_each_configured_kind(kind: str) -> None:
    with build_sink(config(kind, "http://127.0.0.1:9")) as sink:
        assert type(sink) is SINKS[kind]
        assert (sink.name, sink.kind) == (f"{kind}-main", kind)


def test_registry_and_config_union_list_the_same_kinds() -> None:
    union = get_args(get_args(SinkConfig)[0])
    kinds = {get_args(model.model_fields["kind"].annotation)[0] for model in union}
    assert kinds == set(SINKS)
    with pytest.raises(ValidationError):
        CONFIGS.validate_python({"name": "x", "kind": "slack"})


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"api_token": SECRET}, "never inline"),
        ({"status_map": {"done": "Done"}}, "unknown intmon status done"),
        ({"base_url": "ftp://jira.example"}, "http:// or https://"),
        ({"name": "Not A Slug"}, "pattern"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)
def test_config_mistakes_are_named(overrides: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        config("jira", "https://jira.example", **overrides)


def test_status_map_overrides_keep_the_other_defaults() -> None:
    settings = config("jira", "https://jira.example", status_map={"closed": "Resolved"})
    assert settings.status_map["closed"] == "Resolved"
    assert settings.status_map["open"] == "To Do"


def test_sink_names_are_unique_per_file() -> None:
    sinks = [
        {"name": "desk", "kind": "zendesk", "base_url": "https://a.zendesk.com"},
        {"name": "desk", "kind": "zendesk", "base_url": "https://b.zendesk.com"},
    ]
    for sink in sinks:
        sink.update(email=EMAIL, api_token="${SINK_TOKEN}")
    with pytest.raises(ValidationError, match="repeated: desk"):
        SinksSection.model_validate({"sinks": sinks})


def test_inverse_status_map_prefers_the_first_intmon_status() -> None:
    inverse = inverse_status_map({"open": "Open", "in_progress": "open", "closed": "Done"})
    assert inverse == {"open": "open", "done": "closed"}


# --- webhook -------------------------------------------------------------------------------


def test_webhook_posts_a_signed_event_and_takes_the_id_from_the_answer(
    fakes: Fakes, make_sink: Callable[..., TicketSink]
) -> None:
    sink = make_sink("webhook")

    assert sink.create(TICKET, "create-1") == "ext-7"

    [sent] = fakes.calls("POST", "/hook")
    headers = sent.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["Idempotency-Key"] == "create-1"
    assert headers["X-Intmon-Timestamp"] == str(int(NOW))
    signature = headers["X-Intmon-Signature"]
    body = sent.body.encode()
    assert verify_signature(HOOK_KEY, headers["X-Intmon-Timestamp"], body, signature, now=NOW)
    event = json.loads(body)
    assert event["event"] == "ticket.created"
    assert event["idempotency_key"] == "create-1"
    assert event["ticket"]["number"] == "INC-000042"
    assert event["ticket"]["created_at"] == "2024-05-01T09:30:00+00:00"
    assert event["ticket"]["form"]["since"] == "2024-05-01T00:00:00+00:00"
    assert (event["comment"], event["status"]) == (None, "open")


@pytest.mark.parametrize(
    ("reply", "external_id"),
    [
        ((200, '{"id": 42}'), "42"),
        ((201, '{"id": "abc"}'), "abc"),
        ((200, "{}"), "INC-000042"),
        ((200, "accepted"), "INC-000042"),
        ((204, ""), "INC-000042"),
    ],
)
def test_webhook_external_id_falls_back_to_the_ticket_number(
    fakes: Fakes,
    make_sink: Callable[..., TicketSink],
    reply: tuple[int, str],
    external_id: str,
) -> None:
    fakes.webhook_reply = reply
    assert make_sink("webhook").create(TICKET, "create-1") == external_id


def test_webhook_comment_and_status_events(
    fakes: Fakes, make_sink: Callable[..., TicketSink]
) -> None:
    sink = make_sink("webhook")

    sink.comment("ext-7", TICKET, comment(), "comment-1")
    sink.comment("ext-7", TICKET, comment("internal note", "internal"), "comment-2")
    sink.transition("ext-7", TICKET, "closed", "status-1")

    events = [json.loads(r.body) for r in fakes.calls("POST", "/hook")]
    assert [e["event"] for e in events] == ["ticket.commented", "ticket.status_changed"]
    assert events[0]["comment"]["body"] == "We are looking into it."
    assert events[0]["external_id"] == "ext-7"
    assert (events[1]["status"], events[1]["comment"]) == ("closed", None)
    assert sink.fetch("ext-7") is None


def test_webhook_can_send_internal_comments_when_told(
    fakes: Fakes, make_sink: Callable[..., TicketSink]
) -> None:
    sink = make_sink("webhook", include_internal_comments=True)
    sink.comment("ext-7", TICKET, comment("internal note", "internal"), "comment-2")
    [sent] = fakes.calls("POST", "/hook")
    assert json.loads(sent.body)["comment"]["visibility"] == "internal"


BODY = b'{"ticket": "INC-000042"}'
GOOD = sign(HOOK_KEY, str(int(NOW)), BODY)


@pytest.mark.parametrize(
    ("timestamp", "body", "signature", "now", "valid"),
    [
        (str(int(NOW)), BODY, GOOD, NOW, True),
        (str(int(NOW)), BODY, GOOD, NOW + 300, True),
        (str(int(NOW)), BODY, GOOD, NOW + 301, False),
        (str(int(NOW)), BODY, GOOD, NOW - 301, False),
        (str(int(NOW)), BODY + b" ", GOOD, NOW, False),
        (str(int(NOW) + 1), BODY, GOOD, NOW, False),
        (str(int(NOW)), BODY, sign("other-key", str(int(NOW)), BODY), NOW, False),
        (str(int(NOW)), BODY, GOOD.removeprefix("sha256="), NOW, False),
        ("yesterday", BODY, GOOD, NOW, False),
        ("\u00b2", BODY, GOOD, NOW, False),
        (str(int(NOW)), BODY, "sha256=\u00e9t\u00e9", NOW, False),
    ],
    ids=[
        "good",
        "at-tolerance",
        "stale",
        "future",
        "tampered-body",
        "other-timestamp",
        "other-key",
        "no-prefix",
        "not-a-time",
        "non-ascii-digit",
        "non-ascii-signature",
    ],
)
def test_verify_signature(
    timestamp: str, body: bytes, signature: str, now: float, valid: bool
) -> None:
    assert verify_signature(HOOK_KEY, timestamp, body, signature, now=now) is valid


def signed(body: bytes, *, timestamp: float = NOW, key: str = HOOK_KEY) -> dict[str, str]:
    stamp = str(int(timestamp))
    return {"x-intmon-timestamp": stamp, "X-Intmon-Signature": sign(key, stamp, body)}


CALLBACK = json.dumps(
    {
        "ticket": "INC-000042",
        "status": "waiting_for_reply",
        "comments": [
            {
                "id": 9,
                "author": "Partner Agent",
                "body": "Which order ids?",
                "public": True,
                "created_at": "2024-05-01T11:00:00Z",
            },
            {
                "id": 10,
                "author": "Partner Agent",
                "body": "We are looking into it.\n\n[intmon:comment-1]",
                "public": True,
                "created_at": "2024-05-01T10:00:00Z",
            },
        ],
    }
).encode()


def test_parse_callback_accepts_a_good_signature() -> None:
    number, state = parse_callback(HOOK_KEY, signed(CALLBACK), CALLBACK, NOW + 5)

    assert number == "INC-000042"
    assert state.status == "waiting_for_reply"
    [foreign] = state.comments
    assert (foreign.external_id, foreign.author, foreign.body) == (
        "9",
        "Partner Agent",
        "Which order ids?",
    )
    assert foreign.created_at == datetime(2024, 5, 1, 11, tzinfo=UTC)


def test_webhook_sink_parses_callbacks_with_its_own_secret(
    make_sink: Callable[..., TicketSink],
) -> None:
    sink = make_sink("webhook")
    assert isinstance(sink, WebhookSink)
    assert sink.parse_callback(signed(CALLBACK), CALLBACK, NOW)[0] == "INC-000042"


@pytest.mark.parametrize(
    ("headers", "body", "problem"),
    [
        (signed(CALLBACK, key="wrong"), CALLBACK, "X-Intmon-Signature does not match"),
        (signed(CALLBACK, timestamp=NOW - 3600), CALLBACK, "3600 s from now"),
        ({"X-Intmon-Timestamp": str(int(NOW))}, CALLBACK, "missing X-Intmon-Signature"),
        (signed(b"{not json"), b"{not json", "Invalid JSON"),
        (signed(b"[]"), b"[]", "body: Input should be an object"),
        (signed(b'{"status": "open"}'), b'{"status": "open"}', "ticket: Field required"),
        (
            signed(b'{"ticket": "INC-1", "status": "done"}'),
            b'{"ticket": "INC-1", "status": "done"}',
            "status: Input should be 'open'",
        ),
    ],
    ids=["bad-signature", "stale", "no-signature", "bad-json", "not-object", "no-ticket", "status"],
)
def test_parse_callback_rejects(headers: dict[str, str], body: bytes, problem: str) -> None:
    with pytest.raises(SinkError, match=problem) as caught:
        parse_callback(HOOK_KEY, headers, body, NOW)
    assert caught.value.permanent


# --- Jira ---------------------------------------------------------------------------------


def test_jira_create_searches_then_creates_and_reuses_the_issue(
    fakes: Fakes, make_sink: Callable[..., TicketSink]
) -> None:
    sink = make_sink("jira")

    first = sink.create(TICKET, "create-1")
    again = sink.create(TICKET, "create-1")

    assert first == again == "OPS-1"
    assert [(r.method, r.path) for r in fakes.received] == [
        ("GET", "/rest/api/2/search"),
        ("POST", "/rest/api/2/issue"),
        ("GET", "/rest/api/2/search"),
    ]
    assert fakes.received[0].query["jql"] == 'labels = "intmon-INC-000042"'
    issue = fakes.jira_issues["OPS-1"]
    assert issue["summary"] == "INC-000042 Orders API answers 500"
    assert issue["labels"] == ["intmon", "intmon-INC-000042"]
    assert issue["issuetype"] == {"name": "Task"}
    assert "endpoint: /orders\nfailures: 3\n" in issue["description"]


def test_jira_comment_is_posted_once_per_key(
    fakes: Fakes, make_sink: Callable[..., TicketSink]
) -> None:
    sink = make_sink("jira")
    key = sink.create(TICKET, "create-1")
    for n in range(3):  # our marker will sit on the second page
        fakes.jira_issues[key]["comments"].append(_jira_comment(n, f"partner {n}", "Agent"))

    sink.comment(key, TICKET, comment(), "comment-1")
    sink.comment(key, TICKET, comment(), "comment-1")

    bodies = [c["body"] for c in fakes.jira_issues[key]["comments"]]
    assert bodies[3:] == ["We are looking into it.\n\n[intmon:comment-1]"]
    assert len(fakes.calls("POST", f"/rest/api/2/issue/{key}/comment")) == 1


def test_jira_internal_comments_are_not_sent(
    fakes: Fakes, make_sink: Callable[..., TicketSink]
) -> None:
    sink = make_sink("jira")
    key = sink.create(TICKET, "create-1")
    before = len(fakes.received)

    sink.comment(key, TICKET, comment("internal note", "internal"), "comment-2")

    assert len(fakes.received) == before
    assert fakes.jira_issues[key]["comments"] == []


@pytest.mark.parametrize(
    ("status", "jira_status", "transition_id"),
    [
        ("in_progress", "In Progress", "21"),
        ("waiting_for_reply", "Waiting for customer", "31"),
        ("closed", "Done", "41"),
        ("rejected", "Won't Do", "51"),
    ],
)
def test_jira_transition_picks_the_transition_to_the_mapped_status(
    fakes: Fakes,
    make_sink: Callable[..., TicketSink],
    status: str,
    jira_status: str,
    transition_id: str,
) -> None:
    sink = make_sink("jira")
    key = sink.create(TICKET, "create-1")

    sink.transition(key, TICKET, status, "status-1")
    sink.transition(key, TICKET, status, "status-1")  # already there: nothing to do

    assert fakes.jira_issues[key]["status"] == jira_status
    [posted] = fakes.calls("POST", f"/rest/api/2/issue/{key}/transitions")
    assert json.loads(posted.body) == {"transition": {"id": transition_id}}


def test_jira_transition_matches_status_names_case_insensitively(
    fakes: Fakes, make_sink: Callable[..., TicketSink]
) -> None:
    sink = make_sink("jira", status_map={"closed": "DONE"})
    key = sink.create(TICKET, "create-1")
    sink.transition(key, TICKET, "closed", "status-1")
    assert fakes.jira_issues[key]["status"] == "Done"


@pytest.mark.parametrize(
    ("status", "problem"),
    [
        ("rejected", "no transition from 'To Do' leads to \"Won't Do\""),
        ("archived", "intmon status 'archived' has no mapping"),
    ],
)
def test_jira_unreachable_status_is_permanent(
    fakes: Fakes, make_sink: Callable[..., TicketSink], status: str, problem: str
) -> None:
    fakes.jira_workflow.remove("Won't Do")
    sink = make_sink("jira")
    key = sink.create(TICKET, "create-1")

    with pytest.raises(SinkError, match=re.escape(problem)) as caught:
        sink.transition(key, TICKET, status, "status-1")

    assert caught.value.permanent
    assert fakes.calls("POST", f"/rest/api/2/issue/{key}/transitions") == []


@pytest.mark.parametrize(
    ("jira_status", "status"),
    [("Waiting for customer", "waiting_for_reply"), ("done", "closed"), ("Triage", None)],
)
def test_jira_fetch_maps_the_status_back_and_leaves_out_our_comments(
    fakes: Fakes,
    make_sink: Callable[..., TicketSink],
    jira_status: str,
    status: str | None,
) -> None:
    sink = make_sink("jira")
    key = sink.create(TICKET, "create-1")
    sink.comment(key, TICKET, comment(), "comment-1")
    fakes.jira_issues[key]["comments"].append(_jira_comment(5, "Which orders?", "Agent"))
    fakes.jira_issues[key]["status"] = jira_status

    state = sink.fetch(key)

    assert state is not None
    assert state.status == status
    [foreign] = state.comments
    assert (foreign.external_id, foreign.author, foreign.body) == (
        "10005",
        "Agent",
        "Which orders?",
    )
    assert foreign.public
    assert foreign.created_at == datetime(2024, 5, 1, 10, tzinfo=UTC)


# --- Zendesk ------------------------------------------------------------------------------


def test_zendesk_create_searches_then_creates_and_reuses_the_ticket(
    fakes: Fakes, make_sink: Callable[..., TicketSink]
) -> None:
    sink = make_sink("zendesk")

    first = sink.create(TICKET, "create-1")
    again = sink.create(TICKET, "create-1")

    assert first == again == "1"
    assert [(r.method, r.path) for r in fakes.received] == [
        ("GET", "/api/v2/tickets.json"),
        ("POST", "/api/v2/tickets.json"),
        ("GET", "/api/v2/tickets.json"),
    ]
    assert fakes.received[0].query == {"external_id": "INC-000042"}
    assert fakes.received[1].headers["Idempotency-Key"] == "create-1"
    ticket = fakes.zendesk_tickets[1]
    assert (ticket["subject"], ticket["tags"]) == ("INC-000042 Orders API answers 500", ["intmon"])
    assert ticket["comments"][0]["body"].endswith("\n\n[intmon:create-1]")
    assert len(fakes.zendesk_tickets) == 1


@pytest.mark.parametrize(("visibility", "public"), [("public", True), ("internal", False)])
def test_zendesk_comment_is_posted_once_per_key(
    fakes: Fakes,
    make_sink: Callable[..., TicketSink],
    visibility: str,
    public: bool,
) -> None:
    sink = make_sink("zendesk")
    ticket_id = sink.create(TICKET, "create-1")
    comments = fakes.zendesk_tickets[int(ticket_id)]["comments"]
    comments += [_zendesk_comment(n, f"partner {n}") for n in (1, 2)]  # ours lands on page 2

    sink.comment(ticket_id, TICKET, comment("Looking.", visibility), "comment-1")
    sink.comment(ticket_id, TICKET, comment("Looking.", visibility), "comment-1")

    assert [(c["body"], c["public"]) for c in comments[3:]] == [
        ("Looking.\n\n[intmon:comment-1]", public)
    ]
    assert len(fakes.calls("PUT", f"/api/v2/tickets/{ticket_id}.json")) == 1
    pages = [
        r.query.get("page")
        for r in fakes.calls("GET", f"/api/v2/tickets/{ticket_id}/comments.json")
    ]
    assert pages == [None, "2", None, "2"]


@pytest.mark.parametrize(
    ("status", "zendesk_status"),
    [
        ("open", "open"),
        ("in_progress", "open"),
        ("waiting_for_reply", "pending"),
        ("closed", "solved"),
        ("rejected", "closed"),
    ],
)
def test_zendesk_transition_sets_the_mapped_status(
    fakes: Fakes, make_sink: Callable[..., TicketSink], status: str, zendesk_status: str
) -> None:
    sink = make_sink("zendesk")
    ticket_id = sink.create(TICKET, "create-1")

    sink.transition(ticket_id, TICKET, status, "status-1")

    [put] = fakes.calls("PUT", f"/api/v2/tickets/{ticket_id}.json")
    assert json.loads(put.body) == {"ticket": {"status": zendesk_status}}
    assert fakes.zendesk_tickets[int(ticket_id)]["status"] == zendesk_status


def test_zendesk_unmapped_status_is_permanent(make_sink: Callable[..., TicketSink]) -> None:
    sink = make_sink("zendesk")
    with pytest.raises(SinkError, match="'archived' has no mapping") as caught:
        sink.transition("1", TICKET, "archived", "status-1")
    assert caught.value.permanent


@pytest.mark.parametrize(
    ("zendesk_status", "status"),
    [("open", "open"), ("pending", "waiting_for_reply"), ("solved", "closed"), ("hold", None)],
)
def test_zendesk_fetch_maps_the_status_back_and_leaves_out_our_comments(
    fakes: Fakes,
    make_sink: Callable[..., TicketSink],
    zendesk_status: str,
    status: str | None,
) -> None:
    sink = make_sink("zendesk")
    ticket_id = sink.create(TICKET, "create-1")
    sink.comment(ticket_id, TICKET, comment(), "comment-1")
    ticket = fakes.zendesk_tickets[int(ticket_id)]
    ticket["comments"] += [_zendesk_comment(7, "Which orders?", public=False)]
    ticket["status"] = zendesk_status

    state = sink.fetch(ticket_id)

    assert state is not None
    assert state.status == status
    [foreign] = state.comments  # neither the form nor our reply
    assert (foreign.external_id, foreign.author, foreign.body) == ("507", "99", "Which orders?")
    assert not foreign.public


# --- failures ------------------------------------------------------------------------------


def test_a_transient_failure_is_retried_once_inside_the_call(
    fakes: Fakes, make_sink: Callable[..., TicketSink]
) -> None:
    fakes.fail("POST", "/rest/api/2/issue", 503)
    sink = make_sink("jira")

    assert sink.create(TICKET, "create-1") == "OPS-1"

    assert len(fakes.calls("POST", "/rest/api/2/issue")) == 2
    assert len(fakes.calls("GET", "/rest/api/2/search")) == 2  # the look-up is repeated too
    assert list(fakes.jira_issues) == ["OPS-1"]


def test_a_second_transient_failure_is_left_to_the_outbox(
    fakes: Fakes, make_sink: Callable[..., TicketSink]
) -> None:
    fakes.fail("POST", "/api/v2/tickets.json", 502, times=5)
    sink = make_sink("zendesk")

    with pytest.raises(SinkError, match=r"POST /api/v2/tickets\.json: 502 Bad Gateway") as caught:
        sink.create(TICKET, "create-1")

    assert (caught.value.permanent, caught.value.status) == (False, 502)
    assert len(fakes.calls("POST", "/api/v2/tickets.json")) == 2


@pytest.mark.parametrize(
    ("status", "permanent"),
    [
        (400, True),
        (401, True),
        (403, True),
        (404, True),
        (409, True),
        (422, True),
        (408, False),
        (429, False),
        (500, False),
        (502, False),
        (503, False),
        (504, False),
    ],
)
def test_status_classification(
    fakes: Fakes, make_sink: Callable[..., TicketSink], status: int, permanent: bool
) -> None:
    fakes.fail("POST", "/hook", status, times=2)
    with pytest.raises(SinkError) as caught:
        make_sink("webhook").create(TICKET, "create-1")
    assert (caught.value.permanent, caught.value.status) == (permanent, status)
    assert len(fakes.calls("POST", "/hook")) == (1 if permanent else 2)


def test_retry_after_is_passed_to_the_outbox_without_retrying_now(
    fakes: Fakes, make_sink: Callable[..., TicketSink]
) -> None:
    fakes.fail("POST", "/hook", 429, headers={"Retry-After": "7"})
    with pytest.raises(SinkError) as caught:
        make_sink("webhook").create(TICKET, "create-1")
    assert (caught.value.permanent, caught.value.retry_after_s) == (False, 7.0)
    assert len(fakes.calls("POST", "/hook")) == 1


@pytest.mark.parametrize(
    ("kind", "method", "path"),
    [
        ("jira", "GET", "/rest/api/2/search"),
        ("jira", "POST", "/rest/api/2/issue"),
        ("zendesk", "GET", "/api/v2/tickets.json"),
        ("zendesk", "POST", "/api/v2/tickets.json"),
    ],
)
def test_a_client_error_is_permanent_and_names_no_secret(
    fakes: Fakes, make_sink: Callable[..., TicketSink], kind: str, method: str, path: str
) -> None:
    fakes.fail(method, path, 400, '{"errorMessages": ["bad request from {auth}"]}')
    sink = make_sink(kind)

    with pytest.raises(SinkError) as caught:
        sink.create(TICKET, "create-1")

    message = str(caught.value)
    assert caught.value.permanent
    assert f"{kind} sink '{kind}-main': {method} {path}: 400 Bad Request" in message
    assert "[REDACTED]" in message
    assert SECRET not in message
    assert "?" not in message and "INC-000042" not in message  # no query string
    assert len(fakes.calls(method, path)) == 1


def test_secrets_travel_only_in_the_authorization_header(
    fakes: Fakes, make_sink: Callable[..., TicketSink]
) -> None:
    for kind in ("webhook", "jira", "zendesk"):
        sink = make_sink(kind)
        external_id = sink.create(TICKET, "create-1")
        sink.comment(external_id, TICKET, comment(), "comment-1")
        sink.transition(external_id, TICKET, "closed", "status-1")
        sink.fetch(external_id)

    assert {r.path.split("/")[1] for r in fakes.received} == {"hook", "rest", "api"}
    for request in fakes.received:
        logged = json.dumps([request.path, request.query, request.body, request.headers])
        assert HOOK_KEY not in logged
        without_auth = {k: v for k, v in request.headers.items() if k != "Authorization"}
        logged = json.dumps([request.path, request.query, request.body, without_auth])
        assert SECRET not in logged
        assert SECRET not in request.headers.get("Authorization", "")  # it is encoded


def test_connection_refused_is_transient(make_sink: Callable[..., TicketSink]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(SinkError, match="GET /rest/api/2/search: ConnectError") as caught:
        make_sink("jira", closed).create(TICKET, "create-1")
    assert not caught.value.permanent


def test_a_timeout_is_transient(fakes: Fakes, make_sink: Callable[..., TicketSink]) -> None:
    sink = make_sink("webhook", url=f"{fakes.url}/slow", timeout_s=0.2)
    with pytest.raises(SinkError, match=r"POST /slow: no answer within 0\.2 s") as caught:
        sink.create(TICKET, "create-1")
    assert not caught.value.permanent


def test_a_missing_secret_is_permanent_and_named(
    fakes: Fakes, make_sink: Callable[..., TicketSink], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SINK_TOKEN")
    with pytest.raises(SinkError, match="environment variable SINK_TOKEN is not set") as caught:
        make_sink("zendesk").create(TICKET, "create-1")
    assert caught.value.permanent
    assert fakes.received == []


def test_a_malformed_idempotency_key_is_a_programming_error(
    make_sink: Callable[..., TicketSink],
) -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        make_sink("jira").comment("OPS-1", TICKET, comment(), "two words")
