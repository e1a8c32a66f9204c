"""The browser's own controls on a console page (issue 24, item 2): their words are
the page's language, not the browser's.

A file input's "Choose Files / No file chosen" is written by Chromium in the
browser's language whatever the page's: the console shows its own button and the
chosen files' names instead (`_macros.html` file_picker, `console.js`), so an
English browser on a Russian page shows Russian; so does the refusal of a field
left empty (`console.js` sets it from the page's words). Where the words cannot be
ours (date fields), the screenshots of the Russian pages are taken by
a Chromium that speaks Russian (`start_chromium(..., "ru")`); the last test proves it
does, or fails saying what is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from intmon.serve import ConsoleServer
from tests.web.test_browser import (  # noqa: F401 (fixtures)
    WAIT_S,
    chrome,
    chrome_ru,
    console,
)
from tests.web.test_phone_layout import log_in

pytestmark = pytest.mark.slow

# The file inputs a client meets: the new ticket's and a ticket's reply.
FILE_INPUTS = {
    "new-files": "/tickets/new?category=system_errors&topic_id=integration",
    "reply-files": "/tickets/INC-000001",
}
WORDS = {"en": ("Choose files", "No file chosen"), "ru": ("Выбрать файлы", "Файл не выбран")}


def picker_of(driver: Any, input_id: str) -> dict[str, Any]:
    """What the page shows for the file input `input_id`."""
    from selenium.webdriver.common.by import By

    native = driver.find_element(By.ID, input_id)
    picker = native.find_element(By.XPATH, "./ancestor::*[@data-file-picker]")
    button = picker.find_element(By.CSS_SELECTOR, "button.file-choose")
    chosen = picker.find_element(By.CSS_SELECTOR, ".file-chosen")
    return {
        "native": native,
        "native shown": native.is_displayed() and native.size["width"] > 1,
        "button": button.text if button.is_displayed() else None,
        "chosen": chosen.text if chosen.is_displayed() else None,
    }


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_an_english_browser_shows_a_file_input_in_the_pages_language(
    chrome: Any,  # noqa: F811 (the fixture)
    console: ConsoleServer,  # noqa: F811
    tmp_path: Path,
    lang: str,
) -> None:
    shot = tmp_path / "экран.png"
    shot.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    log_in(chrome, console.url, "ann")
    for input_id, path in FILE_INPUTS.items():
        joiner = "&" if "?" in path else "?"
        chrome.get(f"{console.url}{path}{joiner}lang={lang}")
        shown = picker_of(chrome, input_id)
        # The browser's input (its words in the browser's English) is not on the screen;
        # ours is, in the page's language.
        assert not shown["native shown"], input_id
        assert (shown["button"], shown["chosen"]) == WORDS[lang], input_id
        shown["native"].send_keys(str(shot))
        assert picker_of(chrome, input_id)["chosen"] == "экран.png"


@pytest.mark.parametrize(
    ("lang", "missing"), [("ru", "Заполните это поле."), ("en", "Please fill in this field.")]
)
def test_an_english_browser_refuses_an_empty_field_in_the_pages_language(
    chrome: Any,  # noqa: F811 (the fixture)
    console: ConsoleServer,  # noqa: F811
    lang: str,
    missing: str,
) -> None:
    """The login form's required name, left empty: the browser's refusal (what its
    bubble shows) is the page's words; typing clears it."""
    from selenium.webdriver.common.by import By

    chrome.get(f"{console.url}/login?lang={lang}")
    field = chrome.find_element(By.NAME, "username")
    read = "var f = arguments[0]; var ok = f.checkValidity(); return [ok, f.validationMessage];"
    assert chrome.execute_script(read, field) == [False, missing]
    field.send_keys("ann")
    assert chrome.execute_script(read, field) == [True, ""]


def test_a_russian_chromium_speaks_russian_in_its_own_controls(
    chrome_ru: Any,  # noqa: F811 (the fixture)
    console: ConsoleServer,  # noqa: F811
) -> None:
    """What the Russian screenshots rely on: Chromium's own words in Russian. Fails if
    chromium-l10n is missing or the language did not reach Chromium's environment."""
    chrome_ru.get(f"{console.url}/login?lang=ru")
    said = chrome_ru.execute_script(
        "var field = document.querySelector('input[name=username]');"
        "return [navigator.language, field.validationMessage,"
        " Intl.DateTimeFormat().resolvedOptions().locale];"
    )
    assert said[0].startswith("ru") and said[2].startswith("ru"), said
    assert said[1] and "Please" not in said[1], said
    assert any("а" <= letter.lower() <= "я" for letter in said[1]), said
