"""`intmon validate` against configs that would go quiet in production (issue 21):
a request budget that leaves checks nothing is refused; a role nobody holds that an
escalation or SLA breach is routed to is a warning, printed but not failing."""

from __future__ import annotations

import json
from pathlib import Path

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
