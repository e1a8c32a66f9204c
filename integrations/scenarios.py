"""End-to-end scenarios: how a test lead travels through a partner's API, step by step.

An integration's `scenarios:` list holds ordered steps. A step is either a
request (templated method, path, headers, query and body; assertions; values
extracted for later steps; optional polling until a condition holds) or a wait
for the partner's postback to intmon's `/callbacks/{run_id}/{name}`. `cleanup`
steps always run, also after a failure. `test_marker` says how every request
marks the lead as a test (headers, query parameters, JSON fields).

The shapes are checked by the models below; what spans steps (every `{{ var }}`
is defined before it is used, `callback_url.<name>` names a callback step,
templated assertions still parse) by `scenario_problems`, which the integrations
file's `cross_problems` calls so each mistake is reported with its line.
Running scenarios is `checks.scenarios`' job.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from jsonpath_ng.ext.parser import parse as parse_path
from pydantic import Field, field_validator, model_validator

from core.vocabulary.assertions import compile_assertion
from integrations.errors import TemplateProblem
from integrations.strict import SLUG, Strict, compile_regex, status_patterns
from integrations.templating import (
    BUILTINS,
    compile_template,
    is_template,
    render_text,
    templates_in,
)

# A scenario's results are stored as the check `e2e:<name>` (64 characters at most).
SCENARIO_NAME = r"^[a-z0-9][a-z0-9_.-]{0,59}$"
E2E_CHECK_PREFIX = "e2e:"
VARIABLE = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]


def e2e_check_name(scenario: str) -> str:
    """The check name a scheduled scenario's results are stored under."""
    return f"{E2E_CHECK_PREFIX}{scenario}"


def _assertions(values: list[str]) -> list[str]:
    for text in values:
        if not is_template(text):
            compile_assertion(text)  # raises ValueError naming what is wrong
    return values


def _regex(pattern: str) -> str:
    compile_regex(pattern)
    return pattern


class StepExpect(Strict):
    """What a passing answer looks like; as a check's `expect`, without auth patterns."""

    status: list[Annotated[str | int, Field(union_mode="left_to_right")]] = Field(
        default_factory=lambda: list[str | int](["2xx"])
    )
    # JSON assertions ('$.status == "ok"'); may use templates: '$.id == "{{ lead_id }}"'.
    json_: list[str] = Field(default_factory=list, alias="json")
    headers: dict[str, str] = Field(default_factory=dict)
    max_latency_ms: int | None = Field(default=None, gt=0)

    @field_validator("status")
    @classmethod
    def _statuses(cls, values: list[str | int]) -> list[str | int]:
        return status_patterns(values)

    @field_validator("json_")
    @classmethod
    def _json(cls, values: list[str]) -> list[str]:
        return _assertions(values)

    @field_validator("headers")
    @classmethod
    def _header_patterns(cls, values: dict[str, str]) -> dict[str, str]:
        for pattern in values.values():
            _regex(pattern)
        return values


class Extraction(Strict):
    """Where a variable's value comes from: a JSON path in the body, a header, or a
    regular expression (over the body, or over `header` when both are given; its
    first group, or the whole match without groups)."""

    json_: str | None = Field(default=None, alias="json")
    header: str | None = Field(default=None, min_length=1)
    regex: str | None = None
    # A secret value (a token the partner hands out) is redacted in every report.
    secret: bool = False

    @field_validator("json_")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip().startswith("$"):
            raise ValueError(f"a JSON path starts with '$', got {value!r}")
        try:
            parse_path(value)
        except Exception as exc:  # jsonpath-ng raises its own and lexer errors
            raise ValueError(f"invalid JSON path {value!r}: {exc}") from None
        return value

    @field_validator("regex")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        return None if value is None else _regex(value)

    @model_validator(mode="after")
    def _one_source(self) -> Extraction:
        if self.json_ is not None and (self.header is not None or self.regex is not None):
            raise ValueError("extract with 'json', or with 'header' and/or 'regex', not both")
        if self.json_ is None and self.header is None and self.regex is None:
            raise ValueError("say where the value comes from: 'json', 'header' or 'regex'")
        return self


