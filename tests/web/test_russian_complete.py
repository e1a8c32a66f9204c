"""Nothing English on a Russian page or in a Russian e-mail (issue 24, item 2).

Every console page a client or support opens, and every e-mail event, is rendered
in Russian; what remains after taking out the data (names, typed text, the
partner's own answer, URLs, commands) must hold no sentence of the English
catalogue and no run of three English words. Adding an English word to a page
without its Russian fails here.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import Engine

from alerts.monthly_report import monthly_report
from alerts.render import EVENTS, render
from alerts.wording import CLOSE_REASONS, OUTCOME_WORDS
from core.vocabulary.outcomes import Outcome
from integrations.registry import load_specs
from intmon.web.i18n import CATALOGUE
from intmon.web.report_print import printable_report
from tests.alerts.helpers import feed
from tests.alerts.test_render import context
from tests.web.conftest import NOW

# Three English words in a row (identifiers such as `auth_failure` are one word).
LATIN_RUN = re.compile(r"[A-Za-z][A-Za-z'’]+(?:[ ,:;.]+[A-Za-z][A-Za-z'’]+){2,}")
# Blocks that hold data, not words of ours: partner answers, typed values, the
# request and curl line, and markup.
DATA_BLOCKS = re.compile(
    r"<(pre|script|style|code)\b.*?</\1>|<span class=\"(?:text|languages|user)\">.*?</span>"
    r"|<[^>]+>",
    re.S,
)
URL = re.compile(r"\S+://\S+|/\S+")
COMMAND = re.compile(r"intmon [a-z][^\n]*")

# The data of the fixtures and of the e-mail context.
DATA = (
    "A Broker",
    "O Broker",
    "Acme Broker",
    "Please rotate the token.",
    "Paged the partner.",
    "Rotate the token, please.",
    "Ops desk",
    "Where are my leads?",
)


# What probes write in a result's detail (English, for support): kept on the page as
# data in <code>, next to the outcome said in the page's language.
TIMED_OUT = "ReadTimeout: no answer within 5.0 s from partner.example"
NO_NAME = "ConnectError: [Errno -2] Name or service not known"
PROBE_DETAILS = {
    Outcome.SERVER_ERROR: "HTTP 503 from GET /health: upstream connect error",
    Outcome.CONTRACT_VIOLATION: "body: $.status is missing, expected a string",
    Outcome.CLIENT_ERROR: "HTTP 400 from GET /health: the request was not understood",
    Outcome.DNS_FAILURE: NO_NAME,
}


def english_sentences() -> list[str]:
    """The catalogue's English values that Russian says differently (longer than
    a word: "URL" is the same in both)."""
    found = [
        text
        for key, text in CATALOGUE["en"].items()
        if text != CATALOGUE["ru"][key] and len(text.split()) >= 2
    ]
    found += [t for key, t in OUTCOME_WORDS["en"].items() if t != OUTCOME_WORDS["ru"][key]]
    found += [t for key, t in CLOSE_REASONS["en"].items() if t != CLOSE_REASONS["ru"][key]]
    # A value with {placeholders} is checked by its longest fixed part.
    parts = [max(re.split(r"\{[^}]*\}", text), key=len).strip(" .:—") for text in found]
    return [part for part in parts if len(part.split()) >= 2]


def words_of(text: str) -> str:
    text = html.unescape(DATA_BLOCKS.sub(" ", text))
    for value in DATA:
        text = text.replace(value, " ")
    text = COMMAND.sub(" ", URL.sub(" ", text))
    return re.sub(r"\s+", " ", text)


def english_in(text: str) -> list[str]:
    words = words_of(text)
    return [s for s in english_sentences() if s in words] + LATIN_RUN.findall(words)


def test_the_check_sees_english() -> None:
    """The scan itself: it finds an English sentence of the catalogue and English
    prose, and leaves data and Russian alone."""
    assert english_in("<p>Support answered — waiting for your reply</p>")
    assert english_in("<p>Nothing here is translated at all</p>")
    assert not english_in("<p>Поддержка ответила</p><pre>GET /health HTTP/1.1 from us</pre>")
    assert not english_in("<p>A Broker: API партнёра недоступен (auth_failure)</p>")


def pages_of(browser: Any, engine: Engine) -> dict[str, str]:
    """Every page, as support and as the client, with a thread, a recovery and a
    refused form, in Russian."""
    specs = {i: r.spec for i, r in load_specs(engine).items()}
    feed(engine, specs, [Outcome.OK] * 5, start=3, integration="a")
    # Failing checks of several outcomes, each with the probe's own (English) detail:
    # the pages say what happened in Russian and keep the detail as data.
    for minute, (outcome, detail) in enumerate(PROBE_DETAILS.items(), start=10):
        feed(engine, specs, [outcome], start=minute, integration="a", detail=detail)
    feed(engine, specs, [Outcome.TIMEOUT] * 3, start=20, integration="a", detail=TIMED_OUT)
    feed(engine, specs, [Outcome.DNS_FAILURE] * 3, start=20, integration="o", detail=NO_NAME)
    support, client = browser("sup"), browser("ann")
    pages: dict[str, str] = {}
    for session in (support, client):
        session.get("/tickets?lang=ru")
    support.post("/tickets/INC-000001/comments", {"body": "Paged the partner.", "internal": "1"})
    support.post("/tickets/INC-000001/comments", {"body": "Rotate the token, please."})
    client.post(
        "/tickets/new",
        {"section": "app_help", "integration": "a", "topic": "Where are my leads?"},
    )
    for who, session in (("support", support), ("client", client)):
        for path in (
            "/board",
            "/integrations/a",
            "/reports/monthly?month=2026-11&client=acme",
            "/tickets",
            "/tickets/new",
            "/tickets/INC-000001",
            "/tickets/INC-000003",
            "/tickets/INC-000404",
            "/no-such-page",
        ):
            pages[f"{who} {path}"] = session.get(path).text
        pages[f"{who} refused form"] = session.post(
            "/tickets/new", {"section": "documents_finance", "topic": "", "description": ""}
        ).text
    pages["support refused status"] = support.post(
        "/tickets/INC-000002/status", {"status": "open"}
    ).text
    pages["login"] = browser().get("/login?lang=ru").text
    return pages


def test_every_page_in_russian_has_no_english_left(browser: Any, engine: Engine) -> None:
    pages = pages_of(browser, engine)
    assert all('lang="ru"' in page for page in pages.values())
    left = {name: english_in(page) for name, page in pages.items()}
    assert {name: found for name, found in left.items() if found} == {}


def test_the_printable_monthly_report_in_russian_has_no_english_left(engine: Engine) -> None:
    """The page `GET /api/reports/monthly?format=html&lang=ru` answers (and `intmon
    report monthly --lang ru` writes); in English the same scan finds English."""
    report = monthly_report(engine, "acme", "2026-11", NOW)
    russian = printable_report(report, "ru")
    assert '<html lang="ru">' in russian and english_in(russian) == []
    assert english_in(printable_report(report, "en"))


@pytest.mark.parametrize("event", EVENTS)
def test_every_email_in_russian_has_no_english_left(event: str) -> None:
    message = render(event, "ru", context(event))
    for part in (message.subject, message.text, message.html):
        assert english_in(part) == [], (event, part)


def test_board_and_integration_page_say_outcomes_in_russian_and_keep_details(
    browser: Any, engine: Engine
) -> None:
    """Every failing outcome is said in Russian words and in a plain sentence; the
    probe's own detail stays on the page whole, as data (support needs it); no raw
    outcome name is left in the text."""
    pages = pages_of(browser, engine)
    named = "|".join(o.value for o in Outcome if "_" in o.value)
    raw_names = re.compile(rf"\b(?:{named})\b")
    for who in ("support", "client"):
        integration, board = pages[f"{who} /integrations/a"], pages[f"{who} /board"]
        for outcome, detail in PROBE_DETAILS.items():
            assert CATALOGUE["ru"][f"outcome.{outcome.value}"] in integration, outcome
            assert html.escape(OUTCOME_WORDS["ru"][outcome.value]) in integration, outcome
            assert f'<code class="detail raw">{html.escape(detail)}</code>' in integration
        # The board's latest result: acme's check timed out.
        assert CATALOGUE["ru"]["outcome.timeout"] in board
        assert html.escape(OUTCOME_WORDS["ru"]["timeout"]) in board
        assert f'<code class="detail raw">{html.escape(TIMED_OUT)}</code>' in board
        for page in (integration, board):
            assert raw_names.findall(words_of(page)) == [], who
    # Orbit's DNS failure is on support's board only.
    assert html.escape(NO_NAME) in pages["support /board"]
    assert html.escape(NO_NAME) not in pages["client /board"]
