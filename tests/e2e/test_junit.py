"""JUnit XML of scenario runs, validated against tests/e2e/junit.xsd."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from checks.scenarios.junit import junit_xml
from checks.scenarios.report import ScenarioReport, StepReport, StepStatus
from core.vocabulary.outcomes import Outcome
from tests.e2e.conftest import T0, FakeClock, Served, lead_flow, run_once, spec_of

SCHEMA = xmlschema.XMLSchema(Path(__file__).with_name("junit.xsd"))


def test_a_passing_and_a_failing_run_make_a_valid_document(served: Served) -> None:
    spec = spec_of(lead_flow(served.url, callback_timeout=2))
    passing = asyncio.run(run_once(spec, clock=FakeClock()))
    served.partner.postback = False
    failing = asyncio.run(run_once(spec, clock=FakeClock()))

    xml = junit_xml([passing, failing], hostname="ci-runner")
    SCHEMA.validate(xml)
    root = ET.fromstring(xml)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("8", "1", "0")
    first, second = root.findall("testsuite")
    assert first.get("name") == "acme/lead-flow" and first.get("failures") == "0"
    assert first.get("id") == passing.run_id and first.get("hostname") == "ci-runner"
    cases = second.findall("testcase")
    assert [c.get("name") for c in cases] == ["submit", "status", "postback", "cleanup: delete"]
    assert {c.get("classname") for c in cases} == {"acme.lead-flow"}
    failure = cases[2].find("failure")
    assert failure is not None
    assert failure.get("type") == "timeout"
    assert failure.get("message") == "callback 'accepted' did not arrive within 2 s"
    out = cases[0].findtext("system-out") or ""
    assert '"method": "POST"' in out and "[REDACTED]" in out and "partner-token" not in out


def _report(*steps: StepReport) -> ScenarioReport:
    return ScenarioReport("run-x", "acme", "flow", StepStatus.ERROR, T0, 1.5, list(steps))


def test_errors_skips_and_hostile_text_stay_valid() -> None:
    nasty = 'bad \x00\x07 bytes ]]> <tag> & "quotes" \ud800 \U0001f600'
    report = _report(
        StepReport("a", "step", "request", StepStatus.ERROR, Outcome.TLS_ERROR, nasty),
        StepReport("b", "step", "callback", StepStatus.SKIPPED, detail="step 'a' did not pass"),
        StepReport(
            "c",
            "cleanup",
            "request",
            StepStatus.PASSED,
            response={"status": 204, "excerpt": nasty},
        ),
    )
    xml = junit_xml([report])
    SCHEMA.validate(xml)
    suite = ET.fromstring(xml).find("testsuite")
    assert suite is not None
    assert (suite.get("errors"), suite.get("skipped"), suite.get("tests")) == ("1", "1", "3")
    error = suite.find("testcase/error")
    assert error is not None and error.get("type") == "tls_error"
    assert error.get("message") == 'bad  bytes ]]> <tag> & "quotes"  \U0001f600'


def test_the_schema_is_strict_enough_to_catch_a_broken_document() -> None:
    report = _report(StepReport("a", "step", "request", StepStatus.FAILED, Outcome.TIMEOUT, "x"))
    broken = junit_xml([report]).replace(' type="timeout"', "")
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        SCHEMA.validate(broken)


def test_no_runs_is_an_empty_but_valid_document() -> None:
    SCHEMA.validate(junit_xml([]))
