"""`POST /api/tickets` with seed 001's form (category, topic, fields) and the ticket's
attachments: refusals name the field, files are recognised by their bytes, and
only the ticket's client and support download them."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sqlalchemy import Engine

from alerts import documents
from alerts.ticket_forms import TicketFormsConfig
from tests import test_api
from tests.alerts.helpers import T0
from tests.test_api import Api

# The API's fixtures: two clients' integrations, tokens for acme, orbit and support.
engine = test_api.engine
api = test_api.api

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
CHATS = {
    "topic": "The bot stopped answering",
    "body": "Since 10:00 the bot does not answer in Telegram.",
    "category": "system_errors",
    "topic_id": "chats",
    "fields": {"account_number": "123456", "chat_id": "c-77", "channel": "telegram"},
}


def _problem_fields(answer: Any) -> list[str]:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    return [error["field"] for error in answer.json()["errors"]]


def test_a_form_ticket_keeps_its_category_topic_and_fields(api: Api) -> None:
    answer = api.post("/api/tickets", as_="acme", json=CHATS)
    assert answer.status_code == 201, answer.text
    ticket = answer.json()
    assert ticket["section"] == "system_errors"  # from the category
    assert (ticket["category"], ticket["topic_id"]) == ("system_errors", "chats")
    assert ticket["fields"] == CHATS["fields"]
    assert ticket["attachments"] == []
    again = api.get(f"/api/tickets/{ticket['number']}", as_="acme").json()
    assert again["fields"] == CHATS["fields"]


def test_documents_finance_topic_gives_the_subtype(api: Api) -> None:
    form = {
        **CHATS,
        "category": "documents_finance",
        "topic_id": "metric_billing",
        "fields": {"account_number": "1", "period": "2026-11"},
    }
    ticket = api.post("/api/tickets", as_="acme", json=form).json()
    assert (ticket["section"], ticket["subtype"]) == ("documents_finance", "metric_billing")


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"fields": {"channel": "telegram"}}, ["fields.account_number", "fields.chat_id"]),
        ({"fields": {**CHATS["fields"], "channel": "fax"}}, ["fields.channel"]),
        ({"fields": {**CHATS["fields"], "account_number": "12a"}}, ["fields.account_number"]),
        ({"fields": {**CHATS["fields"], "call_id": "1"}}, ["fields.call_id"]),
        ({"fields": {**CHATS["fields"], "chat_id": ["x"]}}, ["fields.chat_id"]),
        ({"category": "nope"}, ["category"]),
        ({"topic_id": "telephonyy"}, ["topic_id"]),
        ({"topic_id": None}, ["topic_id"]),
        ({"section": "app_help"}, ["section"]),
        ({"category": None}, ["category"]),
    ],
)
def test_form_refusals_name_the_field(api: Api, change: dict[str, Any], fields: list[str]) -> None:
    answer = api.post("/api/tickets", as_="acme", json={**CHATS, **change})
    found = _problem_fields(answer)
    named = [f for f in found for wanted in fields if f == wanted or f.startswith(wanted + ".")]
    assert named and all(any(f.startswith(w) for f in found) for w in fields), found


def test_a_ticket_without_a_form_still_needs_its_section(api: Api) -> None:
    plain = {"topic": "t", "body": "b"}
    assert _problem_fields(api.post("/api/tickets", as_="acme", json=plain)) == ["section"]
    answer = api.post("/api/tickets", as_="acme", json={**plain, "section": "app_help"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["category"] is None


def test_a_configured_form_is_the_one_checked(api: Api, engine: Engine) -> None:
    forms = TicketFormsConfig.model_validate(
        {
            "categories": [
                {
                    "id": "billing",
                    "section": "app_help",
                    "label": {"en": "Billing", "ru": "Оплата"},
                    "topics": [
                        {
                            "id": "invoice",
                            "label": {"en": "Invoice", "ru": "Счёт"},
                            "fields": [
                                {
                                    "name": "invoice_no",
                                    "label": {"en": "Invoice", "ru": "Счёт"},
                                    "type": "number",
                                    "required": True,
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )
    with engine.begin() as connection:
        documents.store(connection, {documents.TICKET_FORMS: forms.model_dump(mode="json")}, T0)
    form = {**CHATS, "category": "billing", "topic_id": "invoice", "fields": {"invoice_no": "x"}}
    assert _problem_fields(api.post("/api/tickets", as_="acme", json=form)) == ["fields.invoice_no"]
    form["fields"] = {"invoice_no": 42}
    created = api.post("/api/tickets", as_="acme", json=form)
    assert created.status_code == 201, created.text
    assert created.json()["fields"] == {"invoice_no": "42"}
    assert _problem_fields(api.post("/api/tickets", as_="acme", json=CHATS)) == ["category"]


# --- attachments --------------------------------------------------------------------


def _new(api: Api) -> str:
    answer = api.post("/api/tickets", as_="acme", json=CHATS)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["number"])


def _attach(api: Api, number: str, *files: tuple[str, bytes], as_: str = "acme") -> Any:
    return api.post(
        f"/api/tickets/{number}/attachments",
        as_=as_,
        files=[("files", (name, content, "application/octet-stream")) for name, content in files],
    )


def test_a_file_is_attached_and_downloaded_by_its_client_and_support(api: Api) -> None:
    number = _new(api)
    answer = _attach(api, number, ("../../etc/screen shot.png", PNG), ("log.txt", b"a,b\n1,2\n"))
    assert answer.status_code == 201, answer.text
    shot, log = answer.json()
    assert (shot["name"], shot["content_type"], shot["size"]) == (
        "screen shot.png",
        "image/png",
        48,
    )
    assert shot["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert log["content_type"] == "text/plain; charset=utf-8"
    url = f"/api/tickets/{number}/attachments/{shot['id']}"
    for who in ("acme", "support"):
        got = api.get(url, as_=who)
        assert got.status_code == 200
        assert got.content == PNG
        assert got.headers["content-type"] == "image/png"
        assert got.headers["content-disposition"].startswith("attachment;")
        assert got.headers["x-content-type-options"] == "nosniff"
    # Another client does not learn the ticket or the file exists.
    assert api.get(url, as_="orbit").status_code == 404
    assert _attach(api, number, ("x.png", PNG), as_="orbit").status_code == 404
    # A file of another ticket is not found through this one.
    other = _new(api)
    assert api.get(f"/api/tickets/{other}/attachments/{shot['id']}").status_code == 404
    detail = api.get(f"/api/tickets/{number}", as_="acme").json()
    assert [a["name"] for a in detail["attachments"]] == ["screen shot.png", "log.txt"]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("report.txt", b"\x7fELF\x02\x01\x01" + b"\x00" * 60),
        ("invoice.pdf", b"MZ\x90\x00\x03" + b"\x00" * 60),
        ("notes.txt", b"#!/bin/sh\nrm -rf /\n"),
        ("data.csv", b"PK\x03\x04" + b"\x00" * 30),
        ("photo.jpg", b"\x00\x01\x02\xff\xfe"),  # no known kind
    ],
)
def test_executables_and_unknown_files_are_refused(api: Api, name: str, content: bytes) -> None:
    number = _new(api)
    answer = _attach(api, number, (name, content))
    assert _problem_fields(answer) == ["attachments"]
    assert api.get(f"/api/tickets/{number}", as_="acme").json()["attachments"] == []


def test_the_count_and_size_limits(api: Api, engine: Engine) -> None:
    limits = {"attachments": {"max_bytes": 100, "max_per_ticket": 2}}
    with engine.begin() as connection:
        documents.store(connection, {documents.TICKET_FORMS: limits}, T0)
    number = _new(api)
    too_big = _attach(api, number, ("big.txt", b"x" * 101))
    assert _problem_fields(too_big) == ["attachments"]
    assert "larger than 100 bytes" in too_big.json()["detail"]
    assert _attach(api, number, ("a.txt", b"a"), ("b.txt", b"b")).status_code == 201
    third = _attach(api, number, ("c.txt", b"c"))
    assert _problem_fields(third) == ["attachments"]
    assert "at most 2 files" in third.json()["detail"]
