"""The command line as a user (or a CI pipeline) meets it: output, JSON and exit codes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from core.settings import get_settings
from intmon.cli import app
from tests.conftest import Partner

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("INTMON_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("INTMON_REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def write(tmp_path: Path, text: str, name: str = "integrations.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config_for(url: str, *, extra: str = "") -> str:
    return f"""\
        version: 1
        integrations:
          - id: partner
            name: Partner
            kind: broker
            client: acme
            base_url: {url}
            timeout_s: 2
            retries: 0
            checks: [{{name: health, path: /health, expect: {{json: ['$.status == "ok"']}}}}]
        {extra}"""


def test_validate_ok_and_bad(tmp_path: Path) -> None:
    good = write(tmp_path, config_for("http://127.0.0.1:9"))
    result = runner.invoke(app, ["validate", str(good)])
    assert result.exit_code == 0 and "valid" in result.output

    bad = write(
        tmp_path,
        config_for("http://127.0.0.1:9").replace("kind: broker", "kind: bank"),
        "bad.yaml",
    )
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:5" in result.output and "integrations[0].kind" in result.output

    result = runner.invoke(app, ["validate", str(bad), "--json"])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["problems"][0]["line"] == 5
    assert report["problems"][0]["field"] == "integrations[0].kind"


def test_validate_reads_stdin_and_names_it_in_errors() -> None:
    text = config_for("http://127.0.0.1:9")
    assert runner.invoke(app, ["validate", "-"], input=text).exit_code == 0
    bad = runner.invoke(app, ["validate", "-"], input=text.replace("kind: broker", "kind: bank"))
    assert bad.exit_code == 2 and "<stdin>:5" in bad.output


def test_validate_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "cannot read file" in result.output


def test_apply_reports_and_is_idempotent(tmp_path: Path) -> None:
    path = write(tmp_path, config_for("http://127.0.0.1:9"))
    first = json.loads(runner.invoke(app, ["apply", str(path), "--json"]).stdout)
    assert first["added"] == ["partner"]
    second = json.loads(runner.invoke(app, ["apply", str(path), "--json"]).stdout)
    assert second == {"added": [], "changed": [], "removed": [], "unchanged": ["partner"]}
    table = runner.invoke(app, ["apply", str(path)])
    assert table.exit_code == 0 and "unchanged" in table.output


def test_check_exit_codes_for_pipelines(tmp_path: Path, partner: Partner) -> None:
    ok = write(tmp_path, config_for(partner.url))
    result = runner.invoke(app, ["check", str(ok), "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["outcome"] == "ok" and row["http_status"] == 200

    down = write(tmp_path, config_for(f"http://127.0.0.1:{closed_port()}"), "down.yaml")
    result = runner.invoke(app, ["check", str(down)])
    assert result.exit_code == 1
    assert "connection_refused" in result.output

    result = runner.invoke(app, ["check", str(ok), "-i", "nobody"])
    assert result.exit_code == 2 and "unknown integration" in result.output


AUTH_LINE = '            auth: {type: bearer, token: "${PARTNER_TOKEN}"}'


def test_check_never_prints_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "tok-3f9a1c7e-very-secret"
    monkeypatch.setenv("PARTNER_TOKEN", token)
    # The partner echoes the credential back in an error, as careless APIs do.
    with Partner(status=401, body=f'{{"error": "bad token {token}"}}'.encode()) as echo:
        path = write(
            tmp_path,
            config_for(echo.url).replace("retries: 0", "retries: 0\n" + AUTH_LINE),
        )
        for args in (["check", str(path), "--json"], ["check", str(path)]):
            result = runner.invoke(app, args)
            assert result.exit_code == 1
            assert "auth_failure" in result.output
            assert token not in result.output


def test_validate_warns_about_secrets_it_cannot_read_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A valid file whose `${ENV}` is unset or `${file:}` unreadable where it runs:
    exit 0 (the file may be for another machine), with a warning naming each."""
    monkeypatch.delenv("PARTNER_TOKEN", raising=False)
    missing = tmp_path / "secrets" / "api-key"
    text = config_for("http://127.0.0.1:9").replace("retries: 0", "retries: 0\n" + AUTH_LINE)
    text = text.replace(
        "path: /health,", f'path: /health, headers: {{X-Key: "${{file:{missing}}}"}},'
    )
    path = write(tmp_path, text)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    squeezed = "".join(result.output.split())  # rich wraps long paths anywhere
    assert "integrations[0].auth.token:environmentvariablePARTNER_TOKENisnotset" in squeezed
    report = json.loads(runner.invoke(app, ["validate", str(path), "--json"]).stdout)
    assert [w["field"] for w in report["warnings"]] == [
        "integrations[0].auth.token",
        "integrations[0].checks[0].headers.X-Key",
    ]
    assert all(isinstance(w["line"], int) for w in report["warnings"])
    assert "config_error" in report["warnings"][1]["message"]
    assert str(missing) in report["warnings"][1]["message"]

    monkeypatch.setenv("PARTNER_TOKEN", "set-now")
    missing.parent.mkdir()
    missing.write_text("k3y\n")
    report = json.loads(runner.invoke(app, ["validate", str(path), "--json"]).stdout)
    assert report["warnings"] == []


