"""Every console page in a real headless Chromium (issue 24): the login page, the
board, an integration, the ticket list, the new-ticket form, a ticket, an
end-to-end run, a monthly report and the error page, as the client and as support,
in English and in Russian, at 390 px and at 1440 px. None scrolls sideways and
each shows what it is for. The Russian pages are seen by a Chromium that speaks
Russian in its own controls too (date fields, validation bubbles), as a Russian
client's browser does (`test_browser.start_chromium`).

With INTMON_SCREENSHOTS=<directory> each page is also saved there as
`<page>-<role>-<lang>-<width>.png` (`login-<lang>-<width>.png`: nobody is logged in
yet); the README's gallery is made so, with one command:

    INTMON_SCREENSHOTS=docs/screenshots .venv/bin/pytest tests/web/test_screenshots.py

The pages are cut at `MAX_HEIGHT` and, when `pngquant` is installed (Debian's
package of that name), reduced to 256 colours: small enough to keep in the
repository, sharp enough to read.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from checks.scenarios.report import ScenarioReport, StepReport, StepStatus
from core.vocabulary.outcomes import Outcome
from integrations.e2e_models import E2ERun
from integrations.heartbeats.pings import Ping, PingKind, record_pings
from integrations.heartbeats.store import list_heartbeats
from integrations.leads.delivery import LeadOutcome
from integrations.leads.ledger import AttemptIn, record
from integrations.postbacks.store import PostbackIn, record_postback
from tests.web.conftest import NOW
from tests.web.test_browser import (  # noqa: F401 (fixtures)
    WAIT_S,
    chrome,
    chrome_ru,
    console,
    seed_a_day_of_history,
)
from tests.web.test_phone_layout import a_conversation, log_in, overflow, use_width

WIDTHS = (390, 1440)
LANGUAGES = ("en", "ru")
# Page name → (path, an element that proves the page drew what it is for).
PAGES = {
    "board": ("/board", "#integrations tbody tr"),
    "integration": ("/integrations/leadhub", "#checks"),
    "tickets": ("/tickets", "#row-INC-000001"),
    "ticket-new": ("/tickets/new?category=system_errors&topic_id=chats", "#new-ticket"),
    "ticket": ("/tickets/INC-000001", "#ticket-status"),
    "e2e-run": ("/e2e/runs/run-lead-journey", "#steps"),
    "report": ("/reports/monthly?month=2026-11&client=acme", "#report-availability"),
    "error": ("/tickets/INC-000999", "main"),
}
MAX_HEIGHT = {390: 2600, 1440: 1800}
MONITORS = {
    "leadhub": "    heartbeats:\n"
    "      - {name: nightly-export, period_s: 86400, grace_s: 1800}\n"
    "      - {name: hourly-sync, period_s: 3600, grace_s: 300}\n",
    "shop-eu": '    postbacks: {secret: "${SHOP_POSTBACK_SECRET}", window_s: 7200, min_ratio: 0.5,'
    " min_leads: 4}\n",
}


def a_gallery(engine: Engine) -> None:
    """A day of history, a thread on INC-000001, heartbeats (one late) and a broker
    short of postbacks, and an end-to-end run that failed at its second step."""
    seed_a_day_of_history(engine, MONITORS)
    a_conversation(engine)
    keys = {beat.name: beat.ping_key for beat in list_heartbeats(engine)}
    record_pings(engine, [Ping(keys["nightly-export"], PingKind.SUCCESS, NOW - timedelta(hours=9))])
    record_pings(engine, [Ping(keys["hourly-sync"], PingKind.SUCCESS, NOW - timedelta(hours=2))])
    record(
        engine,
        [
            AttemptIn(
                lead_id=f"L-{n}",
                integration="shop-eu",
                attempt=1,
                at=NOW - timedelta(minutes=5 * n + 5),
                outcome=LeadOutcome.DELIVERED,
                broker_lead_id=f"S-{n}",
            )
            for n in range(12)
        ],
        {"shop-eu"},
    )
    postback = PostbackIn(event_id="E-1", lead_id="S-1", status="converted")
    record_postback(engine, "shop-eu", postback, NOW - timedelta(minutes=20))
    a_failed_run(engine)


def a_failed_run(engine: Engine) -> None:
    started = NOW - timedelta(minutes=12)

    def step(name: str, status: StepStatus, seconds: float, **more: Any) -> StepReport:
        return StepReport(name, "step", "request", status, duration_s=seconds, **more)

    report = ScenarioReport(
        run_id="run-lead-journey",
        integration_id="leadhub",
        scenario="lead-journey",
        status=StepStatus.FAILED,
        started_at=started,
        duration_s=31.4,
        steps=[
            step("create-lead", StepStatus.PASSED, 0.42),
            step(
                "wait-for-status",
                StepStatus.FAILED,
                30.0,
                outcome=Outcome.TIMEOUT,
                detail="no callback 'status' within 30 s",
            ),
            step("delete-lead", StepStatus.SKIPPED, 0.0),
        ],
        outcome=Outcome.TIMEOUT,
        detail="wait-for-status: no callback 'status' within 30 s",
    )
    with engine.begin() as connection:
        connection.execute(
            insert(E2ERun).values(
                id=report.run_id,
                integration_id="leadhub",
                scenario=report.scenario,
                trigger="schedule",
                status=report.status.value,
                outcome=report.outcome.value,
                detail=report.detail,
                callbacks=[],
                created_at=started,
                started_at=started,
                finished_at=started + timedelta(seconds=31.4),
                duration_s=report.duration_s,
                report=report.as_dict(),
            )
        )


def save_page(driver: Any, path: Path, width: int) -> None:
    """The page from its top, down to MAX_HEIGHT; in 256 colours when pngquant is here."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "captureBeyondViewport": True,
            "clip": {
                "x": 0,
                "y": 0,
                "width": width,
                "height": min(height, MAX_HEIGHT[width]),
                "scale": 1,
            },
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    pngquant = shutil.which("pngquant")
    if pngquant:
        subprocess.run(
            [pngquant, "--force", "--skip-if-larger", "--output", str(path), "256", str(path)],
            check=False,  # 98/99: not smaller, or not quantizable: the PNG stays as it is
            timeout=60,
        )


