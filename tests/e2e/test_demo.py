"""The demo's scenario against the sandbox: a test lead with a real postback."""

from __future__ import annotations

import httpx

from checks.scenarios.report import StepStatus
from intmon.config_file import load_config_text
from intmon.demo.config import demo_config
from intmon.demo.e2e import DEMO_SCENARIO, run_demo_scenario
from intmon.demo.sandbox import Sandbox


def test_the_demo_scenario_passes_against_the_sandbox() -> None:
    with Sandbox() as sandbox:
        config = demo_config(sandbox)
        loaded = load_config_text(config.yaml_text)
        report = run_demo_scenario(loaded, config.environ)
        desk = sandbox.lead_desk

    assert report.passed, report.detail
    assert report.scenario == DEMO_SCENARIO
    assert [s.status for s in report.steps] == [StepStatus.PASSED] * 4
    lead_id = report.steps[0].extracted["lead_id"]
    assert report.steps[2].extracted == {"payout": 12.5}
    assert desk.deleted == [lead_id]
    assert desk.postbacks == [(desk.postbacks[0][0], 200)]
    assert sandbox.token not in str(report.as_dict())


def test_the_sandbox_takes_test_leads_only() -> None:
    with Sandbox() as sandbox:
        answer = httpx.post(
            f"{sandbox.http_url}/e2e/leads",
            json={"email": "real@example.com", "postback_url": "http://x"},
            headers={"Authorization": f"Bearer {sandbox.token}"},
        )
    assert answer.status_code == 422
    assert answer.json() == {"error": "the sandbox takes test leads only"}
