"""The whole configuration file: integrations plus ticket sinks, validated with lines."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from alerts.mirror import load_sinks
from integrations.errors import ConfigError
from intmon.config_file import apply_config, load_config_text
from tests.alerts.helpers import config_text

SINKS = """sinks:
  - {name: ops-jira, kind: jira, base_url: "https://jira.example", email: bot@example.com,
     api_token: "${JIRA_TOKEN}", project: OPS}
  - {name: hook, kind: webhook, url: "https://hooks.example/intmon", secret: "${HOOK_KEY}"}
"""


def test_sinks_are_applied_with_references_only(sqlite_engine: Engine) -> None:
    file = load_config_text(config_text("a") + SINKS)
    assert [s.name for s in file.sinks] == ["ops-jira", "hook"]
    apply_config(sqlite_engine, file)
    stored = load_sinks(sqlite_engine)
    assert [(s.name, s.kind) for s in stored] == [("ops-jira", "jira"), ("hook", "webhook")]
    # Applying a file without sinks removes them.
    apply_config(sqlite_engine, load_config_text(config_text("a")))
    assert load_sinks(sqlite_engine) == []


@pytest.mark.parametrize(
    ("sinks", "line", "field", "message"),
    [
        (
            '  - {name: hook, kind: webhook, url: "https://h.example", secret: plain-text}\n',
            14,
            "sinks[0].webhook.secret",
            "${",
        ),
        ("  - {name: x, kind: pager}\n", 14, "sinks[0]", "kind"),
        (
            '  - {name: h, kind: webhook, url: "https://a.example", secret: "${K}"}\n'
            '  - {name: h, kind: webhook, url: "https://b.example", secret: "${K}"}\n',
            None,
            "",
            "sink names must be unique",
        ),
    ],
)
def test_sink_mistakes_name_the_line_and_field(
    sinks: str, line: int | None, field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(config_text("a") + "sinks:\n" + sinks)
    problems = caught.value.problems
    assert any(
        (line is None or p.line == line) and p.field.startswith(field) and message in p.message
        for p in problems
    ), problems