def show(driver: Any, url: str, proof: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, WAIT_S).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, proof),
        message=f"{url}: {proof} drawn",
    )


@pytest.mark.slow
def test_every_page_fits_both_screens_for_both_roles_in_both_languages(
    chrome: Any,  # noqa: F811 (the fixture)
    chrome_ru: Any,  # noqa: F811
    console: Any,  # noqa: F811
    engine: Engine,
) -> None:
    a_gallery(engine)
    saved = os.environ.get("INTMON_SCREENSHOTS")
    directory = Path(saved) if saved else None
    if directory:
        directory.mkdir(parents=True, exist_ok=True)
    browsers = {"en": chrome, "ru": chrome_ru}
    wide: list[str] = []

    def check(driver: Any, name: str, width: int) -> None:
        scroll, inner = overflow(driver)
        assert inner == width, (name, width, inner)
        if scroll > inner:
            wide.append(f"{name}: {scroll}px wide")
        if directory:
            save_page(driver, directory / f"{name}.png", width)

    for lang in LANGUAGES:
        driver = browsers[lang]
        driver.delete_all_cookies()
        for width in WIDTHS:
            use_width(driver, width)
            show(driver, f"{console.url}/login?lang={lang}", "form input[name=username]")
            check(driver, f"login-{lang}-{width}", width)
    for username, role in (("ann", "client"), ("sup", "support")):
        for lang in LANGUAGES:
            driver = browsers[lang]
            log_in(driver, console.url, username)
            for width in WIDTHS:
                use_width(driver, width)
                for name, (path, proof) in PAGES.items():
                    joiner = "&" if "?" in path else "?"
                    url = f"{console.url}{path}{joiner}lang={lang}&tz=Europe/Moscow"
                    show(driver, url, proof)
                    assert f'lang="{lang}"' in driver.page_source
                    check(driver, f"{name}-{role}-{lang}-{width}", width)
    assert wide == []
