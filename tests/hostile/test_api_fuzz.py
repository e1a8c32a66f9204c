"""Hostile API input: whatever JSON arrives, a 2xx or a 4xx that says what is wrong.

hypothesis sends bodies to every endpoint that takes one (ticket create,
comment, status, section; maintenance window create; leads handed in and
delivery attempts recorded), as support, a client and a tester, through
FastAPI's TestClient on a migrated SQLite database with two integrations and
their tickets. The bodies are mostly the right shape
with wrong values (types, unicode, huge numbers, unknown sections and
statuses, bad dates and cron expressions), sometimes any JSON or no JSON.

For every answer: never a 5xx (the TestClient re-raises a server error as the
exception itself); a refusal is RFC 9457 problem details with the security
headers, and a 422 names the field at fault; and a refused request
(4xx) left every table as it was: the same number of rows everywhere and the
same tickets, so nothing was half-written.

A batch of leads with one bad lead in it is refused whole (nothing stored); a
lead's field values are data, never templates, whatever they contain.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from core import db
from core.db import Base
from core.settings import Settings
from core.vocabulary.outcomes import Outcome
from integrations.apply import apply
from integrations.loader import load_text
from integrations.registry import load_specs
from intmon.api.auth import create_token
from intmon.app import create_app
from intmon.migrations import upgrade
from tests.alerts.helpers import T0, config_text, feed

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class Site:
    """The app, its database and a token per role."""

    def __init__(self, engine: Engine, client: TestClient, tokens: dict[str, str]) -> None:
        self.engine = engine
        self.client = client
        self.tokens = tokens

    def post(self, url: str, caller: str, body: bytes) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[caller]}"}
        headers["Content-Type"] = "application/json"
        return self.client.post(url, content=body, headers=headers)

    def snapshot(self) -> dict[str, Any]:
        """Row counts of every table, and every ticket row as it is."""
        with self.engine.connect() as connection:
            counts = {
                table.name: connection.execute(select(func.count()).select_from(table)).scalar()
                for table in Base.metadata.sorted_tables
            }
            tickets = Base.metadata.tables["tickets"]
            rows = [tuple(row) for row in connection.execute(select(tickets).order_by("id"))]
        return {"counts": counts, "tickets": rows}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    path: Path = tmp_path_factory.mktemp("api-fuzz") / "api.db"
    engine = db.make_engine(f"sqlite:///{path}")
    upgrade(engine)
    apply(engine, load_text(config_text("a", "b", extra=DELIVERY)), T0)
    specs = {i: r.spec for i, r in load_specs(engine).items()}
    feed(engine, specs, [Outcome.AUTH_FAILURE] * 3, integration="a")  # INC-000001
    feed(engine, specs, [Outcome.SERVER_ERROR] * 3, integration="b")  # INC-000002
    tokens = {"support": create_token(engine, role="support", now=T0)[1]}
    tokens["client"] = create_token(engine, role="client", client="acme", now=T0)[1]
    tokens["tester"] = create_token(engine, role="tester", now=T0)[1]
    with TestClient(create_app(engine, Settings(redis_url=None))) as client:
        yield Site(engine, client, tokens)
    engine.dispose()


# Both integrations take leads: a template with a whole-field value, a joined one.
DELIVERY = (
    "    delivery: {path: /leads, required_fields: [email], body: "
    '{email: "{{ lead.email }}", age: "{{ lead.age }}", '
    'name: "{{ lead.first }} {{ lead.last }}"}}\n'
)

# --- what gets sent ----------------------------------------------------------

NASTY = [
    "",
    " ",
    "\0",
    "ünïcödé ✓ 日本語 🙂",
    "\u202e",
    "x" * 5000,
    "a" * 201,
    "'; DROP TABLE tickets; --",
    "${PARTNER_TOKEN}",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "2026-02-30T00:00:00Z",
    "not a date",
    "99 99 * * *",
    "0 0 30 2 *",
    "@never",
    "Mars/Olympus",
    "Europe/Warsaw\0",
    "25:00",
    "\ud800",
    "x" * 70_000,
]
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(NASTY),
)
any_json = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


@st.composite
def shaped(draw: st.DrawFn, good: dict[str, tuple[Any, ...]]) -> dict[str, Any]:
    """A body a real caller could send, with up to two fields spoilt (any value, or
    left out) and sometimes a field nobody declared."""
    document = {name: draw(st.sampled_from(values)) for name, values in good.items()}
    for name in draw(st.lists(st.sampled_from(sorted(good)), max_size=2, unique=True)):
        if draw(st.booleans()):
            document[name] = draw(any_json)
        else:
            del document[name]
    document.update(draw(st.dictionaries(st.text(max_size=8), json_scalars, max_size=1)))
    return document


def body(*shapes: dict[str, tuple[Any, ...]]) -> st.SearchStrategy[bytes]:
    """Mostly well-formed JSON of one of `shapes`; sometimes any JSON, cut JSON or no JSON."""
    documents = st.one_of(*[shaped(shape) for shape in shapes for _ in range(3)], any_json)
    return documents.flatmap(
        lambda value: st.sampled_from(
            [json.dumps(value).encode()] * 4 + [json.dumps(value).encode()[:-1], b"", b"\xff\xfe"]
        )
    )


SECTIONS = ("system_errors", "app_help", "documents_finance", "billing", "")
STATUSES = ("open", "in_progress", "waiting_for_reply", "closed", "rejected", "lost")
TICKET = body(
    {
        "section": SECTIONS,
        "subtype": ("metric_billing", "other", None),
        "topic": ("Exports fail", "Счёт за ноябрь", ""),
        "body": ("Where is the file?", "x" * 5000),
        "integration": ("a", "b", "zzz", None),
        "client": ("acme", "orbit", None),
        "tier": ("social", "standard", "premium", "gold", None),
    }
)
COMMENT = body({"body": ("Any news?", "", "ünïcödé"), "internal": (True, False, "yes")})
STATUS = body({"status": STATUSES, "reason": ("done", None, "")})
SECTION = body({"section": SECTIONS, "subtype": ("metric_billing", "other", None)})
WINDOW = body(
    {
        "id": ("upgrade", "Bad Name!", None),
        "reason": ("v3", ""),
        "starts_at": ("2026-12-01T22:00:00+03:00", "2026-12-01T22:00:00", "2026-02-30T00:00Z"),
        "ends_at": ("2026-12-02T02:00:00+03:00", "2026-12-01T21:00:00+03:00"),
        "timezone": ("Europe/Warsaw", "UTC", "Mars/Olympus", None),
    },
    {
        "id": ("nightly", None),
        "weekly": (
            {"days": ["sun"], "start": "02:00", "end": "04:00"},
            {"days": [], "start": "25:00", "end": "04:00"},
            {"days": ["someday"], "start": 1380, "end": "04:00"},
        ),
        "timezone": ("Europe/Moscow", "Europe/Warsaw\0"),
    },
    {
        "id": ("deploys", None),
        "cron": ("0 3 * * mon-fri", "* * *", "0 0 30 2 *", "@never"),
        "duration_minutes": (30, 0, 10**6),
        "timezone": ("Europe/Warsaw", None),
    },
)
GOOD_LEAD = {
    "id": "L-1",
    "integration": "a",
    "fields": {"email": "a@b.c", "age": 30, "first": "Ann", "last": "Lee"},
}
LEAD_FIELDS = (
    {"email": "x@y.z", "age": 1, "first": "{{ 7 * 7 }}", "last": "{% for x in () %}"},
    {"email": "", "age": None, "first": "A", "last": "B"},
    {"email": "x@y.z", "first": "no last name"},
    {"email": ["not", "a", "string"], "age": 10**30, "first": "\0", "last": "\u202e"},
    {},
)
LEADS = body(
    {
        "leads": (
            [GOOD_LEAD],
            [GOOD_LEAD, {**GOOD_LEAD, "id": "L-2", "fields": {"first": "no email"}}],
            [{**GOOD_LEAD, "id": "bad id with spaces"}],
            [{**GOOD_LEAD, "integration": "b"}, {**GOOD_LEAD, "integration": "zzz"}],
            [
                {**GOOD_LEAD, "id": f"F-{n}", "fields": fields}
                for n, fields in enumerate(LEAD_FIELDS)
            ],
            [],
            "not a list",
        )
    }
)
ATTEMPTS = body(
    {
        "attempts": (
            [
                {
                    "lead_id": "L-1",
                    "integration": "a",
                    "attempt": 1,
                    "at": "2026-11-23T12:00:00Z",
                    "outcome": "failed_auth",
                    "request": {"headers": {"Authorization": "Bearer x"}},
                }
            ],
            [
                {
                    "lead_id": "L-1",
                    "integration": "a",
                    "attempt": 0,
                    "at": "2026-11-23T12:00:00",
                    "outcome": "lost",
                }
            ],
            [
                {
                    "lead_id": "L-9",
                    "integration": "zzz",
                    "attempt": 1,
                    "at": "2026-11-23T12:00:00Z",
                    "outcome": "delivered",
                    "http_status": 999,
                }
            ],
            [],
        )
    }
)
numbers = st.sampled_from(["INC-000001", "INC-000002", "INC-000003", "INC-999999", "1"]) | st.text(
    max_size=12
)
callers = st.sampled_from(["support", "support", "client", "tester"])


# --- the property ------------------------------------------------------------


def names_a_field(problem: dict[str, Any]) -> bool:
    """A 422 in the problem shape names the field at fault, and each error its own."""
    errors = problem.get("errors") or []
    return bool(problem.get("field")) and bool(errors) and all(e.get("field") for e in errors)


def send_and_judge(site: Site, url: str, caller: str, payload: bytes) -> None:
    before = site.snapshot()

    answer = site.post(url, caller, payload)

    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        # One error shape (RFC 9457) with the pages' security headers.
        assert answer.headers["content-type"] == "application/problem+json", answer.text
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.json()["status"] == answer.status_code
    if answer.status_code == 422:
        assert names_a_field(answer.json()), answer.text
    if answer.status_code >= 400:
        assert site.snapshot() == before, f"{answer.status_code} {answer.text}"


@FUZZ
@given(callers, TICKET)
def test_ticket_create(site: Site, caller: str, payload: bytes) -> None:
    send_and_judge(site, "/api/tickets", caller, payload)


@FUZZ
@given(callers, numbers, COMMENT)
def test_ticket_comment(site: Site, caller: str, number: str, payload: bytes) -> None:
    send_and_judge(site, f"/api/tickets/{quote(number, safe='')}/comments", caller, payload)


@FUZZ
@given(callers, numbers, STATUS)
def test_ticket_status(site: Site, caller: str, number: str, payload: bytes) -> None:
    send_and_judge(site, f"/api/tickets/{quote(number, safe='')}/status", caller, payload)


@FUZZ
@given(callers, numbers, SECTION)
def test_ticket_section(site: Site, caller: str, number: str, payload: bytes) -> None:
    send_and_judge(site, f"/api/tickets/{quote(number, safe='')}/section", caller, payload)


@FUZZ
@given(callers, st.sampled_from(["a", "b", "zzz"]) | st.text(max_size=8), WINDOW)
def test_maintenance_create(site: Site, caller: str, integration: str, payload: bytes) -> None:
    url = f"/api/integrations/{quote(integration, safe='')}/maintenance"
    send_and_judge(site, url, caller, payload)


@FUZZ
@given(callers, LEADS)
def test_leads_submit(site: Site, caller: str, payload: bytes) -> None:
    send_and_judge(site, "/api/leads", caller, payload)


@FUZZ
@given(callers, ATTEMPTS)
def test_lead_deliveries_record(site: Site, caller: str, payload: bytes) -> None:
    send_and_judge(site, "/api/lead-deliveries", caller, payload)
