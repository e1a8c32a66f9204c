"""The integrations file: valid files load; each mistake is reported with its line and field."""

from __future__ import annotations

import textwrap

import pytest

from integrations.config import BearerAuth
from integrations.errors import ConfigError
from integrations.loader import MAX_DEPTH, load_text
from integrations.tiers import Tier

VALID = textwrap.dedent(
    """\
    version: 1
    defaults:
      interval_s: 15
      tier: premium
    integrations:
      - id: acme-broker
        name: ACME Broker
        kind: broker
        client: acme
        base_url: https://api.acme.test/v2/
        auth: {type: bearer, token: "${ACME_TOKEN}"}
        checks:
          - name: health
            path: /health
            expect:
              status: [200, "2xx"]
              json: ['$.status == "ok"', '$.items exists']
              headers: {content-type: json}
              auth_error_patterns: ['invalid token']
              max_latency_ms: 800
      - id: shop
        name: Shop
        kind: shop
        client: northwind
        tier: social
        interval_s: 60
        base_url: http://shop.test
        checks: [{name: ping}]
    """
)


def test_valid_file_loads_with_defaults_applied() -> None:
    config = load_text(VALID)
    acme, shop = config.integrations
    assert acme.interval_s == 15 and acme.tier is Tier.PREMIUM  # from defaults
    assert shop.interval_s == 60 and shop.tier is Tier.SOCIAL  # own values win
    assert acme.base_url == "https://api.acme.test/v2"
    assert isinstance(acme.auth, BearerAuth) and acme.auth.token == "${ACME_TOKEN}"
    assert acme.checks[0].expect.max_latency_ms == 800
    assert shop.checks[0].method == "GET" and shop.checks[0].expect.status == ["2xx"]


def problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ConfigError) as caught:
        load_text(text)
    return [(p.line, p.field, p.message) for p in caught.value.problems]


def broken(line_no: int, replacement: str) -> str:
    """VALID with line `line_no` (1-based) replaced."""
    lines = VALID.splitlines()
    lines[line_no - 1] = replacement
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("name", "line_no", "replacement", "field", "message"),
    [
        (
            "unknown field",
            9,
            "    client: acme\n    colour: blue",
            "integrations[0].colour",
            "unknown field",
        ),
        ("bad kind", 8, "    kind: bank", "integrations[0].kind", "Input should be"),
        (
            "inline secret",
            11,
            "    auth: {type: bearer, token: s3cr3t-value}",
            "integrations[0].auth.token",
            "never inline",
        ),
        (
            "bad json path",
            17,
            "          json: ['$.status ==']",
            "integrations[0].checks[0].expect.json",
            "",
        ),
        (
            "bad status",
            16,
            "          status: [700]",
            "integrations[0].checks[0].expect.status",
            "700",
        ),
        (
            "bad method",
            14,
            "        path: /health\n        method: FETCH",
            "integrations[0].checks[0].method",
            "unknown HTTP method",
        ),
        ("bad url", 10, "    base_url: ftp://api.acme.test", "integrations[0].base_url", "http"),
        (
            "bad regex",
            19,
            "          auth_error_patterns: ['(unclosed']",
            "integrations[0].checks[0].expect.auth_error_patterns",
            "invalid regular expression",
        ),
        ("missing name", 7, "    nam: ACME Broker", "integrations[0].name", "required"),
    ],
)
def test_each_mistake_names_its_line_and_field(
    name: str, line_no: int, replacement: str, field: str, message: str
) -> None:
    found = problems(broken(line_no, replacement))
    assert any(f == field and message in m for _, f, m in found), found
    line = next(line for line, f, _ in found if f == field)
    assert line is not None and abs(line - line_no) <= 1, (name, found)


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = broken(8, "    kind: bank").replace("client: northwind", "client: Not A Slug")
    found = problems(text)
    fields = {f for _, f, _ in found}
    assert {"integrations[0].kind", "integrations[1].client"} <= fields


def test_yaml_syntax_error_has_its_line() -> None:
    found = problems("version: 1\nintegrations:\n  - id: x\n    name: [unclosed\n")
    assert found[0][0] == 5 or found[0][0] == 4
    assert "YAML syntax" in found[0][2]


def test_a_nesting_deeper_than_the_limit_is_refused_at_its_line() -> None:
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    found = problems(f"version: 1\nintegrations: []\nextra: {deep}\n")
    assert found == [(3, "", f"YAML syntax: nested more than {MAX_DEPTH} levels deep")]


def test_a_nesting_too_deep_is_reported_before_a_parser_mistake_above_it() -> None:
    # The depth used to be checked over the whole text before the file was parsed.
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    found = problems(f"version: 1\n- not a key\nextra: {deep}\n")
    assert found == [(3, "", f"YAML syntax: nested more than {MAX_DEPTH} levels deep")]


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\nintegrations: []\nextra:\t1\n",  # a tab after the colon
        "version: 1\nintegrations: []\nextra: {a: 1, b ?}\n",  # '?' inside a flow mapping
    ],
)
def test_yaml_that_only_some_parsers_accept_is_refused(text: str) -> None:
    # libyaml takes both; PyYAML, whose reading intmon reports, does not.
    [(line, field, message)] = problems(text)
    assert line == 3 and field == "" and message.startswith("YAML syntax: ")


def test_duplicate_ids_and_timeout_over_interval() -> None:
    text = VALID.replace("id: shop", "id: acme-broker").replace(
        "interval_s: 60", "interval_s: 5\n    timeout_s: 9"
    )
    messages = " ".join(m for _, _, m in problems(text))
    assert "timeout_s (9) must not exceed interval_s (5)" in messages
    assert "repeated: acme-broker" in messages


def test_not_a_mapping() -> None:
    assert problems("- just\n- a list\n")[0][2].startswith("the file must be a mapping")


def test_reserved_blocks_are_accepted() -> None:
    text = VALID.replace(
        "    checks: [{name: ping}]",
        "    checks: [{name: ping}]\n    contacts: [{role: alert, email: ops@shop.test}]\n"
        "    maintenance: []\n    change_notices: []\n    e2e: null",
    )
    assert load_text(text).integrations[1].contacts == [{"role": "alert", "email": "ops@shop.test"}]


def test_a_delivery_block_is_validated_with_its_line() -> None:
    delivery = '\n    delivery: {path: /leads, body: {email: "{{ lead.email }}"}}'
    good = VALID.replace("    checks: [{name: ping}]", "    checks: [{name: ping}]" + delivery)
    assert load_text(good).integrations[1].delivery is not None
    broken = '\n    delivery:\n      path: /leads\n      body: {email: "{{ lead.email"}'
    bad = VALID.replace("    checks: [{name: ping}]", "    checks: [{name: ping}]" + broken)
    with pytest.raises(ConfigError) as refused:
        load_text(bad)
    problem = refused.value.problems[0]
    assert "body.email: bad template" in problem.message and problem.line is not None
