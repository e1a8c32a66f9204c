"""Bad scenarios are refused when the file is loaded, each mistake with its line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from integrations.apply import spec_document
from integrations.config import IntegrationSpec
from integrations.errors import ConfigError
from intmon.cli import app
from intmon.config_file import load_config_text
from tests.e2e.conftest import lead_flow

HEAD = """\
version: 1
integrations:
  - id: acme
    name: ACME
    kind: broker
    client: acme
    base_url: http://127.0.0.1:9
    checks: [{name: ping, path: /ping}]
    scenarios:
      - name: flow
        steps:
"""  # the first step starts on line 12


def problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ConfigError) as caught:
        load_config_text(text)
    return [(p.line, p.field, p.message) for p in caught.value.problems]


def test_the_example_flow_is_valid_and_survives_the_registry() -> None:
    config = load_config_text(lead_flow("http://127.0.0.1:9"))
    spec = config.integrations[0]
    scenario = spec.scenarios[0]
    assert [s.name for s in scenario.steps] == ["submit", "status", "postback"]
    assert scenario.callback_names == ["accepted"]
    # What `intmon apply` stores is read back by the scheduler and the workers.
    assert IntegrationSpec.model_validate(spec_document(spec)) == spec


def test_a_variable_used_before_any_step_defines_it() -> None:
    found = problems(
        HEAD
        + """\
          - name: status
            path: /leads/{{ lead_id }}
          - name: submit
            method: POST
            path: /leads
            extract: {lead_id: {json: $.id}}
"""
    )
    assert len(found) == 1
    line, field, message = found[0]
    assert line == 13
    assert field == "integrations[0].scenarios[0].steps[0].path"
    assert message.startswith("unknown variable(s) lead_id")


@pytest.mark.parametrize(
    ("step", "line", "field", "words"),
    [
        (
            "          - {name: a, path: /x, extract: {id: {json: '$.items[?'}}}\n",
            12,
            "integrations[0].scenarios[0].steps[0].extract.id.json",
            "invalid JSON path",
        ),
        (
            "          - {name: a, path: /x, extract: {id: {json: 'items'}}}\n",
            12,
            "integrations[0].scenarios[0].steps[0].extract.id.json",
            "a JSON path starts with '$'",
        ),
        (
            "          - name: a\n            path: /x\n            expect:\n"
            "              json: ['$.a[ == 1']\n",
            15,
            "integrations[0].scenarios[0].steps[0].expect.json",
            "invalid JSON path",
        ),
        (
            "          - name: a\n            path: /x\n"
            "            poll: {until: ['$.state === \"done\"']}\n",
            14,
            "integrations[0].scenarios[0].steps[0].poll.until",
            "",
        ),
        (
            "          - name: a\n            path: /x\n"
            "            json: {to: '{{ callback_url.done }}'}\n",
            14,
            "integrations[0].scenarios[0].steps[0].json.to",
            "no wait_callback step named 'done'",
        ),
        (
            "          - name: a\n            path: '/x/{{ id'\n",
            13,
            "integrations[0].scenarios[0].steps[0].path",
            "template syntax error",
        ),
        (
            "          - name: a\n            path: /x\n"
            "            expect: {json: ['$.id == {{ run_id ]']}\n",
            14,
            "integrations[0].scenarios[0].steps[0].expect.json[0]",
            "template syntax error",
        ),
        (
            "          - name: a\n            path: /x\n"
            "            expect: {json: ['$.id[ == \"{{ run_id }}\"']}\n",
            14,
            "integrations[0].scenarios[0].steps[0].expect.json[0]",
            "invalid JSON path",
        ),
        (
            "          - {name: a, wait_callback: done, path: /x}\n",
            12,
            "integrations[0].scenarios[0].steps[0]",
            "a wait_callback step sends nothing; remove path",
        ),
        (
            "          - {name: a, path: /x}\n          - {name: a, path: /y}\n",
            10,
            "integrations[0].scenarios[0]",
            "step names must be unique; repeated: a",
        ),
        (
            "          - {name: a, path: /x, extract: {run_id: {json: $.id}}}\n",
            12,
            "integrations[0].scenarios[0].steps[0].extract.run_id",
            "built-in",
        ),
        (
            "          - {name: a, method: FETCH, path: /x}\n",
            12,
            "integrations[0].scenarios[0].steps[0].method",
            "unknown HTTP method 'FETCH'",
        ),
    ],
)
def test_mistakes_are_reported_with_their_line(
    step: str, line: int, field: str, words: str
) -> None:
    found = problems(HEAD + step)
    assert (line, field) in [(p[0], p[1]) for p in found], found
    message = next(p[2] for p in found if (p[0], p[1]) == (line, field))
    assert words in message


def test_built_ins_variables_and_earlier_extractions_are_accepted() -> None:
    config = load_config_text(
        HEAD.replace(
            "        steps:\n", "        variables: {who: 'e2e-{{ uuid }}'}\n        steps:\n"
        )
        + """\
          - name: submit
            method: POST
            path: /leads
            json: {who: '{{ who }}', at: '{{ now }}', run: '{{ run_id }}', to: '{{ scenario }}'}
            extract: {lead_id: {json: $.id}, token: {header: X-Token, secret: true}}
          - name: status
            path: /leads/{{ lead_id }}
            headers: {X-Token: '{{ token }}'}
            expect: {json: ['$.id == "{{ lead_id }}"']}
        cleanup:
          - name: delete
            method: DELETE
            path: /leads/{{ lead_id }}
