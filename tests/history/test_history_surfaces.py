"""`intmon uptime`, `intmon rollups`, `intmon report monthly`, `GET /api/uptime` and
`GET /api/reports/monthly`: what people and machines get, who may see what, and
bad input answered with its field named (exit 2 / problem+json), never a crash."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from core import db
from core.settings import Settings, get_settings
from core.vocabulary.outcomes import Outcome
from integrations.maintenance import add_window
from integrations.rollups import roll_up
from intmon.api.auth import create_token
from intmon.app import create_app
from intmon.cli import app
from intmon.migrations import upgrade
from tests.alerts.helpers import T0, feed, setup

runner = CliRunner()
NOW = datetime(2026, 12, 1, 6, 10, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """acme's integrations a and b: a fails 3 times (an incident, resolved), then
    passes; b passes and had a 2.5-hour maintenance window; results a minute apart
    from T0 (2026-11-23 12:00), rolled up until 06:00 (now is 06:10)."""
    url = f"sqlite:///{tmp_path / 'history.db'}"
    monkeypatch.setenv("INTMON_DATABASE_URL", url)
    monkeypatch.delenv("INTMON_REDIS_URL", raising=False)
    monkeypatch.setattr(db, "utcnow", lambda: NOW)
    get_settings.cache_clear()
    engine = db.make_engine(url)
    upgrade(engine)
    specs = setup(engine, "a", "b")
    feed(engine, specs, [Outcome.AUTH_FAILURE] * 3 + [Outcome.OK] * 7, integration="a")
    feed(engine, specs, [Outcome.OK] * 10, integration="b")
    window = {
        "id": "upgrade",
        "starts_at": "2026-11-10T00:00:00Z",
        "ends_at": "2026-11-10T02:30:00Z",
    }
    add_window(engine, "b", window, T0)
    for _ in range(4):  # 186 hours, 48 a pass
        roll_up(engine, NOW)
    yield engine
    engine.dispose()
    db.engine_for(url).dispose()
    get_settings.cache_clear()


def cli(*args: str, code: int = 0) -> Result:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.output
    return result


def test_uptime_defaults_to_30_days_with_window_columns(engine: Engine) -> None:
    table = cli("uptime").stdout
    assert "24h" in table and "30d" in table and "70.000 %" in table and "100.000 %" in table
    data = json.loads(cli("uptime", "--format", "json").stdout)
    rows = {row["integration"]: row for row in data["rows"]}
    assert rows["a"]["up"] == 7 and rows["a"]["down"] == 3 and rows["a"]["ratio"] == 0.7
    # The results are 8 days old: none in the last 24 hours or 7 days.
    assert rows["a"]["windows"] == {"24h": None, "7d": None, "30d": 0.7}


def test_uptime_for_a_period_per_check_as_csv(engine: Engine) -> None:
    out = cli(
        "uptime",
        "-i",
        "a",
        "--from",
        "2026-11-23T12:01",
        "--to",
        "2026-11-23T12:05",
        "--per-check",
        "--format",
        "csv",
    ).stdout
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert (row["integration"], row["check"], row["up"], row["down"]) == ("a", "health", "2", "2")
    assert "ratio_24h" not in row


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("uptime", "-i", "nope"), "--integration: unknown integration(s): nope"),
        (("uptime", "--from", "yesterday"), "--from: not an ISO date"),
        (("uptime", "--from", "2026-11-02", "--to", "2026-11-01"), "--from: must be before"),
        (("uptime", "--format", "xml"), "--format: one of table, csv, json"),
        (("report", "monthly", "--client", "acme", "--month", "2026-13"), "--month: a month"),
        (("report", "monthly", "--client", "ghost", "--month", "2026-11"), "--client: no integ"),
        (("rollups", "rebuild", "--from", "soon"), "--from: not an ISO date"),
    ],
)
def test_bad_input_exits_2_naming_the_option(
    engine: Engine, args: tuple[str, ...], message: str
) -> None:
    result = cli(*args, code=2)
    assert message in result.stderr and result.stdout == ""


def test_rollups_status_and_rebuild(engine: Engine) -> None:
    status = json.loads(cli("rollups", "status", "--json").stdout)
    assert status["hour_watermark"] == "2026-12-01T06:00:00+00:00"
    assert status["lag_seconds"] == 600
    rebuilt = json.loads(cli("rollups", "rebuild", "--json").stdout)
    assert rebuilt["rebuilt"] == ["2026-11-23T12:00:00+00:00", "2026-12-01T06:00:00+00:00"]
    assert "hours rolled up until 2026-12-01 06:00 UTC" in cli("rollups", "status").stdout


def test_monthly_report_json_csv_and_printable_html(engine: Engine, tmp_path: Path) -> None:
    data = json.loads(
        cli("report", "monthly", "-c", "acme", "--month", "2026-11", "--format", "json").stdout
    )
    by_id = {i["integration"]: i for i in data["integrations"]}
    assert by_id["a"]["ratio"] == 0.7 and by_id["a"]["checks"][0]["check"] == "health"
    (incident,) = by_id["a"]["incidents"]
    assert incident["family"] == "auth" and incident["resolved_at"] is not None
    assert 0 < incident["seconds_in_month"] < 3600
    assert by_id["b"]["maintenance_seconds"] == 9000
    assert data["leads"]["liability"] == {"broker": 0, "platform": 0, "undetermined": 0}
    rows = list(
        csv.DictReader(
            io.StringIO(
                cli(
                    "report", "monthly", "-c", "acme", "--month", "2026-11", "--format", "csv"
                ).stdout
            )
        )
    )
    assert {row["section"] for row in rows} >= {"availability", "incident", "leads_liable_broker"}
    page = tmp_path / "report.html"
    cli("report", "monthly", "-c", "acme", "--month", "2026-11", "-o", str(page))
    html = page.read_text(encoding="utf-8")
    assert '<html lang="en">' in html and "Monthly report: acme, 2026-11" in html
    assert (
        "70%" in html
        and "2 h 30 min" in html
        and '<td data-label="Failure">Authentication<' in html
    )
    assert "<script" not in html and "http" not in html.split("<body>")[1]  # nothing loaded
    cli("report", "monthly", "-c", "acme", "--month", "2026-11", "--lang", "ru", "-o", str(page))
    html = page.read_text(encoding="utf-8")
    assert '<html lang="ru">' in html and "Отчёт за месяц: acme, 2026-11" in html
    assert "2 ч 30 мин" in html and "Ошибка аутентификации" in html and "Monthly report" not in html
    refused = cli("report", "monthly", "-c", "acme", "--month", "2026-11", "--lang", "de", code=2)
    assert "--lang: one of en, ru; not 'de'" in refused.output


# --- the API ---------------------------------------------------------------------------


@pytest.fixture
def api(engine: Engine) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tokens = {
        name: create_token(engine, role=role, client=client, name=name, now=T0)[1]
        for name, role, client in (
            ("support", "support", None),
            ("acme", "client", "acme"),
            ("orbit", "client", "orbit"),
        )
    }
    with TestClient(create_app(engine, Settings(redis_url=None))) as client:
        yield client, tokens


def get(api: Any, url: str, who: str, **params: Any) -> Any:
    client, tokens = api
    return client.get(url, params=params, headers={"Authorization": f"Bearer {tokens[who]}"})


def test_api_uptime_sees_only_the_callers_integrations(api: Any) -> None:
    answer = get(api, "/api/uptime", "acme", per_check=True)
    assert answer.status_code == 200, answer.text
    rows = answer.json()["rows"]
    assert {(r["integration"], r["check"]) for r in rows} == {("a", "health"), ("b", "health")}
    assert get(api, "/api/uptime", "orbit").json()["rows"] == []
    hidden = get(api, "/api/uptime", "orbit", integration="a")
    assert hidden.status_code == 404 and hidden.json()["detail"] == "integration a not found"
    assert get(api, "/api/uptime", "support", integration="a").json()["rows"][0]["ratio"] == 0.7


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/api/uptime", {"from": "not-a-date"}, "from"),
        ("/api/uptime", {"from": "2026-11-02", "to": "2026-11-01"}, "from"),
        ("/api/uptime", {"per_check": "maybe"}, "per_check"),
        ("/api/reports/monthly", {"month": "11/2026", "client": "acme"}, "month"),
        ("/api/reports/monthly", {"month": "2026-11", "format": "pdf"}, "format"),
        ("/api/reports/monthly", {}, "month"),
    ],
)
def test_api_bad_parameters_are_problems_naming_the_field(
    api: Any, url: str, params: dict[str, str], field: str
) -> None:
    answer = get(api, url, "support", **params)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["field"] == field


def test_api_monthly_report_for_the_callers_client(api: Any) -> None:
    mine = get(api, "/api/reports/monthly", "acme", month="2026-11")
    assert mine.status_code == 200 and mine.json()["client"] == "acme"
    other = get(api, "/api/reports/monthly", "orbit", month="2026-11", client="acme")
    assert other.status_code == 404 and other.json()["detail"] == "client acme not found"
    assert get(api, "/api/reports/monthly", "support", month="2026-11").status_code == 422
    page = get(
        api, "/api/reports/monthly", "support", month="2026-11", client="acme", format="html"
    )
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["content-language"] == "en" and "Monthly report: acme" in page.text
    sheet = get(api, "/api/reports/monthly", "acme", month="2026-11", format="csv")
    assert sheet.headers["content-type"].startswith("text/csv") and "availability" in sheet.text


def test_api_monthly_report_page_speaks_the_readers_language(api: Any) -> None:
    """`?lang=`, else Accept-Language, else English; the words are the console's."""
    client, tokens = api

    def page(accept: str = "", **params: str) -> Any:
        headers = {"Authorization": f"Bearer {tokens['acme']}", "Accept-Language": accept}
        query = {"month": "2026-11", "format": "html", **params}
        return client.get("/api/reports/monthly", params=query, headers=headers)

    english, russian = page(), page(lang="ru")
    assert (english.headers["content-language"], russian.headers["content-language"]) == (
        "en",
        "ru",
    )
    for text, words in (
        (english.text, ("Availability", "Incidents", "Leads not delivered: whose side failed")),
        (russian.text, ("Доступность", "Инциденты", "Недоставленные лиды: чья сторона")),
    ):
        assert all(word in text for word in words), words
    assert '<html lang="ru">' in russian.text and "Availability" not in russian.text
    # The browser's or caller's preference, by its q-values; ?lang= wins over it.
    assert page("de-DE, ru;q=0.8, en;q=0.5").headers["content-language"] == "ru"
    assert page("ru", lang="en").headers["content-language"] == "en"
    assert page("de").headers["content-language"] == "en"
    refused = page(lang="de")
    assert refused.status_code == 422 and refused.json()["field"] == "lang"
