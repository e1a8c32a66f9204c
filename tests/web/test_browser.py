"""End to end in a real headless Chromium: a client logs in, opens a ticket from the
form, answers in it, and sees support's status change arrive by itself (auto-refresh)
without losing the answer being typed.

Needs Debian's `chromium` and `chromium-driver` and the `selenium` package; without
them the test skips, and fails with INTMON_REQUIRE_SERVICES=1 (as in CI).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from alerts import tickets
from alerts.policy import Policy
from alerts.queries import ticket_detail
from alerts.tickets import Actor
from core.vocabulary.outcomes import Outcome
from intmon.serve import ConsoleServer
from tests.conftest import unavailable
from tests.web.conftest import NOW, PASSWORD, settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT_S = 15


LOCALES = Path("/usr/lib/chromium/locales")


def start_chromium(profile: Path, language: str = "en-US") -> Any:
    """Debian's headless Chromium, its own controls (file inputs, date pickers,
    validation bubbles) in `language`.

    On Linux Chromium takes the language of its own words from the environment
    (LANGUAGE), not from `--lang`, and reads them from /usr/lib/chromium/locales,
    where Debian's `chromium` brings en-US only: another language needs
    `chromium-l10n` (.ci/run installs it), or Chromium falls back to English."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        unavailable("selenium (pip install -e '.[test]')", error)
    for program in (CHROMIUM, CHROMEDRIVER):
        if not program.exists():
            unavailable("Chromium (apt-get install chromium chromium-driver)", OSError(program))
    if not (LOCALES / f"{language}.pak").exists():
        unavailable(f"Chromium in {language} (apt-get install chromium-l10n)", OSError(language))
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        f"--lang={language}",
        f"--accept-lang={language}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # to see CSP reports
    # LANGUAGE alone: LANG stays as it is (C.UTF-8), whose locale exists, so file
    # names that are not ASCII still reach Chromium whole.
    env = {**os.environ, "LANGUAGE": language.replace("-", "_")}
    try:
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER), env=env), options=options)
    except Exception as error:
        unavailable("Chromium", error)
    driver.set_page_load_timeout(WAIT_S)
    return driver


@pytest.fixture
def chrome(tmp_path: Path) -> Iterator[Any]:
    driver = start_chromium(tmp_path / "chromium")
    yield driver
    driver.quit()


@pytest.fixture
def chrome_ru(tmp_path: Path) -> Iterator[Any]:
    """Chromium speaking Russian in its own controls, as a Russian-speaking client's."""
    driver = start_chromium(tmp_path / "chromium-ru", "ru")
    yield driver
    driver.quit()


@pytest.fixture
def console(engine: Engine) -> Iterator[ConsoleServer]:
    # Auto-refresh every second, so the test sees it happen quickly.
    # Plain http on 127.0.0.1: the one case where the cookie cannot be Secure-only.
    with ConsoleServer(engine, settings(web_refresh_s=1, session_https_only=False)) as server:
        yield server