class Poll(Strict):
    """Repeat the request until every `until` assertion holds, or fail at `timeout_s`."""

    until: list[str] = Field(min_length=1)
    every_s: float = Field(default=1.0, gt=0, le=300)
    timeout_s: float = Field(default=30.0, gt=0, le=3600)

    @field_validator("until")
    @classmethod
    def _until(cls, values: list[str]) -> list[str]:
        return _assertions(values)


class TestMarker(Strict):
    """How the scenario marks its requests (and so its leads) as tests."""

    __test__ = False  # not a pytest test class, whatever its name

    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    # Merged into every JSON object body (e.g. {"test": true}).
    json_: dict[str, Any] = Field(default_factory=dict, alias="json")


class StepSpec(Strict):
    """A request, or (`wait_callback`) a wait for the partner's postback."""

    name: str = Field(pattern=SLUG)
    method: str = "GET"
    path: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    body: str | None = None  # raw text body (set Content-Type in headers)
    poll: Poll | None = None
    wait_callback: str | None = Field(default=None, pattern=SLUG)
    timeout_s: float = Field(default=60.0, gt=0, le=3600)  # how long to wait for the callback
    expect: StepExpect = Field(default_factory=StepExpect)
    extract: dict[Annotated[str, Field(pattern=VARIABLE)], Extraction] = Field(default_factory=dict)

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        if is_template(value):
            return value
        upper = value.upper()
        if upper not in METHODS:
            raise ValueError(f"unknown HTTP method {value!r}; use one of {', '.join(METHODS)}")
        return upper

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("/", "{{")):
            raise ValueError("must start with '/'")
        return value

    @model_validator(mode="after")
    def _kind(self) -> StepSpec:
        if self.wait_callback is None and self.path is None:
            raise ValueError("a step needs a 'path' (a request) or 'wait_callback' (a postback)")
        if self.wait_callback is not None:
            # Judged by value, not by the fields given: a spec read back from the
            # registry carries every field, at its default.
            request_fields = {
                "path": self.path is not None,
                "method": self.method != "GET",
                "headers": bool(self.headers),
                "query": bool(self.query),
                "json": self.json_body is not None,
                "body": self.body is not None,
                "poll": self.poll is not None,
            }
            given = [name for name, present in request_fields.items() if present]
            if given:
                raise ValueError(f"a wait_callback step sends nothing; remove {', '.join(given)}")
        if self.json_body is not None and self.body is not None:
            raise ValueError("give the body as 'json' or as 'body', not both")
        return self

    @property
    def is_callback(self) -> bool:
        return self.wait_callback is not None


class ScenarioSpec(Strict):
    name: str = Field(pattern=SCENARIO_NAME)
    description: str = ""
    # Values every step may use; a value may use built-ins and earlier variables.
    variables: dict[Annotated[str, Field(pattern=VARIABLE)], Any] = Field(default_factory=dict)
    test_marker: TestMarker = Field(default_factory=TestMarker)
    steps: list[StepSpec] = Field(min_length=1)
    cleanup: list[StepSpec] = Field(default_factory=list)
    # Run by the worker every `schedule_s` seconds; a failing run opens an `e2e` incident.
    schedule_s: float | None = Field(default=None, ge=10, le=86_400 * 7)
    # The whole run, cleanup excluded.
    timeout_s: float = Field(default=300.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _names(self) -> ScenarioSpec:
        names = [step.name for step in (*self.steps, *self.cleanup)]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"step names must be unique; repeated: {', '.join(repeated)}")
        waits = [s.wait_callback for s in self.steps if s.wait_callback]
        repeated = sorted({n for n in waits if waits.count(n) > 1})
        if repeated:
            raise ValueError(f"each callback is waited for once; repeated: {', '.join(repeated)}")
        if any(step.is_callback for step in self.cleanup):
            raise ValueError("cleanup steps send requests; they cannot wait for callbacks")
        shadowed = sorted(set(self.variables) & BUILTINS)
        if shadowed:
            raise ValueError(f"built-in names cannot be redefined: {', '.join(shadowed)}")
        return self

    @property
    def callback_names(self) -> list[str]:
        return [s.wait_callback for s in self.steps if s.wait_callback is not None]

    @property
    def check_name(self) -> str:
        return e2e_check_name(self.name)


