"""Recurring maintenance windows in a real headless Chromium, on a phone (390 px)
and a desktop (1440 px): support declares a weekly window (a refused one first),
changes it into a cron window and removes it, in Russian and English; each page
says what happened and none scrolls sideways."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from integrations.maintenance import list_windows
from tests.web.test_actions import world  # noqa: F401 (the fixture)
from tests.web.test_actions_browser import click, fits, said_after
from tests.web.test_browser import WAIT_S, chrome, console  # noqa: F401 (fixtures)
from tests.web.test_phone_layout import log_in, use_width


@pytest.mark.slow
@pytest.mark.parametrize("width", [390, 1440])
def test_support_keeps_recurring_windows_in_a_browser(
    chrome: Any,  # noqa: F811 (the fixture)
    console: Any,  # noqa: F811
    world: Engine,  # noqa: F811
    width: int,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = f"{console.url}/integrations/a/recurring-windows"
    wide: list[str] = []
    use_width(chrome, width)
    log_in(chrome, console.url, "sup")

    chrome.get(f"{page}?lang=ru&tz=Europe/Moscow")
    assert chrome.find_element(By.ID, "timezone").get_attribute("value") == "Europe/Moscow"
    fits(chrome, width, wide, "the empty page")
    # No day ticked: refused, named under its field.
    chrome.execute_script(
        "document.getElementById('start').value = '02:00';"
        "document.getElementById('end').value = '04:00';"
    )
    click(chrome, "#save-window")
    refused = WebDriverWait(chrome, WAIT_S).until(
        lambda d: d.find_elements(By.ID, "error-days"), message="the refusal"
    )
    assert refused[0].text == "Дни: выберите хотя бы один день"
    fits(chrome, width, wide, "a refused window")
    chrome.find_element(By.CSS_SELECTOR, "input[name=day_sat]").click()
    chrome.find_element(By.CSS_SELECTOR, "input[name=day_sun]").click()
    click(chrome, "#save-window")
    told = said_after(chrome, "#save-window")
    assert told.startswith("Повторяющееся окно техработ cli-1 объявлено: каждую неделю, сб, вс")
    fits(chrome, width, wide, "after declaring")

    chrome.get(f"{page}?lang=en")
    click(chrome, "#change-cli-1")
    WebDriverWait(chrome, WAIT_S).until(
        lambda d: "window=cli-1" in d.current_url, message="the change form"
    )
    chrome.find_element(By.CSS_SELECTOR, "input[name=kind][value=cron]").click()
    chrome.find_element(By.ID, "cron").send_keys("30 1 * * *")
    chrome.find_element(By.ID, "duration_minutes").send_keys("45")
    click(chrome, "#save-window")
    assert said_after(chrome, "#save-window").startswith(
        "Recurring maintenance window cli-1 changed: cron 30 1 * * *, 45 min (Europe/Moscow)."
    )
    fits(chrome, width, wide, "after changing")

    click(chrome, "#end-cli-1 button")
    assert "Recurring maintenance window cli-1 removed." in said_after(chrome, "#end-cli-1")
    assert chrome.current_url.split("?")[0] == page
    assert [w.name for w in list_windows(world, ["a"])] == ["planned"]
    fits(chrome, width, wide, "after removing")
    assert wide == []