@pytest.mark.slow
def test_a_client_opens_a_ticket_answers_and_sees_the_status_change(
    chrome: Any, console: ConsoleServer, engine: Engine
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def wait_for(condition: Any, what: str) -> Any:
        # Auto-refresh replaces the thread and status while we read them: an element
        # found a moment ago may be gone ("stale"); read it again.
        return WebDriverWait(
            chrome, WAIT_S, ignored_exceptions=(StaleElementReferenceException,)
        ).until(lambda _driver: condition(), message=what)

    def status() -> str:
        return str(chrome.find_element(By.ID, "ticket-status").get_attribute("data-status"))

    # Log in as the client: the help page's ticket list, with acme's ticket only.
    chrome.get(f"{console.url}/tickets")
    assert "/login" in chrome.current_url
    chrome.find_element(By.NAME, "username").send_keys("ann")
    chrome.find_element(By.NAME, "password").send_keys(PASSWORD)
    chrome.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(lambda: chrome.current_url.endswith("/tickets"), "the ticket list after login")

    def rows() -> list[str | None]:
        return [
            row.get_attribute("id") for row in chrome.find_elements(By.CSS_SELECTOR, "tbody tr")
        ]

    # The URL changes before the new page is drawn: wait for its rows, not just the URL.
    wait_for(lambda: rows() == ["row-INC-000001"], "acme's ticket, and only it, in the list")

    # Open a new ticket through the form.
    chrome.find_element(By.ID, "create-ticket").click()
    # Seed 001: a category's topic (a link), then the topic's form.
    chrome.find_element(By.CSS_SELECTOR, "a[href*='topic_id=how_to']").click()
    wait_for(lambda: chrome.find_elements(By.ID, "new-ticket"), "the topic's form")
    chrome.find_element(By.NAME, "f_account_number").send_keys("42")
    chrome.find_element(By.NAME, "topic").send_keys("Where do I see lead statistics?")
    chrome.find_element(By.NAME, "description").send_keys("The statistics page is empty.")
    chrome.find_element(By.ID, "submit-ticket").click()
    wait_for(lambda: chrome.current_url.endswith("/tickets/INC-000003"), "the new ticket's page")
    wait_for(
        lambda: (
            "Where do I see lead statistics?" in chrome.find_element(By.TAG_NAME, "h1").text
            and status() == "open"
        ),
        "the new ticket's title and status",
    )

    # Answer in it.
    chrome.find_element(By.ID, "reply-body").send_keys("Also since yesterday.")
    chrome.find_element(By.ID, "send-reply").click()
    wait_for(
        lambda: "Also since yesterday." in chrome.find_element(By.ID, "ticket-thread").text,
        "the answer in the thread",
    )

    # Start typing another answer; meanwhile support takes the ticket in hand.
    draft = "I am still typing this"
    chrome.find_element(By.ID, "reply-body").send_keys(draft)
    with engine.begin() as connection:
        tickets.set_status(
            connection,
            3,
            "waiting_for_reply",
            actor=Actor("support", "sup"),
            now=NOW,
            policy=Policy(),
        )
    wait_for(lambda: status() == "waiting_for_reply", "the status change, by auto-refresh")
    wait_for(
        lambda: "Waiting for reply" in chrome.find_element(By.ID, "ticket-status").text,
        "the status label",
    )
    assert chrome.find_element(By.ID, "reply-body").get_attribute("value") == draft

    # A reload shows it too, and the list has it.
    chrome.refresh()
    wait_for(lambda: status() == "waiting_for_reply", "the status after a reload")
    chrome.get(f"{console.url}/tickets")
    wait_for(
        lambda: "Waiting for reply" in chrome.find_element(By.ID, "row-INC-000003").text,
        "the new status in the list",
    )
    detail = ticket_detail(engine, 3)
    assert [(c.author, c.body) for c in detail.comments] == [("ann", "Also since yesterday.")]


@pytest.mark.slow
def test_the_api_docs_render_offline_under_their_policy(
    chrome: Any, console: ConsoleServer
) -> None:
    """Swagger UI draws the API from this server's own files; the browser reports no
    resource refused by the page's Content-Security-Policy."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    chrome.get(f"{console.url}/docs")
    WebDriverWait(chrome, WAIT_S).until(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"),
        message="the endpoints drawn by Swagger UI",
    )
    assert "intmon" in chrome.find_element(By.CSS_SELECTOR, ".info .title").text
    paths = [e.text for e in chrome.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")]
    assert "/api/tickets" in " ".join(paths)
    refused = [
        entry["message"]
        for entry in chrome.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]
    assert refused == []


# --- history on the board and an integration's page (issue 23) -----------------------

# Integrations with a day of results each, for a board and a chart worth looking at.
FLEET = {
    "leadhub": ("Lead Hub", "acme", Outcome.OK),
    "shop-eu": ("Shop EU", "acme", Outcome.SERVER_ERROR),  # down for its last 40 min
    "crm-north": ("CRM North", "orbit", Outcome.SLOW),
}


def seed_a_day_of_history(engine: Engine, blocks: dict[str, str] | None = None) -> None:
    """Every 5 min over the day before NOW: latency rising and falling with the hour.
    `blocks`: YAML lines added to a fleet integration (its heartbeats, postbacks)."""
    import math
    from datetime import timedelta

    from core.vocabulary.outcomes import CheckResult
    from integrations.apply import apply
    from integrations.loader import load_text
    from integrations.results import record_results
    from tests.test_api import CONFIG

    extra = "".join(
        f"""  - id: {fleet_id}
    name: {name}
    kind: broker
    client: {client}
    base_url: https://{fleet_id}.example
    interval_s: 300
    checks: [{{name: health, path: /health}}]
{(blocks or {}).get(fleet_id, "")}"""
        for fleet_id, (name, client, _) in FLEET.items()
    )
    apply(engine, load_text(CONFIG + extra), NOW)
    expires = (NOW + timedelta(days=23)).timestamp()
    rows = []
    for step in range(288):
        at = NOW - timedelta(minutes=5 * (288 - step))
        wave = 0.18 + 0.12 * math.sin(step / 24) + (0.25 if step % 37 == 0 else 0)
        for fleet_id, (_, _, last) in FLEET.items():
            outcome = last if step >= 280 or (step % 53 == 7) else Outcome.OK
            if outcome is Outcome.OK and fleet_id == "leadhub" and step % 61 == 5:
                outcome = Outcome.TIMEOUT
            rows.append(
                CheckResult(
                    integration_id=fleet_id,
                    check_name="health",
                    outcome=outcome,
                    started_at=at + timedelta(seconds=7),
                    duration_s=wave * (1.6 if outcome is Outcome.SLOW else 1.0),
                    http_status=None
                    if outcome is Outcome.TIMEOUT
                    else 200
                    if outcome.is_up
                    else 503,
                    certificate_expires_at=expires,
                )
            )
    record_results(engine, rows)


@pytest.mark.slow
@pytest.mark.parametrize("width", [390, 1440])
def test_board_and_integration_page_fit_the_screen_and_draw_bars_and_chart(
    chrome: Any, console: ConsoleServer, engine: Engine, width: int
) -> None:
    """No horizontal scroll at 390 px (tables become cards) nor at 1440 px; the bars
    and the chart are drawn. (The README's screenshots: tests/web/test_screenshots.py.)"""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    seed_a_day_of_history(engine)
    height = 1400 if width < 600 else 1100
    chrome.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    chrome.get(f"{console.url}/login")
    chrome.find_element(By.NAME, "username").send_keys("sup")
    chrome.find_element(By.NAME, "password").send_keys(PASSWORD)
    chrome.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(chrome, WAIT_S).until(
        lambda d: "/login" not in d.current_url, message="logged in"
    )

    def fits() -> None:
        inner, scroll = chrome.execute_script(
            "return [window.innerWidth, document.documentElement.scrollWidth]"
        )
        assert inner == width and scroll <= inner, (chrome.current_url, scroll, inner)

    for path, name in (("/board", "board"), ("/integrations/leadhub", "integration")):
        chrome.get(f"{console.url}{path}")
        WebDriverWait(chrome, WAIT_S).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "[data-refresh-region]"),
            message=f"{path} drawn: {chrome.current_url} {chrome.page_source[:2000]}",
        )
        fits()
        # The script keeps the browser's time zone for the server (zones.py).
        assert "intmon_tz=" in chrome.execute_script("return document.cookie")
        if name == "board":
            marks = chrome.find_elements(By.CSS_SELECTOR, "#bar-leadhub .mark")
            assert len(marks) == 50 and all(m.size["width"] >= 2 for m in marks[:3])
            rows = chrome.find_elements(By.CSS_SELECTOR, "#integrations tbody tr")
            assert rows[0].get_attribute("data-state") == "down"
        else:
            chart = chrome.find_element(By.ID, "latency-chart")
            assert chart.size["width"] > 300 and chart.size["height"] > 80
            # The chart's 24 hours end with the hour in progress (13:00, still empty).
            assert len(chrome.find_elements(By.CSS_SELECTOR, "#latency-chart .dot.p50")) == 23


