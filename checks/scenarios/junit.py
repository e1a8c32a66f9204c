"""Scenario reports as JUnit XML, the format every CI system shows as test results.

    <testsuites name="intmon e2e" tests failures errors time>
      <testsuite name="acme-broker/lead-flow" … timestamp hostname id>   one per scenario run
        <properties> run_id, integration, scenario, outcome </properties>
        <testcase classname="acme-broker.lead-flow" name="submit" time>   one per step
          <failure type="contract_violation" message="…">…</failure>   a failed step
          <error type="timeout" message="…">…</error>                  a step that errored
          <skipped message="…"/>                                        a skipped step
          <system-out> the redacted request and response </system-out>

It follows the schema Jenkins' xunit plugin validates against (junit-10.xsd);
tests/e2e/junit.xsd is a stricter rendering of it that the tests validate with.
The reports are already redacted; characters XML 1.0 cannot hold are dropped.
"""

from __future__ import annotations

import json
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from checks.scenarios.report import ScenarioReport, StepReport, StepStatus

__all__ = ["junit_xml"]

_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MESSAGE_CHARS = 500


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _seconds(value: float) -> str:
    return f"{max(0.0, value):.3f}"


def junit_xml(reports: Sequence[ScenarioReport], *, hostname: str | None = None) -> str:
    """One `<testsuites>` document for the given runs."""
    host = hostname or socket.gethostname()
    root = ET.Element("testsuites", name="intmon e2e")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    elapsed = 0.0
    for report in reports:
        suite = _suite(report, host)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        elapsed += report.duration_s
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", str(totals["errors"]))
    root.set("time", _seconds(elapsed))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(report: ScenarioReport, host: str) -> ET.Element:
    counts = report.counts()
    suite = ET.Element(
        "testsuite",
        name=f"{report.integration_id}/{report.scenario}",
        tests=str(len(report.steps)),
        failures=str(counts[StepStatus.FAILED.value]),
        errors=str(counts[StepStatus.ERROR.value]),
        skipped=str(counts[StepStatus.SKIPPED.value]),
        time=_seconds(report.duration_s),
        timestamp=report.started_at.replace(microsecond=0, tzinfo=None).isoformat(),
        hostname=_clean(host),
        id=report.run_id,
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("run_id", report.run_id),
        ("integration", report.integration_id),
        ("scenario", report.scenario),
        ("status", report.status.value),
        ("outcome", report.outcome.value),
    ):
        ET.SubElement(properties, "property", name=name, value=_clean(value))
    classname = f"{report.integration_id}.{report.scenario}"
    for step in report.steps:
        suite.append(_case(step, classname))
    return suite


def _case(step: StepReport, classname: str) -> ET.Element:
    name = step.name if step.phase == "step" else f"cleanup: {step.name}"
    case = ET.Element("testcase", name=name, classname=classname, time=_seconds(step.duration_s))
    message = _clean(step.detail)[:MESSAGE_CHARS]
    kind = step.outcome.value if step.outcome else step.status.value
    if step.status is StepStatus.FAILED:
        failure = ET.SubElement(case, "failure", message=message, type=kind)
        failure.text = _clean(step.detail)
    elif step.status is StepStatus.ERROR:
        error = ET.SubElement(case, "error", message=message, type=kind)
        error.text = _clean(step.detail)
    elif step.status is StepStatus.SKIPPED:
        ET.SubElement(case, "skipped", message=message)
    out = _exchange_text(step)
    if out:
        ET.SubElement(case, "system-out").text = _clean(out)
    return case


def _exchange_text(step: StepReport) -> str:
    sections: list[tuple[str, Any]] = [
        ("request", step.request),
        ("response", step.response),
        ("extracted", step.extracted),
    ]
    return "\n".join(
        f"{title}: {json.dumps(value, ensure_ascii=False, indent=2, default=str)}"
        for title, value in sections
        if value
    )
