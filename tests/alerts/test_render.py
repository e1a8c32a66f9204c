"""Message templates: every event in every locale, the facts each shows, escaping, strictness."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jinja2.exceptions import UndefinedError

from alerts.render import DIGESTIBLE, EVENTS, LOCALES, SUBJECT_MAX, plural_ru, render

FIRST_SEEN = datetime(2026, 3, 27, 15, 0, tzinfo=UTC)
MOSCOW_WALL = FIRST_SEEN.astimezone(ZoneInfo("Europe/Moscow")).strftime("%Y-%m-%d %H:%M")
LINK = "https://intmon.example/tickets/INC-000042"

FACTS: dict[str, Any] = {
    "ticket": 42,
    "integration_name": "Acme Broker",
    "integration_id": "acme",
    "family": "connectivity",
    "outcome": "timeout",
    "first_seen": FIRST_SEEN,
    "timezone": "Europe/Moscow",
    "base_url": "https://intmon.example/",
}

# What each event needs beyond the facts.
EXTRA: dict[str, dict[str, Any]] = {
    "incident.opened": {},
    "incident.resolved": {"resolved_at": datetime(2026, 3, 27, 16, 30, tzinfo=UTC)},
    "incident.reminder": {"reminder_number": 2, "max_reminders": 3},
    "escalation": {"level": 2, "unacknowledged_minutes": 30},
    "ticket.opened": {},
    "ticket.commented": {"comment": "Please rotate the token.", "author": "Anna"},
    "ticket.waiting_for_reply": {},
    "ticket.closed": {"close_reason": "recovered"},
    "ticket.sla_breached": {"due_at": datetime(2026, 3, 28, 15, tzinfo=UTC), "tier": "premium"},
    "test": {"contact_name": "Ops desk"},
}

TOPIC = {"en": "Partner API unreachable", "ru": "API партнёра недоступен"}
CYRILLIC_WORD = re.compile(r"[А-Яа-яЁё]{4,}")


def context(event: str, **changes: Any) -> dict[str, Any]:
    if event == "digest":
        items = [{**FACTS, **EXTRA[name], "event": name} for name in DIGESTIBLE]
        return {"items": items, "timezone": FACTS["timezone"], "base_url": FACTS["base_url"]}
    return {**FACTS, **EXTRA[event], **changes}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("event", EVENTS)
def test_every_event_renders_with_its_facts(event: str, locale: str) -> None:
    message = render(event, locale, context(event))
    for part in (message.text, message.html):
        assert "INC-000042" in part
        assert "Acme Broker" in part
        assert "(acme)" in part
        assert TOPIC[locale] in part
        assert "connectivity, timeout" in part  # family and failure class
        assert f"{MOSCOW_WALL} Europe/Moscow (UTC+03:00)" in part
        assert LINK in part
    if event != "test":  # a test message's subject names the contact, not a ticket
        assert "INC-000042" in message.subject
    assert "\n" not in message.subject
    assert len(message.subject) <= SUBJECT_MAX
    assert message.html.startswith("<!DOCTYPE html>")
    assert f'<html lang="{locale}">' in message.html


@pytest.mark.parametrize("event", EVENTS)
def test_russian_messages_are_in_russian(event: str) -> None:
    message = render(event, "ru", context(event))
    assert CYRILLIC_WORD.search(message.subject)
    assert CYRILLIC_WORD.search(message.text)
    assert CYRILLIC_WORD.search(message.html)
    english = render(event, "en", context(event))
    assert not CYRILLIC_WORD.search(english.subject + english.text + english.html)


@pytest.mark.parametrize(
    ("event", "locale", "subject", "phrase"),
    [
        (
            "incident.opened",
            "ru",
            "Открыт тикет INC-000042: Acme Broker — API партнёра недоступен",
            "Срочность: экстренная",
        ),
        (
            "incident.opened",
            "en",
            "[INC-000042] Incident opened: Acme Broker — Partner API unreachable",
            "Severity: emergency",
        ),
        (
            "ticket.waiting_for_reply",
            "ru",
            "Тикет INC-000042 ожидает вашего ответа: API партнёра недоступен",
            "Если вы не ответите в течение 2 дней, тикет будет закрыт",
        ),
        (
            "ticket.waiting_for_reply",
            "en",
            "[INC-000042] Waiting for your reply: Partner API unreachable",
            "If you do not reply within 2 days, the ticket will be closed",
        ),
        (
            "ticket.opened",
            "ru",
            "Для вас открыт тикет INC-000042: API партнёра недоступен",
            "открыли для вас тикет",
        ),
        (
            "ticket.commented",
            "en",
            "[INC-000042] New reply from support: Partner API unreachable",
            "Please rotate the token.",
        ),
        ("escalation", "ru", "Эскалация на уровень 2", "в течение 30 минут"),
        ("incident.reminder", "ru", "Напоминание 2 из 3: тикет INC-000042", "всё ещё открыт"),
        ("ticket.closed", "ru", "Тикет INC-000042 закрыт", "Причина: проверки снова проходят."),
        ("ticket.sla_breached", "en", "SLA breached", "no first response from support"),
        ("test", "en", "[intmon] Test notification for Ops desk", "intmon notify test"),
        ("digest", "en", "[intmon] 9 notifications: INC-000042", "9 new events for you"),
        ("digest", "ru", "[intmon] 9 уведомлений: INC-000042", "Новые события для вас (9)"),
    ],
)
def test_wording(event: str, locale: str, subject: str, phrase: str) -> None:
    message = render(event, locale, context(event))
    assert subject in message.subject
    assert phrase in message.text
    assert phrase in message.html


def test_digest_lists_every_event_and_the_auto_close_warning() -> None:
    message = render("digest", "en", context("digest"))
    assert message.text.count("Ticket:       INC-000042") == len(DIGESTIBLE)
    assert "Please rotate the token." in message.text
    assert "If you do not reply within 2 days" in message.text
    assert message.html.count("<li>") == len(DIGESTIBLE)


@pytest.mark.parametrize(
    ("days", "ru", "en"),
    [
        (1, "в течение 1 дня", "within 1 day,"),
        (2, "в течение 2 дней", "within 2 days,"),
        (5, "в течение 5 дней", "within 5 days,"),
    ],
)
def test_auto_close_days(days: int, ru: str, en: str) -> None:
    ctx = context("ticket.waiting_for_reply", auto_close_days=days)
    assert ru in render("ticket.waiting_for_reply", "ru", ctx).text
    assert en in render("ticket.waiting_for_reply", "en", ctx).text


@pytest.mark.parametrize(
    ("count", "form"),
    [
        (1, "день"),
        (2, "дня"),
        (4, "дня"),
        (5, "дней"),
        (11, "дней"),
        (14, "дней"),
        (21, "день"),
        (22, "дня"),
        (25, "дней"),
        (111, "дней"),
        (0, "дней"),
    ],
)
def test_plural_ru(count: int, form: str) -> None:
    assert plural_ru(count, "день", "дня", "дней") == form


# --- time zone and link ----------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_without_hours_and_base_url_times_are_utc_and_the_cli_is_shown(locale: str) -> None:
    ctx = context("incident.opened", timezone=None, base_url=None)
    message = render("incident.opened", locale, ctx)
    for part in (message.text, message.html):
        assert "2026-03-27 15:00 UTC" in part
        assert "intmon tickets show INC-000042" in part
        assert "https://" not in part


def test_iso_strings_and_ticket_numbers_are_accepted() -> None:
    ctx = context("incident.opened", ticket="INC-000042", first_seen="2026-03-27T15:00:00+00:00")
    assert f"{MOSCOW_WALL} Europe/Moscow" in render("incident.opened", "en", ctx).text


def test_naive_first_seen_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        render("incident.opened", "en", context("incident.opened", first_seen=datetime(2026, 3, 1)))


# --- escaping and the subject line -----------------------------------------------


def test_html_escapes_every_value_and_text_keeps_it() -> None:
    ctx = context(
        "ticket.commented",
        detail="<script>alert(1)</script>",
        integration_name="Acme <b>Broker</b>",
        comment='"quoted" & <i>tagged</i>',
    )
    message = render("ticket.commented", "en", ctx)
    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.html
    assert "Acme &lt;b&gt;Broker&lt;/b&gt;" in message.html
    assert "&#34;quoted&#34; &amp; &lt;i&gt;tagged&lt;/i&gt;" in message.html
    assert "<script>alert(1)</script>" in message.text
    assert "<b>" not in message.html


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(
    "name", ["Acme\nBroker\r\nLtd", "A" * 500, "  spaced\tout  "], ids=["newlines", "long", "tabs"]
)
def test_subject_is_one_line_of_bounded_length(name: str, locale: str) -> None:
    subject = render("incident.opened", locale, context("incident.opened", integration_name=name))
    assert subject.subject == " ".join(subject.subject.split())
    assert len(subject.subject) <= SUBJECT_MAX


# --- strictness -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "missing"),
    [
        ("incident.opened", "first_seen"),
        ("incident.opened", "integration_id"),
        ("incident.resolved", "resolved_at"),
        ("ticket.commented", "comment"),
        ("ticket.sla_breached", "due_at"),
        ("escalation", "level"),
        ("test", "contact_name"),
    ],
)
def test_a_missing_value_is_a_value_error_from_strict_undefined(event: str, missing: str) -> None:
    ctx = context(event)
    del ctx[missing]
    # render() turns Jinja's UndefinedError into a ValueError naming the value.
    with pytest.raises(ValueError, match=missing) as caught:
        render(event, "en", ctx)
    assert isinstance(caught.value.__cause__, UndefinedError)


def test_digest_needs_items_and_known_events() -> None:
    with pytest.raises(ValueError, match="items"):
        render("digest", "en", {"timezone": None})
    bad = context("digest")
    bad["items"][1] = {**bad["items"][1], "event": "digest"}
    with pytest.raises(ValueError, match=r"items\[1\]\.event"):
        render("digest", "en", bad)


@pytest.mark.parametrize(
    ("event", "locale", "message"),
    [
        ("incident.exploded", "en", "unknown event 'incident.exploded'"),
        ("incident.opened", "pl", "unknown locale 'pl'"),
    ],
)
def test_unknown_event_or_locale(event: str, locale: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render(event, locale, context("incident.opened"))


def test_unknown_time_zone_and_family_are_named() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        render("incident.opened", "en", context("incident.opened", timezone="Mars/Olympus"))
    with pytest.raises(ValueError, match="weather"):
        render("incident.opened", "en", context("incident.opened", family="weather"))


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("event", ["incident.opened", "ticket.waiting_for_reply", "ticket.closed"])
def test_with_a_public_url_mail_links_the_ticket_and_the_integration(
    event: str, locale: str
) -> None:
    message = render(event, locale, context(event))
    for part in (message.text, message.html):
        assert LINK in part
        assert "https://intmon.example/integrations/acme" in part
        assert "intmon tickets show" not in part
    bare = render(event, locale, context(event, base_url=None))
    for part in (bare.text, bare.html):
        assert "intmon tickets show INC-000042" in part
        assert "https://" not in part


@pytest.mark.parametrize("locale", LOCALES)
def test_a_platform_side_incident_links_its_integration(locale: str) -> None:
    message = render(
        "incident.opened",
        locale,
        context("incident.opened", ticket=None, incident=7, family="platform"),
    )
    assert "intmon incidents show 7" in message.text
    assert "https://intmon.example/integrations/acme" in message.text
    assert "/tickets/" not in message.text