"""
    )
    assert config.integrations[0].scenarios[0].steps[1].extract == {}


def test_a_cleanup_may_use_any_value_the_steps_extract_but_not_an_unknown_one() -> None:
    text = lead_flow("http://127.0.0.1:9").replace(
        "path: /leads/{{ lead_id }}\n            expect: {status: [204]}",
        "path: /leads/{{ lead_id }}/{{ ghost }}\n            expect: {status: [204]}",
    )
    found = problems(text)
    assert len(found) == 1
    assert found[0][1] == "integrations[0].scenarios[0].cleanup[0].path"
    assert "ghost" in found[0][2]


def test_intmon_validate_names_the_file_and_line(tmp_path: Path) -> None:
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(HEAD + "          - {name: status, path: '/leads/{{ lead_id }}'}\n")
    bad_path = tmp_path / "bad-path.yaml"
    bad_path.write_text(
        HEAD + "          - name: check\n            path: /x\n"
        "            extract: {id: {json: '$.[bad'}}\n"
    )
    runner = CliRunner()
    for path, line, field, words in (
        (unknown, 12, "integrations[0].scenarios[0].steps[0].path", "unknown variable(s) lead_id"),
        (
            bad_path,
            14,
            "integrations[0].scenarios[0].steps[0].extract.id.json",
            "invalid JSON path",
        ),
    ):
        result = runner.invoke(app, ["validate", str(path), "--json"])
        assert result.exit_code == 2
        report = json.loads(result.stdout)
        assert report["valid"] is False
        assert [(p["line"], p["field"]) for p in report["problems"]] == [(line, field)]
        assert words in report["problems"][0]["message"]
        text = runner.invoke(app, ["validate", str(path)])
        # The console wraps long lines; the file's name and line read through it.
        assert text.exit_code == 2 and f"{path.name}:{line}" in "".join(text.output.split())


ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_example_is_a_valid_scenario() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## End-to-end scenarios", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    text = "version: 1\n" + block.replace(
        "    # … base_url, auth, checks as above …\n",
        "    name: ACME\n    kind: broker\n    client: acme\n"
        "    base_url: https://api.acme.example\n    checks: [{name: health, path: /health}]\n",
    )
    scenario = load_config_text(text).integrations[0].scenarios[0]
    assert scenario.schedule_s == 900
    assert [s.name for s in (*scenario.steps, *scenario.cleanup)] == [
        "submit",
        "status",
        "postback",
        "delete",
    ]


def test_the_deploy_example_has_a_scheduled_scenario() -> None:
    from intmon.config_file import load_config

    config = load_config(ROOT / "deploy" / "integrations.example.yaml")
    scenarios = [s for i in config.integrations for s in i.scenarios]
    assert [(s.name, s.schedule_s) for s in scenarios] == [("lead-flow", 900)]
