"""Scenario templates: sandboxed, strict, and secret references kept out of Jinja."""

from __future__ import annotations

import pytest

from integrations.errors import SecretUnavailable, TemplateProblem
from integrations.templating import compile_template, render_text, render_value

ENV = {"TOKEN": "s3cr3t-value"}


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("/leads/{{ id }}", {"id": "L1"}, "/leads/L1"),
        ("{{ flags }}", {"flags": {"test": True}}, '{"test": true}'),
        ("{{ on }}", {"on": False}, "false"),
        ("{{ name | upper }}-{{ n + 1 }}", {"name": "ab", "n": 1}, "AB-2"),
        ("plain text", {}, "plain text"),
        ("Bearer ${TOKEN}", {}, "Bearer s3cr3t-value"),
        ("{{ id }}:${TOKEN}", {"id": "${TOKEN}"}, "${TOKEN}:s3cr3t-value"),
    ],
)
def test_rendering(text: str, variables: dict[str, object], expected: str) -> None:
    secrets: set[str] = set()
    assert render_text(text, variables, secrets, ENV) == expected
    assert secrets == ({"s3cr3t-value"} if "${TOKEN}" in text else set())


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{{ missing }}", "'missing' is undefined"),
        ("{{ x.__class__.__mro__ }}", "SecurityError"),
        ('{{ "x" * 10**9 }}', "too large"),
        ("{{ 9 ** 99999 }}", "exponent too large"),
        ("{{ range(10**9) | list }}", "MAX_RANGE"),
    ],
)
def test_what_the_sandbox_refuses(text: str, words: str) -> None:
    with pytest.raises(TemplateProblem) as caught:
        render_text(text, {"x": 1}, set(), ENV)
    assert words in str(caught.value)


def test_an_unset_secret_names_the_variable_not_a_value() -> None:
    with pytest.raises(SecretUnavailable, match="NOPE"):
        render_text("${NOPE}", {}, set(), ENV)


def test_a_syntax_error_is_reported_at_compile_time() -> None:
    with pytest.raises(TemplateProblem, match="template syntax error"):
        compile_template("{{ unclosed")


def test_what_a_template_reads_is_known_before_it_runs() -> None:
    template = compile_template("{{ a }}/{{ callback_url.done }}/{{ callback_url['x'] }}${TOKEN}")
    assert template.variables == {"a", "callback_url"}
    assert template.callbacks == {"done", "x"}
    assert template.references == ("${TOKEN}",)


def test_json_bodies_keep_the_type_of_a_whole_variable_and_references_can_be_kept() -> None:
    body = {"id": "{{ n }}", "label": "n={{ n }}", "auth": "${TOKEN}", "list": ["{{ n }}"]}
    secrets: set[str] = set()
    rendered = render_value(body, {"n": 7}, secrets, ENV, native=True)
    assert rendered == {"id": 7, "label": "n=7", "auth": "s3cr3t-value", "list": [7]}
    kept = render_value(body, {"n": 7}, set(), None, native=True, keep_references=True)
    assert kept["auth"] == "${TOKEN}"
