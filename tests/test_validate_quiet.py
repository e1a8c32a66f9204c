"""`intmon validate` against configs that would go quiet in production (issue 21):
a request budget that leaves checks nothing is refused; a role nobody holds that an
escalation or SLA breach is routed to is a warning, printed but not failing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from intmon.cli import app

runner = CliRunner()

BUDGETED = """version: 1
integrations:
  - id: slowbroker
    name: Slow Broker
    kind: broker
    client: acme
    base_url: http://127.0.0.1:9
    checks: [{{name: health}}]
    delivery:
      path: /leads
      body: {{email: "{{{{ lead.email }}}}"}}
      rate_limit_rps: 2
      checks_share: {share}
"""


def test_validate_refuses_a_budget_that_leaves_checks_no_request(tmp_path: Path) -> None:
    file = tmp_path / "integrations.yaml"
    file.write_text(BUDGETED.format(share=0))
    result = runner.invoke(app, ["validate", str(file), "--json"])
    assert result.exit_code == 2, result.output
    (problem,) = json.loads(result.output)["problems"]
    assert problem["field"] == "integrations[0].delivery.checks_share"
    assert problem["line"] == 13
    assert "slowbroker" in problem["message"] and "allowance of 0" in problem["message"]


PRODUCTION = """version: 1
clients:
  acme:
    contacts:
      - {{name: Desk, email: desk@acme.example, roles: [operational_public]}}
integrations:
  - id: prodbroker
    name: Prod Broker
    kind: broker
    client: acme
    base_url: http://127.0.0.1:9
    production: true
    checks: [{{name: health}}]
    contacts:
      - {{name: Olga, email: oncall@b.example, roles: [alert, technical_emergency]}}
      - {{name: Nina, email: dev@b.example, roles: [technical_non_emergency]}}
{more}"""
CHAIN = """      - {name: Ops, email: ops@b.example, roles: [operational_internal]}
      - name: Lead
        email: lead@b.example
        roles: [technical_emergency, operational_internal]
        escalation_level: 2
"""


def test_validate_warns_when_a_breach_or_escalation_reaches_nobody(tmp_path: Path) -> None:
    file = tmp_path / "integrations.yaml"
    file.write_text(PRODUCTION.format(more=""))
    result = runner.invoke(app, ["validate", str(file), "--json"])
    assert result.exit_code == 0, result.output  # a warning fails nothing
    report = json.loads(result.output)
    assert report["valid"] is True
    messages = [w["message"] for w in report["warnings"]]
    assert {w["field"] for w in report["warnings"]} == {"integrations[0].contacts"}
    assert all(m.startswith("integration prodbroker: ") for m in messages)
    assert [m.split(": ", 1)[1].split(",")[0] for m in messages] == [
        "escalation is routed to role operational_internal",
        "escalation is routed to role technical_emergency",
        "ticket.sla_breached is routed to role operational_internal",
    ]
    text = runner.invoke(app, ["validate", str(file)])
    assert text.exit_code == 0
    assert "3 warning(s)" in text.output
    assert "role operational_internal" in " ".join(text.output.split())


def test_no_warning_when_every_breach_and_escalation_role_has_a_contact(tmp_path: Path) -> None:
    file = tmp_path / "integrations.yaml"
    file.write_text(PRODUCTION.format(more=CHAIN))
    result = runner.invoke(app, ["validate", str(file), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["warnings"] == []


def test_the_deploy_example_validates_without_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).resolve().parent.parent / "deploy" / "integrations.example.yaml"
    # Where it is meant to run, its secrets are set; unset, each would be a warning.
    for name in re.findall(r"\$\{([A-Z_][A-Z0-9_]*)\}", example.read_text()):
        monkeypatch.setenv(name, "set-where-it-runs")
    result = runner.invoke(app, ["validate", str(example), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["warnings"] == []