def test_check_says_which_secret_it_cannot_read_and_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, partner: Partner
) -> None:
    monkeypatch.delenv("PARTNER_TOKEN", raising=False)
    path = write(
        tmp_path, config_for(partner.url).replace("retries: 0", "retries: 0\n" + AUTH_LINE)
    )
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 1
    flat = " ".join(result.output.split())
    assert "config_error" in flat and "PARTNER_TOKEN is not set" in flat
    rows = json.loads(runner.invoke(app, ["check", str(path), "--json"]).stdout)
    assert rows[0]["outcome"] == "config_error" and "PARTNER_TOKEN" in rows[0]["detail"]


def test_status_needs_a_schema(tmp_path: Path) -> None:
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 2 and "intmon migrate" in result.output
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"platform_outage": None, "checks": []}


def test_status_shows_an_open_platform_outage_above_the_table(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from alerts.models import PlatformOutage
    from core.db import make_engine

    assert runner.invoke(app, ["migrate"]).exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.begin() as connection:
        connection.execute(
            insert(PlatformOutage).values(
                state="open",
                started_at=datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
                opened_at=datetime(2026, 11, 23, 12, 0, 30, tzinfo=UTC),
                cause="canary",
                outcome="timeout",
                detail="canary edge fails: timed out",
                evidence={"canary": {"edge": "timeout: timed out"}},
                clear_streak=0,
            )
        )
    engine.dispose()
    result = runner.invoke(app, ["status"])
    flat = " ".join(result.output.split())
    assert result.exit_code == 0
    assert "Platform outage #1 since 2026-11-23 12:00:00 UTC (canary, timeout)" in flat
    assert flat.index("Platform outage") < flat.index("Check state")
    shown = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    assert shown["checks"] == []
    assert shown["platform_outage"] == {
        "id": 1,
        "cause": "canary",
        "outcome": "timeout",
        "started_at": "2026-11-23T12:00:00+00:00",
        "opened_at": "2026-11-23T12:00:30+00:00",
        "detail": "canary edge fails: timed out",
        "evidence": {"canary": {"edge": "timeout: timed out"}},
    }
    listed = runner.invoke(app, ["outages"])
    assert listed.exit_code == 0
    assert "Platform outages" in listed.output and "canary" in listed.output
    (row,) = json.loads(runner.invoke(app, ["outages", "--json"]).stdout)
    assert (row["id"], row["state"], row["ended_at"]) == (1, "open", None)


def test_production_processes_refuse_to_start_without_redis() -> None:
    for command in ("scheduler", "worker"):
        result = runner.invoke(app, [command])
        assert result.exit_code == 2 and "INTMON_REDIS_URL" in result.output


def test_run_is_an_all_in_one_process(tmp_path: Path, partner: Partner) -> None:
    """`intmon run FILE` as a real process: checks flow, /metrics serves, SIGINT stops it."""
    path = write(
        tmp_path,
        config_for(partner.url).replace(
            "timeout_s: 2", "interval_s: 1\n" + " " * 12 + "timeout_s: 1"
        ),
    )
    port = closed_port()
    env = {**os.environ, "INTMON_DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "intmon", "run", str(path), "--metrics-port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        page = ""
        while time.monotonic() < deadline:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.TransportError:
                page = ""
            if (
                'intmon_check_results_total{check="health",integration="partner",outcome="ok"}'
                in page
            ):
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"no result in /metrics: {page[-500:]}")
        assert "intmon_queue_depth" in page
        assert partner.hits >= 1
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output.decode()[-2000:]

    status = runner.invoke(
        app, ["status", "--json"], env={"INTMON_DATABASE_URL": env["INTMON_DATABASE_URL"]}
    )
    assert json.loads(status.stdout)["checks"][0]["outcome"] == "ok"


def test_status_prints_partner_text_and_the_held_back_mark_as_text(tmp_path: Path) -> None:
    """A detail holding `[bold]…` is the partner's words, not rich markup; the
    held-back mark of a result inhibited by a platform outage is shown, not eaten."""
    from datetime import UTC, datetime

    from core.db import make_engine
    from core.vocabulary.outcomes import CheckResult, Outcome
    from integrations.apply import apply
    from integrations.loader import load_text
    from integrations.results import Recorded, record_results

    assert runner.invoke(app, ["migrate"]).exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    apply(engine, load_text(textwrap.dedent(config_for("http://127.0.0.1:9"))))
    refused = CheckResult(
        integration_id="partner",
        check_name="health",
        outcome=Outcome.CONNECTION_REFUSED,
        started_at=datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
        duration_s=0.01,
        detail="[bold]refused[/bold]",
    )
    record_results(engine, [Recorded(refused, family="connectivity", inhibited=True)])
    engine.dispose()
    result = runner.invoke(app, ["status"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "[held back: platform outage] [bold]refused[/bold]" in result.output


def test_the_results_table_prints_a_partners_words_as_text() -> None:
    from datetime import UTC, datetime

    from rich.console import Console

    from core.vocabulary.outcomes import CheckResult, Outcome
    from intmon.cli.output import results_table

    said = '$.status == "ok" failed: got "[red]down[/red]"'
    result = CheckResult(
        "p", "health", Outcome.CONTRACT_VIOLATION, datetime.now(UTC), 0.1, 200, said
    )
    console = Console(width=250, record=True)
    console.print(results_table([result]))
    assert said in console.export_text()
