"""The demo's end-to-end scenario: a test lead through the sandbox broker, run once.

`acme-broker` in the demo file has a scenario (`DEMO_SCENARIO`): submit a test lead,
read back its id, poll its status until the broker accepts it, wait for the
broker's postback, delete the lead. The demo runs it as `intmon e2e run` would
from a CI job: a callback listener of its own on 127.0.0.1, no database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from checks.scenarios.http import StepClient
from checks.scenarios.listener import CallbackListener
from checks.scenarios.report import ScenarioReport
from checks.scenarios.runner import ScenarioRunner
from integrations.config import IntegrationsFile

DEMO_INTEGRATION = "acme-broker"
DEMO_SCENARIO = "lead-journey"

# The scenario as it appears in the demo's integrations file (intmon.demo.config).
SCENARIO: dict[str, Any] = {
    "name": DEMO_SCENARIO,
    "description": "A test lead: submit, poll until accepted, the broker's postback, delete.",
    "variables": {"email": "e2e+{{ run_id }}@demo.example"},
    "test_marker": {"headers": {"X-Test-Lead": "1"}, "json": {"test": True}},
    "timeout_s": 30,
    "steps": [
        {
            "name": "submit",
            "method": "POST",
            "path": "/e2e/leads",
            "json": {"email": "{{ email }}", "postback_url": "{{ callback_url.accepted }}"},
            "expect": {"status": [201], "json": ['$.status == "received"']},
            "extract": {"lead_id": {"json": "$.id"}},
        },
        {
            "name": "status",
            "path": "/e2e/leads/{{ lead_id }}",
            "poll": {"until": ['$.status == "accepted"'], "every_s": 0.5, "timeout_s": 10},
        },
        {
            "name": "postback",
            "wait_callback": "accepted",
            "timeout_s": 10,
            "expect": {"json": ['$.lead_id == "{{ lead_id }}"', '$.status == "accepted"']},
            "extract": {"payout": {"json": "$.payout"}},
        },
    ],
    "cleanup": [
        {
            "name": "delete",
            "method": "DELETE",
            "path": "/e2e/leads/{{ lead_id }}",
            "expect": {"status": [204]},
        }
    ],
}


def run_demo_scenario(config: IntegrationsFile, environ: Mapping[str, str]) -> ScenarioReport:
    """Run the demo scenario once against the running sandbox and return its report."""
    spec = next(i for i in config.integrations if i.id == DEMO_INTEGRATION)
    scenario = spec.scenario(DEMO_SCENARIO)
    assert scenario is not None, "the demo file has the scenario"

    async def main() -> ScenarioReport:
        client = StepClient()
        try:
            async with CallbackListener() as inbox:
                runner = ScenarioRunner(client, environ=environ)
                return await runner.run(spec, scenario, inbox=inbox)
        finally:
            await client.aclose()

    return asyncio.run(main())
