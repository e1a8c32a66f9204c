"""`intmon e2e run | history | show`: what a test team's CI and support call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import xmlschema
from typer.testing import CliRunner

from core.settings import get_settings
from intmon.cli import app
from tests.e2e.conftest import ENVIRON, Served, lead_flow

SCHEMA = xmlschema.XMLSchema(Path(__file__).with_name("junit.xsd"))
runner = CliRunner()


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("INTMON_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def quick(url: str) -> str:
    return lead_flow(url, callback_timeout=1).replace("every_s: 1,", "every_s: 0.1,")


def test_a_ci_run_from_the_file_passes_with_a_junit_report(served: Served, tmp_path: Path) -> None:
    path = tmp_path / "integrations.yaml"
    path.write_text(quick(served.url))
    junit = tmp_path / "report.xml"

    result = runner.invoke(
        app, ["e2e", "run", "acme", "-f", str(path), "--junit", str(junit), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["passed"] is True
    (run,) = data["runs"]
    assert run["status"] == "passed" and run["counts"]["passed"] == 4
    SCHEMA.validate(junit.read_text())
    assert ENVIRON["ACME_TOKEN"] not in result.stdout + junit.read_text()


def test_a_failing_scenario_exits_1_and_says_which_step(served: Served, tmp_path: Path) -> None:
    served.partner.postback = False
    path = tmp_path / "integrations.yaml"
    path.write_text(quick(served.url))
    result = runner.invoke(app, ["e2e", "run", "acme", "-f", str(path), "-s", "lead-flow"])
    assert result.exit_code == 1
    assert "postback" in result.output and "failed" in result.output
    assert "0/1 scenario(s) passed" in result.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["e2e", "run", "nope"], "unknown integration 'nope'"),
        (["e2e", "run", "acme", "-s", "nope"], "has no scenario nope"),
    ],
)
def test_bad_input_exits_2(served: Served, tmp_path: Path, args: list[str], words: str) -> None:
    path = tmp_path / "integrations.yaml"
    path.write_text(quick(served.url))
    result = runner.invoke(app, [*args, "-f", str(path)])
    assert result.exit_code == 2
    assert words in " ".join(result.output.split())


def test_a_bad_file_exits_2_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "integrations.yaml"
    text = quick("http://127.0.0.1:9")
    path.write_text(text.replace("path: /leads/{{ lead_id }}\n", "path: /leads/{{ lead }}\n", 1))
    result = runner.invoke(app, ["e2e", "run", "acme", "-f", str(path), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["problems"][0]["field"].endswith("steps[1].path")


def test_registry_runs_are_kept_in_the_history(served: Served, tmp_path: Path) -> None:
    path = tmp_path / "integrations.yaml"
    path.write_text(quick(served.url))
    assert runner.invoke(app, ["apply", str(path)]).exit_code == 0
    assert runner.invoke(app, ["e2e", "run", "acme"]).exit_code == 0
    served.partner.submit_status = 500
    assert runner.invoke(app, ["e2e", "run", "acme"]).exit_code == 1

    history = runner.invoke(app, ["e2e", "history", "--json"])
    assert history.exit_code == 0
    runs = json.loads(history.stdout)
    assert [(r["status"], r["trigger"]) for r in runs] == [("failed", "cli"), ("passed", "cli")]
    table = runner.invoke(app, ["e2e", "history", "-i", "acme"])
    assert table.exit_code == 0 and "e2e runs: 2" in table.output

    junit = tmp_path / "failed.xml"
    shown = runner.invoke(app, ["e2e", "show", runs[0]["run_id"], "--junit", str(junit)])
    assert shown.exit_code == 0 and "server_error" in shown.output
    SCHEMA.validate(junit.read_text())
    as_json = json.loads(runner.invoke(app, ["e2e", "show", runs[1]["run_id"], "--json"]).stdout)
    assert as_json["report"]["status"] == "passed"
    missing = runner.invoke(app, ["e2e", "show", "no-such-run"])
    assert missing.exit_code == 2
