"""Support's actions in a real headless Chromium, on a phone (390 px) and a desktop
(1440 px), in English and Russian: acknowledge on the board, run a check now,
declare a window through the form (and a refused one), run a scenario and open
its page. Each page after an action says what happened, and none scrolls sideways.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from integrations.maintenance import list_windows
from tests.web.test_actions import world  # noqa: F401 (the fixture)
from tests.web.test_browser import WAIT_S, chrome, console  # noqa: F401 (fixtures)
from tests.web.test_phone_layout import log_in, overflow, use_width


def click(driver: Any, selector: str) -> None:
    """Press a button in one step: the page's regions are redrawn every second."""
    driver.execute_script(f"document.querySelector({selector!r}).click()")


def said_after(driver: Any, selector: str, *, url_part: str | None = None) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT_S).until(
        lambda d: d.find_elements(By.ID, "flash") and (url_part or "") in d.current_url,
        message=f"a message after {selector}: {driver.current_url}",
    )
    text: str = driver.find_element(By.ID, "flash").text
    return text


def fits(driver: Any, width: int, wide: list[str], where: str) -> None:
    scroll, inner = overflow(driver)
    assert inner == width
    if scroll > inner:
        wide.append(f"{where} at {width}px: {scroll}px wide")


@pytest.mark.slow
@pytest.mark.parametrize("width", [390, 1440])
def test_support_acts_in_a_browser_without_scrolling_sideways(
    chrome: Any,  # noqa: F811 (the fixture)
    console: Any,  # noqa: F811
    world: Engine,  # noqa: F811
    width: int,
) -> None:
    wide: list[str] = []
    use_width(chrome, width)
    log_in(chrome, console.url, "sup")

    chrome.get(f"{console.url}/board?lang=en&tz=Europe/Moscow")
    click(chrome, "#ack-1 button")
    assert "Incident #1 acknowledged" in said_after(chrome, "#ack-1")
    fits(chrome, width, wide, "board after acknowledging")

    chrome.get(f"{console.url}/integrations/a")
    click(chrome, "#run-health button")
    told = said_after(chrome, "#run-health")
    assert "Checks run now: 1, failing: 1." in told and "health: connection refused" in told
    fits(chrome, width, wide, "integration after a run now")

    # The form, as a person fills it: local times of the viewer's zone (Moscow).
    chrome.get(f"{console.url}/integrations/a?lang=ru")
    chrome.execute_script(
        "document.getElementById('starts_at').value = '2026-11-23T15:00';"
        "document.getElementById('ends_at').value = '2026-11-23T14:00';"
        "document.getElementById('reason').value = 'обновление базы';"
        "document.querySelector('#maintenance-form button[type=submit]').click();"
    )
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    refused = WebDriverWait(chrome, WAIT_S).until(
        lambda d: d.find_elements(By.ID, "error-ends_at"), message="the refusal"
    )
    assert refused[0].text == "По: должно быть позже начала"
    fits(chrome, width, wide, "integration with a refused window")
    chrome.execute_script(
        "document.getElementById('ends_at').value = '2026-11-23T19:00';"
        "document.querySelector('#maintenance-form button[type=submit]').click();"
    )
    told = said_after(chrome, "#maintenance-form")
    assert told.startswith("Окно техработ cli-1 объявлено: 23 нояб. 2026, 15:00:00 MSK")
    assert [w.spec["timezone"] for w in list_windows(world, ["a"]) if w.name == "cli-1"] == [
        "Europe/Moscow"
    ]
    fits(chrome, width, wide, "integration after declaring a window")

    chrome.get(f"{console.url}/integrations/s?lang=en")
    click(chrome, "#run-scenario-ping-flow button")
    assert "Scenario ping-flow is queued" in said_after(
        chrome, "#run-scenario-ping-flow", url_part="/e2e/runs/"
    )
    WebDriverWait(chrome, WAIT_S).until(
        lambda d: d.find_elements(By.ID, "junit-link"), message="the run ended, its links shown"
    )
    fits(chrome, width, wide, "the scenario run's page")
    assert wide == []
