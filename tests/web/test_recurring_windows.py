"""Support declares, changes and ends weekly and cron maintenance windows at the
console (`/integrations/{id}/recurring-windows`): the same document the CLI and
the API store, refusals named by field in English and Russian, CSRF, support
only, and every outcome in the audit trail."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from integrations.apply import apply
from integrations.loader import load_text
from integrations.maintenance import add_window, list_windows
from intmon.web.audit import recent
from tests.alerts.helpers import T0
from tests.web.conftest import NOW
from tests.web.test_actions import flash, said, trail

PAGE = "/integrations/a/recurring-windows"
NIGHTLY = {
    "kind": "weekly",
    "day_mon": "1",
    "day_thu": "1",
    "start": "02:00",
    "end": "04:00",
    "timezone": "Europe/Moscow",
    "reason": "backups",
}
SUNDAYS = {
    "kind": "cron",
    "cron": "0 2 * * sun",
    "duration_minutes": "120",
    "timezone": "Europe/Warsaw",
    "reason": "",
}


@pytest.fixture
def world(engine: Engine) -> Engine:
    """acme's `a` with a one-off window `planned` (by the API) and a weekly window
    `file-night` from the integrations file."""
    from tests.web.conftest import CONFIG

    apply(engine, load_text(CONFIG), T0)
    window = {
        "id": "planned",
        "starts_at": (NOW + timedelta(days=1)).isoformat(),
        "ends_at": (NOW + timedelta(days=1, hours=2)).isoformat(),
    }
    add_window(engine, "a", window, NOW)
    return engine


def windows(engine: Engine) -> dict[str, dict[str, Any]]:
    return {w.name: w.spec for w in list_windows(engine, ["a"]) if w.window.kind != "once"}


def test_support_declares_a_weekly_window_in_a_named_zone(browser: Any, world: Engine) -> None:
    support = browser("sup")
    form = support.get(PAGE + "?tz=Asia/Yekaterinburg").text
    assert 'id="recurring-form"' in form and 'value="Asia/Yekaterinburg"' in form
    assert "No recurring windows." in form
    page = support.post(PAGE, NIGHTLY)
    assert page.status_code == 200 and page.url.path == PAGE
    spec = windows(world)["cli-1"]
    assert spec["weekly"] == {"days": ["mon", "thu"], "start": "02:00", "end": "04:00"}
    assert (spec["timezone"], spec["reason"]) == ("Europe/Moscow", "backups")
    assert flash(page) == (
        "Recurring maintenance window cli-1 declared: every Mon, Thu, 02:00–04:00 (Europe/Moscow)."
    )
    row = re.search(r'<tr id="window-cli-1">.*?</tr>', page.text, re.S)
    assert row is not None and "every Mon, Thu, 02:00–04:00 (Europe/Moscow)" in said(row[0])
    # The one-off window is not listed here; it stays on the integration's page.
    assert 'id="window-planned"' not in page.text
    (done,) = recent(world, "a")
    assert (done.action, done.outcome, done.subject) == ("maintenance.declare", "done", "cli-1")
    # The window is one the domain reads as any other: next Monday 02:00 Moscow.
    (stored,) = [w for w in list_windows(world, ["a"]) if w.name == "cli-1"]
    assert stored.window.next_start(NOW) is not None


def test_support_declares_a_cron_window_said_in_russian(browser: Any, world: Engine) -> None:
    support = browser("sup")
    support.get(PAGE + "?lang=ru")
    page = support.post(PAGE, SUNDAYS)
    assert windows(world)["cli-1"] == {
        "cron": "0 2 * * sun",
        "duration_minutes": 120,
        "timezone": "Europe/Warsaw",
        "reason": "",
    }
    assert flash(page) == (
        "Повторяющееся окно техработ cli-1 объявлено: cron 0 2 * * sun, 120 мин. (Europe/Warsaw)."
    )
    assert "Повторяющиеся окна техработ" in page.text and "Выражение cron" in page.text


@pytest.mark.parametrize(
    ("lang", "change", "errors"),
    [
        (
            "en",
            {"day_mon": "", "day_thu": "", "start": "25:00", "end": ""},
            {
                "days": "Days: choose at least one day",
                "start": "From: give a time of day, like 02:00",
                "end": "To: is required",
            },
        ),
        (
            "en",
            {"timezone": "Mars/Olympus", "reason": "x" * 501},
            {
                "timezone": "Time zone: unknown time zone",
                "reason": "Reason: must have at most 500",
            },
        ),
        ("en", {"kind": "monthly"}, {"kind": "Kind: choose weekly or cron"}),
        (
            "en",
            {**SUNDAYS, "cron": "every sunday", "duration_minutes": "0"},
            {
                "cron": "Cron expression: give a five-field cron expression",
                "duration_minutes": "Duration, minutes: a whole number of minutes, from 1 to 10080",
            },
        ),
        ("en", {**SUNDAYS, "cron": "0 0 30 2 *"}, {"cron": "Cron expression: this expression"}),
        (
            "ru",
            {**SUNDAYS, "cron": "", "duration_minutes": "два часа"},
            {
                "cron": "Выражение cron: обязательное поле",
                "duration_minutes": "Длительность, минут: целое число минут",
            },
        ),
        ("ru", {"day_mon": "", "day_thu": ""}, {"days": "Дни: выберите хотя бы один день"}),
    ],
)
def test_a_wrong_recurring_window_is_refused_naming_the_field(
    browser: Any, world: Engine, lang: str, change: dict[str, str], errors: dict[str, str]
) -> None:
    support = browser("sup")
    support.get(f"{PAGE}?lang={lang}")
    page = support.post(PAGE, {**NIGHTLY, **change})
    assert page.status_code == 422
    for field, message in errors.items():
        shown = re.search(rf'<p class="error" role="alert" id="error-{field}">(.*?)</p>', page.text)
        assert shown is not None, (field, page.text[-3000:])
        assert said(shown.group(1)).startswith(message), shown.group(1)
    typed = {**NIGHTLY, **change}
    assert f'value="{typed["timezone"]}"' in page.text  # what was typed stays
    assert windows(world) == {}
    (refused,) = recent(world, "a")
    assert (refused.action, refused.outcome) == ("maintenance.declare", "refused")
    assert refused.values["fields"] == sorted(errors)


def test_support_changes_a_weekly_window_into_a_cron_one_and_ends_it(
    browser: Any, world: Engine
) -> None:
    add_window(
        world,
        "a",
        {
            "id": "nightly",
            "weekly": {"days": ["tue"], "start": "01:00", "end": "03:00"},
            "timezone": "Europe/Moscow",
            "reason": "old",
        },
        NOW,
    )
    support = browser("sup")
    listing = support.get(PAGE).text
    assert f'href="{PAGE}?window=nightly#window-form"' in listing
    editing = support.get(f"{PAGE}?window=nightly").text
    assert "Change recurring window nightly" in editing
    assert 'name="day_tue" value="1" checked' in editing and 'value="01:00"' in editing
    assert f'action="{PAGE}/nightly"' in editing

    page = support.post(f"{PAGE}/nightly", {**SUNDAYS, "reason": "moved"})
    assert flash(page) == (
        "Recurring maintenance window nightly changed: cron 0 2 * * sun, 120 min (Europe/Warsaw)."
    )
    spec = windows(world)["nightly"]
    assert (spec["cron"], spec["reason"], "weekly" in spec) == ("0 2 * * sun", "moved", False)

    # A refused change keeps the window as it was.
    refused = support.post(f"{PAGE}/nightly", {**SUNDAYS, "duration_minutes": "99999"})
    assert refused.status_code == 422 and 'id="error-duration_minutes"' in refused.text
    assert windows(world)["nightly"]["duration_minutes"] == 120

    ended = support.post("/integrations/a/maintenance/nightly/end", {"back": PAGE})
    assert ended.url.path == PAGE
    assert flash(ended) == "Recurring maintenance window nightly removed."
    assert windows(world) == {}
    outcomes = [(a.action, a.outcome) for a in recent(world, "a")]
    assert outcomes == [
        ("maintenance.end", "done"),
        ("maintenance.edit", "refused"),
        ("maintenance.edit", "done"),
    ]
    # A window that is not there, or not recurring, is not changed here.
    assert support.get(f"{PAGE}?window=nightly").status_code == 404
    assert support.get(f"{PAGE}?window=planned").status_code == 404
    assert support.post(f"{PAGE}/planned", SUNDAYS).status_code == 404


def test_a_window_from_the_integrations_file_is_changed_there(browser: Any, engine: Engine) -> None:
    from tests.web.conftest import CONFIG

    in_file = CONFIG.replace(
        "    checks:",
        "    maintenance:\n"
        "      - {id: file-night, weekly: {days: [sun], start: '01:00', end: '02:00'}}\n"
        "    checks:",
        1,
    )
    assert in_file != CONFIG
    apply(engine, load_text(in_file), T0)
    support = browser("sup")
    listing = support.get(PAGE).text
    assert "declared in the integrations file" in listing
    assert 'id="change-file-night"' not in listing and 'id="end-file-night"' not in listing
    assert support.get(f"{PAGE}?window=file-night").status_code == 400
    page = support.post(f"{PAGE}/file-night", SUNDAYS)
    assert "change it there and apply it" in flash(page)
    assert [(a.action, a.outcome) for a in recent(engine, "a")] == [("maintenance.edit", "refused")]


@pytest.mark.parametrize("who", ["ann", "oli"])
def test_a_client_may_not_see_or_act(browser: Any, world: Engine, who: str) -> None:
    client = browser(who)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, NIGHTLY).status_code == 403
    add_window(world, "a", {"id": "n", "cron": "0 1 * * *", "duration_minutes": 5}, NOW)
    assert client.post(f"{PAGE}/n", SUNDAYS).status_code == 403
    assert trail(world) == 0 and list(windows(world)) == ["n"]


def test_no_change_without_the_csrf_token(browser: Any, world: Engine) -> None:
    support = browser("sup")
    add_window(world, "a", {"id": "n", "cron": "0 1 * * *", "duration_minutes": 5}, NOW)
    for path in (PAGE, f"{PAGE}/n"):
        for token in ("", "forged-token"):
            answer = support.post(path, SUNDAYS, csrf=token)
            assert answer.status_code == 403 and "The form has expired" in answer.text
    assert trail(world) == 0 and windows(world)["n"]["cron"] == "0 1 * * *"


def test_an_unknown_integration_is_not_found(browser: Any, world: Engine) -> None:
    support = browser("sup")
    assert support.get("/integrations/nope/recurring-windows").status_code == 404
    assert support.post("/integrations/nope/recurring-windows", NIGHTLY).status_code == 404


def test_the_page_is_all_russian_on_a_russian_page(browser: Any, world: Engine) -> None:
    from tests.web.test_russian_complete import english_in

    add_window(world, "a", {"id": "n", "cron": "0 1 * * *", "duration_minutes": 5}, NOW)
    support = browser("sup")
    support.get(f"{PAGE}?lang=ru")
    declared = support.post(PAGE, NIGHTLY)
    refused = support.post(PAGE, {**SUNDAYS, "cron": "x", "timezone": "Nowhere"})
    pieces = {
        "listing": re.search(r'<section id="recurring-windows">.*?</section>', declared.text, re.S),
        "flash": re.search(r'<div class="flash.*?</div>', declared.text, re.S),
        "refused form": re.search(r'<section id="window-form">.*?</section>', refused.text, re.S),
    }
    assert all(pieces.values()), declared.text[:2000]
    left = {name: english_in(found[0]) for name, found in pieces.items() if found}
    assert {name: words for name, words in left.items() if words} == {}


def test_the_integration_page_leads_support_to_the_recurring_windows(
    browser: Any, world: Engine
) -> None:
    support = browser("sup")
    support.post(PAGE, NIGHTLY)
    page = support.get("/integrations/a").text
    assert f'href="{PAGE}" id="recurring-windows-link"' in page
    # A recurring window declared here is changed on its own page; the one-off one
    # on the integration's page, as before.
    assert f'href="{PAGE}?window=cli-1" id="change-cli-1"' in page
    assert 'href="/integrations/a?window=planned#window-form" id="change-planned"' in page
    assert "recurring-windows" not in browser("ann").get("/integrations/a").text
