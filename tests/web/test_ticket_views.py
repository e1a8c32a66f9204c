"""A ticket told two ways (issue 24, item 1): the client's page in plain language,
support's with everything; the status said in words on both; times in the
viewer's zone."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from alerts.queries import list_tickets, ticket_detail
from core.vocabulary.outcomes import Outcome
from integrations.registry import load_specs
from tests.alerts.helpers import feed
from tests.web.conftest import PARTNER_SECRET


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def client_view(browser: Any, lang: str = "en") -> str:
    return browser("ann").get(f"/tickets/INC-000001?lang={lang}").text


def test_the_client_reads_what_broke_since_when_what_we_do_and_what_we_need(
    browser: Any,
) -> None:
    page = client_view(browser)
    words = text_of(page)
    # The topic names the partner (integration `a` is "A Broker").
    assert "INC-000001 · A Broker: the API refuses our credentials" in words
    assert "What broke The partner&#39;s API refused our token or key." in words
    assert "Since 23 Nov 2026, 12:00:00 UTC" in words  # to the second, zone named
    assert "What we are doing We are checking the credentials with the partner" in words
    assert "What we need from you Did you change the token or key" in words
    assert "Received — support will take it up soon" in words
    # The evidence a client can act on: our request, secrets hidden, and a curl line.
    assert 'id="ticket-evidence"' in page and 'id="curl"' in page
    assert "curl -sS -X GET" in page and "Authorization: [REDACTED]" in page
    assert PARTNER_SECRET not in page


@pytest.mark.parametrize(
    "hidden",
    [
        "First steps for support",
        "intmon status -i",  # a CLI command
        "auth_failure",  # raw terms
        "duration_ms",
        "Duration, ms",
        "Failure class",
        "Everything the monitor recorded",
        "2026-11-23T",  # ISO timestamps
    ],
)
def test_the_client_view_has_no_internal_notes_commands_or_raw_terms(
    browser: Any, hidden: str
) -> None:
    support = browser("sup")
    support.post("/tickets/INC-000001/comments", {"body": "Paged the partner.", "internal": "1"})
    page = client_view(browser)
    assert hidden not in page
    assert "Paged the partner." not in page


def test_support_sees_the_story_and_everything_under_it(browser: Any) -> None:
    support = browser("sup")
    support.post("/tickets/INC-000001/comments", {"body": "Paged the partner.", "internal": "1"})
    page = support.get("/tickets/INC-000001").text
    words = text_of(page)
    assert "What broke The partner&#39;s API refused our token or key." in words
    assert "New — nobody has answered yet" in words
    for present in (
        "Everything the monitor recorded",
        "First steps for support",
        "intmon status -i a --history 50",
        "auth_failure",
        "Duration, ms",
        "Paged the partner.",
        "(a)",  # the integration's id next to its name
    ):
        assert present in page, present


def test_after_support_answers_both_see_it_is_the_clients_turn(
    browser: Any, engine: Engine
) -> None:
    support = browser("sup")
    answered = support.post("/tickets/INC-000001/comments", {"body": "Rotate the token, please."})
    assert 'data-status="waiting_for_reply"' in answered.text
    assert "Support answered — waiting for the client&#39;s reply" in answered.text
    page = client_view(browser)
    assert 'data-status="waiting_for_reply"' in page
    assert "Support answered — waiting for your reply" in text_of(page)
    ru = client_view(browser, "ru")
    assert "Поддержка ответила — ждём вашего ответа" in text_of(ru)
    # "We are on it": support keeps the ticket in hand.
    kept = support.post(
        "/tickets/INC-000002/comments", {"body": "Looking into it.", "keep_working": "1"}
    )
    assert 'data-status="in_progress"' in kept.text
    assert "In progress — the next step is ours" in text_of(kept.text)


def test_times_are_in_the_viewers_zone(browser: Any) -> None:
    client = browser("ann")
    moscow = text_of(client.get("/tickets/INC-000001?tz=Europe/Moscow&lang=ru").text)
    assert "23 нояб. 2026, 15:00:00 MSK" in moscow
    # Kept for the session; an unknown zone is ignored, not an error.
    again = client.get("/tickets/INC-000001?tz=Mars/Olympus")
    assert again.status_code == 200 and "15:00:00 MSK" in text_of(again.text)
    # The browser's own zone, from the cookie console.js sets.
    fresh = browser("oli")
    fresh.client.cookies.set("intmon_tz", "America/New_York", domain="console.test")
    assert "23 нояб. 2026, 07:00:00 EST" in text_of(fresh.get("/tickets/INC-000002?lang=ru").text)


def test_a_hand_made_ticket_shows_the_clients_own_words(browser: Any) -> None:
    client = browser("ann")
    made = client.post(
        "/tickets/new",
        {
            "section": "app_help",
            "integration": "a",
            "topic": "Where are my leads?",
            "description": "Empty.",
        },
    )
    words = text_of(made.text)
    assert "INC-000003 · Where are my leads?" in words
    assert "What broke" not in words and 'id="ticket-evidence"' not in made.text


def test_validation_and_not_found_in_russian(browser: Any) -> None:
    client = browser("ann")
    client.get("/tickets/new?lang=ru")
    refused = client.post("/tickets/new", {"section": "app_help", "topic": "", "description": "x"})
    words = text_of(refused.text)
    assert refused.status_code == 422
    assert "Тема : не может быть пустым" in words
    assert "String should have" not in refused.text
    missing = client.get("/tickets/INC-000099")
    assert missing.status_code == 404
    assert "Тикета INC-000099 нет, или он не ваш." in missing.text
    assert "not found" not in missing.text
    other = client.get("/tickets/INC-000002")  # orbit's: not found for acme, same words
    assert other.status_code == 404 and "Тикета INC-000002 нет" in other.text


def test_the_monitors_own_comments_are_said_in_the_readers_language(
    browser: Any, engine: Engine
) -> None:
    specs = {i: r.spec for i, r in load_specs(engine).items()}
    feed(engine, specs, [Outcome.OK] * 5, start=3, integration="a")  # recovers
    feed(engine, specs, [Outcome.AUTH_FAILURE] * 3, start=10, integration="a")  # comes back
    stored = [c.body for c in ticket_detail(engine, 1).comments]
    assert any(body.startswith("Recovered at") for body in stored)  # English for API and CLI
    ru = text_of(client_view(browser, "ru"))
    assert "Восстановлено 23 нояб. 2026" in ru and "проверки снова проходят" in ru
    assert "Recovered at" not in ru and "failure" not in ru.lower()
    en = text_of(client_view(browser, "en"))
    assert "Recovered at 23 Nov 2026" in en
    assert "The partner&#39;s API refused our token or key." in en


def test_a_client_is_warned_of_a_ticket_like_one_already_open(
    browser: Any, engine: Engine, clock: list[datetime]
) -> None:
    client = browser("ann")
    # Seed 001's form: the topic "an integration does not work" of system errors.
    like_monitoring = {
        "category": "system_errors",
        "topic_id": "integration",
        "f_account_number": "42",
        "integration": "a",
        "topic": "Down?",
    }
    warned = client.post("/tickets/new", {**like_monitoring, "description": "Leads stuck."})
    assert warned.status_code == 409 and 'id="duplicate"' in warned.text
    assert 'href="/tickets/INC-000001"' in warned.text
    assert "Leads stuck." in warned.text  # what was typed is kept
    assert len(list_tickets(engine, client="acme")) == 1
    sent = client.post(
        "/tickets/new", {**like_monitoring, "description": "Other.", "duplicate_ok": "1"}
    )
    assert sent.url.path == "/tickets/INC-000003"
    # Another integration or question type is not alike; nor is a day-old ticket.
    other = client.post(
        "/tickets/new", {"section": "app_help", "topic": "How?", "description": "?"}
    )
    assert other.url.path == "/tickets/INC-000004"
    clock[0] += timedelta(hours=25)
    later = browser("ann").post(
        "/tickets/new", {"section": "app_help", "topic": "How?", "description": "?"}
    )
    assert later.url.path == "/tickets/INC-000005"
    # Support files for clients and is not asked.
    support = browser("sup")
    filed = support.post("/tickets/new", {**like_monitoring, "client": "acme", "description": "x"})
    assert filed.url.path == "/tickets/INC-000006"


def test_the_queue_in_order_of_arrival_or_by_deadline_with_the_deadline_shown(
    browser: Any, engine: Engine
) -> None:
    # A premium ticket filed later is due first (3 h against 24 h).
    support = browser("sup")
    support.post(
        "/tickets/new",
        {
            "section": "app_help",
            "client": "acme",
            "tier": "premium",
            "topic": "Urgent?",
            "description": "x",
        },
    )

    def order(url: str) -> list[str]:
        return re.findall(r'<tr id="row-(INC-\d+)"', support.get(url).text)

    assert order("/tickets") == ["INC-000001", "INC-000002", "INC-000003"]
    assert order("/tickets?order=due") == ["INC-000003", "INC-000001", "INC-000002"]
    page = support.get("/tickets?order=due&lang=ru").text
    assert "Ответить до" in page and "23 нояб. 2026, 16:00:00 UTC" in text_of(page)
    bad = support.get("/tickets?order=random")
    assert bad.status_code == 422 and 'id="error-order"' in bad.text
