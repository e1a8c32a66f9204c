"""Fixtures of the scenario tests: a fake lead partner on 127.0.0.1, its integrations
file, a fake clock, and a helper that runs a scenario with a callback listener."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from checks.scenarios.http import StepClient
from checks.scenarios.inbox import CallbackInbox
from checks.scenarios.listener import CallbackListener
from checks.scenarios.report import ScenarioReport
from checks.scenarios.runner import ScenarioRunner
from integrations.config import IntegrationSpec
from integrations.loader import load_text
from tests.alerts.servers import serving
from tests.e2e.partner import TOKEN, FakeLeadPartner

ENVIRON = {"ACME_TOKEN": TOKEN, "ACME_SIGNING_KEY": "sk-live-51d0c9e2"}
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

# The lead's journey: submit, read back its id, poll until accepted, wait for the
# broker's postback; the cleanup deletes the test lead whatever happened.
LEAD_FLOW = """\
version: 1
integrations:
  - id: acme
    name: ACME Broker
    kind: broker
    client: acme
    base_url: {url}
    auth: {type: bearer, token: "${ACME_TOKEN}"}
    timeout_s: 5
    checks: [{name: ping, path: /ping, expect: {json: ['$.pong == true']}}]
    scenarios:
      - name: lead-flow
        variables:
          email: "e2e+{{ run_id }}@example.com"
        test_marker:
          headers: {X-Test-Lead: "1"}
          json: {test: true}
        steps:
          - name: submit
            method: POST
            path: /leads
            headers: {X-Signature: "${ACME_SIGNING_KEY}"}
            json: {email: "{{ email }}", postback_url: "{{ callback_url.accepted }}"}
            expect: {status: [201], json: ['$.status == "received"']}
            extract:
              lead_id: {json: $.id}
              location: {header: Location}
              receipt: {regex: 'ref=([a-z0-9]+)'}
          - name: status
            path: /leads/{{ lead_id }}
            poll: {until: ['$.status == "accepted"'], every_s: 1, timeout_s: {poll_timeout}}
            expect: {json: ['$.id == "{{ lead_id }}"']}
          - name: postback
            wait_callback: accepted
            timeout_s: {callback_timeout}
            expect: {json: ['$.lead_id == "{{ lead_id }}"', '$.state == "accepted"']}
        cleanup:
          - name: delete
            method: DELETE
            path: /leads/{{ lead_id }}
            expect: {status: [204]}
"""


def lead_flow(url: str, *, poll_timeout: float = 10, callback_timeout: float = 10) -> str:
    return (
        LEAD_FLOW.replace("{url}", url)
        .replace("{poll_timeout}", f"{poll_timeout:g}")
        .replace("{callback_timeout}", f"{callback_timeout:g}")
    )


def spec_of(text: str) -> IntegrationSpec:
    return load_text(text).integrations[0]


class FakeClock:
    """Moves only when the runner sleeps; a wait of minutes takes no real time."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return T0 + timedelta(seconds=self.t - 1000.0)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds
        await asyncio.sleep(0.001)  # let the listener receive what the partner sends


@dataclass
class Served:
    partner: FakeLeadPartner
    url: str


@pytest.fixture
def served() -> Iterator[Served]:
    partner = FakeLeadPartner()
    with serving(partner.app()) as url:
        yield Served(partner, url)


async def run_once(
    spec: IntegrationSpec,
    name: str = "lead-flow",
    *,
    clock: Any = None,
    inbox: CallbackInbox | None = None,
    environ: dict[str, str] | None = None,
) -> ScenarioReport:
    """One run with a fresh client and (unless given an inbox) a callback listener."""
    client = StepClient()
    runner = ScenarioRunner(client, clock=clock, environ=ENVIRON if environ is None else environ)
    scenario = spec.scenario(name)
    assert scenario is not None
    try:
        if inbox is not None:
            return await runner.run(spec, scenario, inbox=inbox)
        async with CallbackListener() as listening:
            return await runner.run(spec, scenario, inbox=listening)
    finally:
        await client.aclose()
