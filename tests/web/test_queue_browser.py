"""Seed 003/004 in a real headless Chromium (issue 24, item 6), on a phone's 390 px:
support reads the queue in order of arrival, orders it by the first-response
deadline instead (its column shown either way), and changes a ticket's section
after work started — refused without a reason, then done with one, the change and
its reason in the ticket's history. (The duplicate warning's browser test is
test_browser.test_a_file_chosen_before_the_duplicate_warning_is_attached_after_it.)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, update

from alerts.models import Ticket
from core.db import table_of
from intmon.web.i18n import Translator
from tests.web.conftest import NOW
from tests.web.test_browser import (  # noqa: F401 (fixtures)
    WAIT_S,
    chrome,
    console,
)
from tests.web.test_phone_layout import log_in, overflow, use_width

pytestmark = pytest.mark.slow


# Read in one script: the page's regions are redrawn every second (auto-refresh), so
# an element found a moment ago may be gone.
def rows_in_order(driver: Any) -> list[str]:
    ids: list[str] = driver.execute_script(
        "return Array.from(document.querySelectorAll('#ticket-list tbody tr[id^=row-]'),"
        " row => row.id.slice(4));"
    )
    return ids


def text_of(driver: Any, selector: str) -> str:
    text: str = driver.execute_script(
        "var found = document.querySelector(arguments[0]); return found ? found.innerText : '';",
        selector,
    )
    return text


def wait_for(driver: Any, condition: Any, what: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S).until(lambda _driver: condition(), message=what)


def test_support_orders_the_queue_and_changes_a_section_after_work_started(
    chrome: Any,  # noqa: F811 (the fixture)
    console: Any,  # noqa: F811
    engine: Engine,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    # INC-000001 came first but may wait longer: its first answer is due later.
    tickets = table_of(Ticket)
    with engine.begin() as connection:
        for ticket_id, due in ((1, NOW + timedelta(hours=8)), (2, NOW + timedelta(hours=1))):
            connection.execute(
                update(tickets).where(tickets.c.id == ticket_id).values(first_response_due_at=due)
            )
    use_width(chrome, 390)
    log_in(chrome, console.url, "sup")

    chrome.get(f"{console.url}/tickets?lang=en&tz=UTC")
    assert rows_in_order(chrome) == ["INC-000001", "INC-000002"]  # in order of arrival
    # The deadline's column either way, on the phone's card too.
    due = text_of(chrome, "#row-INC-000001 td.due")
    assert due == Translator("en", "UTC").when(NOW + timedelta(hours=8)), due
    Select(chrome.find_element(By.ID, "order")).select_by_value("due")
    chrome.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    wait_for(chrome, lambda: "order=due" in chrome.current_url, "the queue by deadline")
    assert rows_in_order(chrome) == ["INC-000002", "INC-000001"]
    assert overflow(chrome)[0] == 390

    # Work starts on INC-000001; its section still changes, with a reason.
    chrome.get(f"{console.url}/tickets/INC-000001?lang=en&tz=UTC")
    Select(chrome.find_element(By.CSS_SELECTOR, "#status-form select")).select_by_value(
        "in_progress"
    )
    chrome.find_element(By.CSS_SELECTOR, "#status-form button[type=submit]").click()
    wait_for(
        chrome,
        lambda: chrome.find_elements(By.CSS_SELECTOR, '[data-status="in_progress"]'),
        "in progress",
    )
    Select(chrome.find_element(By.CSS_SELECTOR, "#section-form select")).select_by_value("app_help")
    chrome.find_element(By.CSS_SELECTOR, "#section-form button[type=submit]").click()
    wait_for(chrome, lambda: chrome.find_elements(By.ID, "error-reason"), "the reason asked")
    reason = chrome.find_element(By.CSS_SELECTOR, "#section-form input[name=section_reason]")
    reason.send_keys("agreed with the specialist")
    Select(chrome.find_element(By.CSS_SELECTOR, "#section-form select")).select_by_value("app_help")
    chrome.find_element(By.CSS_SELECTOR, "#section-form button[type=submit]").click()
    moved = "question type: System errors → Application help"
    wait_for(
        chrome,
        lambda: moved in text_of(chrome, "#ticket-history"),
        "the change in the history",
    )
    # The client is told in the thread, with the reason agreed.
    told = text_of(chrome, "#ticket-thread")
    assert "Support changed the question type from «System errors» to «Application help»" in told
    assert "agreed with the specialist" in text_of(chrome, "main")
    assert "Application help" in text_of(chrome, "#ticket-section")
    assert overflow(chrome)[0] == 390
