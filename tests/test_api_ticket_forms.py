"""`POST /api/tickets` with seed 001's form (category, topic, fields) and the ticket's
attachments: refusals name the field, files are recognised by their bytes, and
only the ticket's client and support download them."""

from __future__ import annotations

import hashlib
import shlex
from pathlib import Path
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


# --- a ticket with its files in one call (multipart) ----------------------------------


def _form(ticket: dict[str, Any]) -> dict[str, str]:
    """The JSON body as multipart parts: a topic field `x` is the part `fields.x`."""
    parts = {name: str(value) for name, value in ticket.items() if name != "fields"}
    parts |= {f"fields.{name}": str(value) for name, value in ticket.get("fields", {}).items()}
    return parts


def _create(api: Api, files: list[tuple[str, bytes]], as_: str = "acme", **change: Any) -> Any:
    return api.post(
        "/api/tickets",
        as_=as_,
        data=_form({**CHATS, **change}),
        files=[("files", (name, content, "application/octet-stream")) for name, content in files],
    )


def test_a_ticket_and_its_files_in_one_multipart_call(api: Api) -> None:
    answer = _create(api, [("shot.png", PNG), ("bot.log", b"12:00 stopped\n")])
    assert answer.status_code == 201, answer.text
    ticket = answer.json()
    assert answer.headers["location"] == ticket["url"]
    assert (ticket["category"], ticket["topic_id"]) == ("system_errors", "chats")
    assert ticket["fields"] == CHATS["fields"]
    assert ticket["client"] == "acme"
    shot, log = ticket["attachments"]
    assert (shot["name"], shot["content_type"], shot["size"]) == ("shot.png", "image/png", 48)
    assert log["content_type"] == "text/plain; charset=utf-8"
    url = f"/api/tickets/{ticket['number']}/attachments/{shot['id']}"
    assert api.get(url, as_="acme").content == PNG
    assert api.get(url, as_="support").content == PNG
    # Another client neither sees the ticket nor its file.
    assert api.get(url, as_="orbit").status_code == 404
    assert api.get(f"/api/tickets/{ticket['number']}", as_="orbit").status_code == 404
    # A form without files (and empty optional parts, as curl -F x= sends) files too.
    plain = api.post(
        "/api/tickets", as_="acme", data={**_form(CHATS), "subtype": "", "integration": ""}
    )
    assert plain.status_code == 201, plain.text
    assert plain.json()["attachments"] == []


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([("big.txt", b"x" * 101)], "larger than 100 bytes"),
        ([("a.txt", b"a"), ("b.txt", b"b"), ("c.txt", b"c")], "at most 2 files"),
        ([("report.txt", b"\x7fELF\x02\x01\x01" + b"\x00" * 60)], "ELF"),
        ([("setup.pdf", b"MZ\x90\x00" + b"\x00" * 60)], "Windows executable"),
        ([("notes.txt", b"#!/bin/sh\nrm -rf /\n")], "script"),
        ([("photo.jpg", b"\x00\x01\x02\xff\xfe")], "not an accepted type"),
    ],
)
def test_a_refused_file_files_no_ticket(
    api: Api, engine: Engine, files: list[tuple[str, bytes]], message: str
) -> None:
    limits = {"attachments": {"max_bytes": 100, "max_per_ticket": 2}}
    with engine.begin() as connection:
        documents.store(connection, {documents.TICKET_FORMS: limits}, T0)
    before = len(api.get("/api/tickets", as_="acme").json())
    answer = _create(api, files)
    assert _problem_fields(answer) == ["attachments"]
    assert message in answer.json()["detail"]
    assert len(api.get("/api/tickets", as_="acme").json()) == before


@pytest.mark.parametrize(
    ("parts", "files", "field"),
    [
        ({"topic": ""}, [], "topic"),
        ({"fields.channel": "fax"}, [], "fields.channel"),
        ({"fields.account_number": "12a"}, [], "fields.account_number"),
        ({"tier": "gold"}, [], "tier"),
        ({"sectoin": "app_help"}, [], "sectoin"),  # a typo is named, not ignored
        ({"files": "not a file"}, [], "files"),
        ({"fields": '{"channel": "telegram"}'}, [], "fields"),
        ({}, [("screenshot", ("a.png", PNG, "image/png"))], "screenshot"),
        ({"topic": "a\x00b"}, [], "topic"),
    ],
)
def test_multipart_refusals_name_the_field(
    api: Api, parts: dict[str, str], files: list[Any], field: str
) -> None:
    answer = api.post(
        "/api/tickets", as_="acme", data={**_form(CHATS), **parts}, files=files or None
    )
    assert field in _problem_fields(answer), answer.text


def test_a_client_cannot_file_for_another_client_with_files(api: Api) -> None:
    answer = _create(api, [("shot.png", PNG)], client="orbit")
    assert _problem_fields(answer) == ["client"]
    assert [t["client"] for t in api.get("/api/tickets", as_="orbit").json()] == ["orbit"]
    # Support files for a client, with the files, and that client reads them.
    filed = _create(api, [("shot.png", PNG)], as_="support", client="orbit", integration="o")
    assert filed.status_code == 201, filed.text
    number, shot = filed.json()["number"], filed.json()["attachments"][0]
    got = api.get(f"/api/tickets/{number}/attachments/{shot['id']}", as_="orbit")
    assert got.status_code == 200 and got.content == PNG
    assert api.get(f"/api/tickets/{number}", as_="acme").status_code == 404


def test_neither_json_nor_multipart_is_refused(api: Api) -> None:
    answer = api.post(
        "/api/tickets", as_="acme", content=b"topic=x", headers={"content-type": "text/plain"}
    )
    assert answer.status_code == 415
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_the_openapi_document_declares_both_bodies(api: Api) -> None:
    operation = api.get("/openapi.json").json()["paths"]["/api/tickets"]["post"]
    content = operation["requestBody"]["content"]
    assert content["application/json"]["schema"]["properties"]["fields"]
    form = content["multipart/form-data"]["schema"]
    assert form["properties"]["files"]["items"] == {"type": "string", "format": "binary"}
    assert "^fields\\." in form["patternProperties"]
    assert {"topic", "body"} <= set(form["required"])


def test_the_readmes_curl_example_files_a_ticket_with_its_files(api: Api, tmp_path: Any) -> None:
    """The README's `curl -F …` example, sent part for part."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("**A ticket with its files in one call.**", 1)[1]
    command = section.split("```sh\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    data: dict[str, str] = {}
    files: list[tuple[str, tuple[str, bytes, str]]] = []
    for part in shlex.split(command):
        if "=" not in part or part.startswith(("Authorization", "https:")):
            continue
        name, value = part.split("=", 1)
        if value.startswith("@"):
            content = PNG if value.endswith(".png") else b"12:00 stopped\n"
            files.append((name, (value[1:], content, "application/octet-stream")))
        else:
            data[name] = value
    assert "-F" in command and len(files) == 2
    answer = api.post("/api/tickets", as_="acme", data=data, files=files)
    assert answer.status_code == 201, answer.text
    ticket = answer.json()
    assert ticket["fields"] == CHATS["fields"] and ticket["topic"] == CHATS["topic"]
    assert [a["name"] for a in ticket["attachments"]] == ["shot.png", "bot.log"]
