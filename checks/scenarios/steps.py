"""The parts of a step that need no network: rendering its request, judging an answer,
extracting values, and the request/response views a report shows.

Pure functions of (step, variables, answer); the runner strings them together.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from jsonpath_ng.ext.parser import parse as parse_path

from checks._identity import IdentityCache
from checks.classify import (
    CompiledExpectation,
    Observation,
    Verdict,
    classify,
    compile_expectation,
)
from checks.scenarios.errors import LoadRefused
from checks.scenarios.http import OutgoingRequest
from core.vocabulary.assertions import compile_assertion
from integrations.config import CheckSpec, Expectation, IntegrationSpec
from integrations.errors import TemplateProblem
from integrations.redaction import SENSITIVE_NAME
from integrations.scenarios import Extraction, ScenarioSpec, StepExpect, StepSpec, TestMarker
from integrations.secrets import REDACTED
from integrations.templating import is_template, render_text, render_value

__all__ = [
    "EXCERPT_CHARS",
    "LoadRefused",
    "callback_observation",
    "extract",
    "judge",
    "render_request",
    "request_view",
    "response_view",
    "step_as_check",
    "until_failure",
]

EXCERPT_CHARS = 2048
CALLBACK_STATUS = 200  # a callback has no status of ours to judge; it arrived


def render_request(
    integration: IntegrationSpec,
    step: StepSpec,
    marker: TestMarker,
    variables: Mapping[str, Any],
    secrets: set[str],
    environ: Mapping[str, str] | None,
    *,
    keep_references: bool = False,
) -> OutgoingRequest:
    """The step's request with templates filled in and the test marker applied.

    The marker comes first and the step's own values win where both set the same
    header, parameter or JSON field: a step can say something more specific.
    """
    keep = keep_references

    def text(value: str) -> str:
        return render_text(value, variables, secrets, environ, keep_references=keep)

    def value_of(value: Any) -> Any:
        return render_value(value, variables, secrets, environ, native=True, keep_references=keep)

    def mapping(values: Mapping[str, str]) -> dict[str, str]:
        return {text(k): text(v) for k, v in values.items()}

    method = text(step.method).upper()
    path = text(step.path or "/")
    if not path.startswith("/"):
        raise TemplateProblem(f"path {path!r} does not start with '/' once rendered")
    body: Any = value_of(step.json_body)
    if marker.json_ and isinstance(body, dict):
        body = {**value_of(marker.json_), **body}
    return OutgoingRequest(
        method=method,
        url=integration.base_url + path,
        path=path,
        headers={**mapping(marker.headers), **mapping(step.headers)},
        params={**mapping(marker.query), **mapping(step.query)},
        json=body,
        content=None if step.body is None else text(step.body),
    )


def _static_expectation(expect: StepExpect) -> CompiledExpectation:
    return compile_expectation(_expectation(expect, expect.json_))


_static: IdentityCache[StepExpect, CompiledExpectation] = IdentityCache(_static_expectation)


def _expectation(expect: StepExpect, assertions: list[str]) -> Expectation:
    return Expectation.model_validate(
        {
            "status": expect.status,
            "json": assertions,
            "headers": expect.headers,
            "max_latency_ms": expect.max_latency_ms,
        }
    )


def judge(
    expect: StepExpect,
    observation: Observation,
    variables: Mapping[str, Any],
    secrets: set[str],
    environ: Mapping[str, str] | None,
) -> Verdict:
    """Classify an answer against the step's expectations, exactly as a check's answer
    is (`checks.classify`); a latency above `max_latency_ms` fails the step as `slow`."""
    if any(is_template(a) for a in expect.json_):
        rendered = [render_text(a, variables, secrets, environ) for a in expect.json_]
        try:
            rules = compile_expectation(_expectation(expect, rendered))
        except ValueError as error:
            raise TemplateProblem(f"assertion invalid once rendered: {error}") from None
    else:
        rules = _static.get(expect)
    return classify(observation, rules)


def until_failure(
    until: list[str],
    observation: Observation,
    variables: Mapping[str, Any],
    secrets: set[str],
    environ: Mapping[str, str] | None,
) -> str | None:
    """None when every `until` assertion holds for this answer, else why not."""
    try:
        document = json.loads(observation.body)
    except ValueError:
        return "the body is not JSON"
    for text in until:
        rendered = render_text(text, variables, secrets, environ)
        try:
            assertion = compile_assertion(rendered)
        except ValueError as error:
            raise TemplateProblem(f"poll condition invalid once rendered: {error}") from None
        failure = assertion.evaluate(document)
        if failure is not None:
            return failure
    return None


@functools.lru_cache(maxsize=1024)
def _path(text: str) -> Any:
    return parse_path(text)


def extract(
    rules: Mapping[str, Extraction], observation: Observation
) -> tuple[dict[str, Any], str | None]:
    """The values `rules` take from the answer, or the first that cannot be found."""
    values: dict[str, Any] = {}
    document: Any = None
    parsed = False
    for name, rule in rules.items():
        if rule.json_ is not None:
            if not parsed:
                parsed = True
                try:
                    document = json.loads(observation.body)
                except ValueError:
                    return values, f"extract {name}: the body is not JSON"
            matches = _path(rule.json_).find(document)
            if not matches:
                return values, f"extract {name}: {rule.json_} not found in the body"
            values[name] = matches[0].value
            continue
        source = observation.body.decode("utf-8", errors="replace")
        if rule.header is not None:
            header = _header(observation.headers, rule.header)
            if header is None:
                return values, f"extract {name}: header {rule.header} missing"
            source = header
        if rule.regex is None:
            values[name] = source
            continue
        match = re.search(rule.regex, source)
        if match is None:
            where = f"header {rule.header}" if rule.header else "the body"
            return values, f"extract {name}: {rule.regex!r} does not match {where}"
        values[name] = match.group(1) if match.re.groups else match.group(0)
    return values, None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def callback_observation(
    body: bytes, query: Mapping[str, str], headers: Mapping[str, str]
) -> Observation:
    """A callback judged like an answer: its JSON body, or its query parameters as a
    JSON object when it has no body (a GET postback carries its data there)."""
    document = body if body.strip() else json.dumps(dict(query)).encode()
    return Observation(CALLBACK_STATUS, dict(headers), document, 0.0)


def masked(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: (REDACTED if SENSITIVE_NAME.search(k) else v) for k, v in headers.items()}


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def request_view(
    request: OutgoingRequest, url: str | None = None, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    body = request.content
    if body is None and request.json is not None:
        body = json.dumps(request.json, ensure_ascii=False)
    return {
        "method": request.method,
        "url": url or request.url,
        "headers": masked(headers if headers is not None else request.headers),
        "body": _excerpt(body or ""),
    }


def response_view(observation: Observation) -> dict[str, Any]:
    return {
        "status": observation.status,
        "headers": masked(observation.headers),
        "excerpt": _excerpt(observation.body.decode("utf-8", errors="replace")),
        "truncated": observation.truncated,
        "latency_ms": round(observation.elapsed_s * 1000, 1),
    }


def step_as_check(
    integration: IntegrationSpec, scenario: ScenarioSpec, step: StepSpec, run_id: str
) -> CheckSpec:
    """The step as a check the probe engine can send again and again (`intmon e2e load`).

    It may use the scenario's variables and the built-ins; a value that only an
    earlier step's answer provides does not exist outside a run. `${…}` stay
    references, so the engine resolves and redacts them as for any check.
    """
    if step.is_callback:
        raise LoadRefused(f"step {step.name!r} waits for a callback; it sends nothing")
    if step.body is not None:
        raise LoadRefused(f"step {step.name!r} has a raw body; load sends JSON bodies only")
    secrets: set[str] = set()
    try:
        variables = _load_variables(integration, scenario, run_id)
        outgoing = render_request(
            integration, step, scenario.test_marker, variables, secrets, None, keep_references=True
        )
        assertions = [
            render_text(a, variables, secrets, keep_references=True) for a in step.expect.json_
        ]
    except TemplateProblem as error:
        raise LoadRefused(
            f"step {step.name!r} needs a value an earlier step's answer provides: {error}"
        ) from None
    expect = step.expect
    return CheckSpec.model_validate(
        {
            "name": step.name,
            "method": outgoing.method,
            "path": outgoing.path,
            "headers": outgoing.headers,
            "query": outgoing.params,
            "json": outgoing.json,
            "expect": {
                "status": expect.status,
                "json": assertions,
                "headers": expect.headers,
                "max_latency_ms": expect.max_latency_ms,
            },
        }
    )


def _load_variables(
    integration: IntegrationSpec, scenario: ScenarioSpec, run_id: str
) -> dict[str, Any]:
    """Built-ins and the scenario's variables for a load test (no run, no callbacks)."""
    variables: dict[str, Any] = {
        "run_id": run_id,
        "now": "load-test",
        "uuid": run_id,
        "integration": integration.id,
        "scenario": scenario.name,
        "callback_url": {n: "http://callbacks.invalid/" for n in scenario.callback_names},
    }
    for name, value in scenario.variables.items():
        variables[name] = render_value(value, variables, set(), native=True, keep_references=True)
    return variables