@pytest.mark.slow
def test_a_file_chosen_before_the_duplicate_warning_is_attached_after_it(
    chrome: Any, console: ConsoleServer, engine: Engine, tmp_path: Path
) -> None:
    """A browser cannot refill a file input: the file chosen before the warning is
    kept on the server, listed by name, and attached when the client sends anyway."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    # A long name, as cameras and phones make them: it must not widen a phone's page.
    long_name = "Screenshot_2026-12-07-10-00-00-123_com.partner.crm.dashboard.leads.png"
    shot = tmp_path / long_name
    shot.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    log = tmp_path / "bot.log"
    log.write_bytes(b"12:00 the bot stopped\n")

    def wait_for(condition: Any, what: str) -> Any:
        return WebDriverWait(chrome, WAIT_S).until(lambda _driver: condition(), message=what)

    # On a phone: 390 px.
    chrome.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 900, "deviceScaleFactor": 1, "mobile": True},
    )
    chrome.get(f"{console.url}/login")
    chrome.find_element(By.NAME, "username").send_keys("ann")
    chrome.find_element(By.NAME, "password").send_keys(PASSWORD)
    chrome.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(lambda: "/login" not in chrome.current_url, "logged in")
    # acme's INC-000001 is about integration `a`, system errors: this one is like it.
    chrome.get(f"{console.url}/tickets/new?category=system_errors&topic_id=integration")
    Select(chrome.find_element(By.NAME, "integration")).select_by_value("a")
    chrome.find_element(By.NAME, "f_account_number").send_keys("42")
    chrome.find_element(By.NAME, "topic").send_keys("Leads are not delivered")
    chrome.find_element(By.NAME, "description").send_keys("Since 10:00.")
    chrome.find_element(By.NAME, "files").send_keys(f"{shot}\n{log}")
    chrome.find_element(By.ID, "submit-ticket").click()
    wait_for(lambda: chrome.find_elements(By.ID, "duplicate"), "the duplicate warning")
    kept = chrome.find_element(By.ID, "staged-files").text
    assert long_name in kept.replace("\n", "") and "bot.log" in kept
    widths = chrome.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert widths == [390, 390], widths
    assert chrome.find_element(By.NAME, "files").get_attribute("value") == ""  # emptied
    # Leave the log out, send anyway.
    chrome.find_element(By.CSS_SELECTOR, "#staged-2 input[type=checkbox]").click()
    chrome.find_element(By.NAME, "duplicate_ok").click()
    chrome.find_element(By.ID, "submit-ticket").click()
    wait_for(lambda: chrome.current_url.endswith("/tickets/INC-000003"), "the new ticket")
    wait_for(lambda: long_name in chrome.page_source, "the kept file on the ticket")
    detail = ticket_detail(engine, 3)
    assert [a.name for a in detail.attachments] == [long_name]