# --- rules across steps ------------------------------------------------------------


def scenario_problems(scenario: ScenarioSpec) -> list[Problem]:
    """Templates that use what is not defined before them, unknown callbacks, templated
    assertions that do not parse; as (location inside the scenario, message)."""
    problems: list[Problem] = []
    callbacks = set(scenario.callback_names)
    defined = set(BUILTINS)
    for name, value in scenario.variables.items():
        problems += _uses(("variables", name), value, defined, callbacks)
        defined.add(name)
    problems += _uses(
        ("test_marker",), scenario.test_marker.model_dump(by_alias=True), defined, callbacks
    )
    for index, step in enumerate(scenario.steps):
        problems += _step_problems(("steps", index), step, defined, callbacks)
        defined |= set(step.extract)
    for index, step in enumerate(scenario.cleanup):
        problems += _step_problems(("cleanup", index), step, defined, callbacks)
        defined |= set(step.extract)
    return problems


def _step_problems(
    at: Loc, step: StepSpec, defined: set[str], callbacks: set[str]
) -> list[Problem]:
    problems: list[Problem] = []
    fields: dict[str, Any] = {
        "method": step.method,
        "path": step.path,
        "headers": step.headers,
        "query": step.query,
        "json": step.json_body,
        "body": step.body,
    }
    for field, value in fields.items():
        problems += _uses((*at, field), value, defined, callbacks)
    # Assertions judge the answer before anything is extracted from it, so they
    # see only what was defined before this step.
    problems += _assertion_problems((*at, "expect", "json"), step.expect.json_, defined, callbacks)
    if step.poll is not None:
        problems += _assertion_problems((*at, "poll", "until"), step.poll.until, defined, callbacks)
    for name in step.extract:
        if name in BUILTINS:
            problems.append(((*at, "extract", name), f"{name!r} is a built-in name"))
    return problems


def _uses(at: Loc, value: Any, defined: set[str], callbacks: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    for where, text in templates_in(value):
        loc = (*at, *where)
        try:
            template = compile_template(text)
        except TemplateProblem as error:
            problems.append((loc, str(error)))
            continue
        unknown = sorted(template.variables - defined)
        if unknown:
            problems.append((loc, _unknown(unknown, defined)))
        for name in sorted(template.callbacks - callbacks):
            known = ", ".join(sorted(callbacks)) or "none"
            problems.append(
                (loc, f"callback_url.{name}: no wait_callback step named {name!r} (known: {known})")
            )
    return problems


def _unknown(names: list[str], defined: set[str]) -> str:
    known = ", ".join(sorted(defined - BUILTINS)) or "none"
    return (
        f"unknown variable(s) {', '.join(names)}: define them in 'variables' or extract them in "
        f"an earlier step (defined so far: {known}; built-ins: {', '.join(sorted(BUILTINS))})"
    )


def _assertion_problems(
    at: Loc, assertions: list[str], defined: set[str], callbacks: set[str]
) -> list[Problem]:
    problems: list[Problem] = []
    for index, text in enumerate(assertions):
        if not is_template(text):
            continue
        found = _uses((*at, index), text, defined, callbacks)
        if found:
            problems += found
            continue
        template = compile_template(text)
        if template.references:
            continue  # secrets are read only where the scenario runs
        sample: dict[str, Any] = dict.fromkeys(template.variables, 0)
        sample["callback_url"] = {name: "http://callback.invalid/" for name in callbacks}
        try:
            # A sample rendering (every variable 0) must still parse as an assertion.
            compile_assertion(render_text(text, sample, set()))
        except (ValueError, TemplateProblem) as error:
            problems.append(((*at, index), str(error)))
    return problems


def iter_scenario_problems(scenarios: list[ScenarioSpec], at: Loc) -> Iterator[Problem]:
    """Every scenario's problems, located under `at` (an integration's `scenarios`)."""
    seen: set[str] = set()
    for index, scenario in enumerate(scenarios):
        if scenario.name in seen:
            yield (*at, index, "name"), f"scenario names must be unique; repeated: {scenario.name}"
        seen.add(scenario.name)
        for loc, message in scenario_problems(scenario):
            yield (*at, index, *loc), message
