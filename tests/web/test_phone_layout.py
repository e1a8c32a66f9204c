"""Tickets on a phone and on a desktop, in a real headless Chromium (issue 24, item 3):
the ticket list, a ticket and the new-ticket form never scroll sideways at 390 px
or at 1440 px, as the client and as support, in English and in Russian.

Every other page, and the README's screenshots: tests/web/test_screenshots.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from alerts import tickets
from alerts.tickets import Actor
from tests.web.conftest import NOW, PASSWORD
from tests.web.test_browser import WAIT_S, chrome, console  # noqa: F401 (fixtures)

WIDTHS = (390, 1440)
PAGES = ("/tickets", "/tickets/INC-000001", "/tickets/new")


def use_width(driver: Any, width: int) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 700},
    )


def log_in(driver: Any, url: str, username: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.delete_all_cookies()
    driver.get(f"{url}/login")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(driver, WAIT_S).until(
        lambda d: "/login" not in d.current_url, message=f"{username} logged in"
    )


def overflow(driver: Any) -> tuple[int, int]:
    widths = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    return int(widths[0]), int(widths[1])


def a_conversation(engine: Engine) -> None:
    """Support's answer, the client's reply and an internal note, so the screenshots
    show a thread and the support view shows what the client's does not."""
    support, client = Actor("support", "sup"), Actor("client", "ann")
    with engine.begin() as connection:
        tickets.comment(
            connection,
            1,
            body="Paged the partner's on-call engineer.",
            actor=support,
            now=NOW,
            visibility="internal",
        )
        tickets.comment(
            connection,
            1,
            body="The partner rotated its keys this morning. Did you get a new token?",
            actor=support,
            now=NOW,
        )
        tickets.comment(
            connection,
            1,
            body="Yes: https://partner.example/dashboard/settings/api-keys/rotation-history"
            "?account=acme-international-holdings says it changed at 09:00.",
            actor=client,
            now=NOW,
        )


@pytest.mark.slow
def test_ticket_pages_never_scroll_sideways(
    chrome: Any,  # noqa: F811 (the fixture)
    console: Any,  # noqa: F811
    engine: Engine,
) -> None:
    a_conversation(engine)
    wide: list[str] = []
    for username, role in (("ann", "client"), ("sup", "support")):
        log_in(chrome, console.url, username)
        for lang in ("en", "ru"):
            for width in WIDTHS:
                use_width(chrome, width)
                for path in PAGES:
                    chrome.get(f"{console.url}{path}?lang={lang}&tz=Europe/Moscow")
                    scroll, inner = overflow(chrome)
                    assert inner == width, (path, width, inner)
                    if scroll > inner:
                        wide.append(f"{role} {lang} {width}px {path}: {scroll}px wide")
    assert wide == []
