"""JSON assertions: one row per case. Adding a case is adding a row."""

from __future__ import annotations

from typing import Any

import pytest

from core.vocabulary.assertions import Operator, compile_assertion

DOCUMENT: dict[str, Any] = {
    "status": "ok",
    "count": 3,
    "ratio": 0.5,
    "enabled": True,
    "missing_value": None,
    "name": "acme",
    "id": "12345",
    "message": "all systems go",
    "items": [{"id": 1, "state": "up"}, {"id": 2, "state": "down"}],
    "tags": ["a", "b"],
    "meta": {"region": "eu"},
}

HOLDS = [
    ("string equal", '$.status == "ok"'),
    ("number equal", "$.count == 3"),
    ("int equals float", "$.count == 3.0"),
    ("bool equal", "$.enabled == true"),
    ("null equal", "$.missing_value == null"),
    ("not equal", '$.name != "x"'),
    ("greater", "$.count > 2"),
    ("greater or equal", "$.count >= 3"),
    ("less", "$.ratio < 1"),
    ("less or equal", "$.ratio <= 0.5"),
    ("string ordering", '$.name < "b"'),
    ("no blanks around operator", "$.count>=1"),
    ("exists", "$.items exists"),
    ("exists on null", "$.missing_value exists"),
    ("not exists", "$.nothing not exists"),
    ("substring", '$.message contains "systems"'),
    ("array element", '$.tags contains "b"'),
    ("object key", '$.meta contains "region"'),
    ("regex", '$.id matches "^[0-9]+$"'),
    ("regex on number", '$.count matches "^3$"'),
    ("index", '$.items[1].state == "down"'),
    ("first of several matches", '$.items[*].state == "up"'),
    ("filter", '$.items[?(@.id == 2)].state == "down"'),
    ("bracketed key", '$["status"] == "ok"'),
]

FAILS = [
    ("wrong string", '$.status == "down"', '$.status == "down" failed: got "ok"'),
    ("bool is not a number", "$.enabled == 1", "$.enabled == 1 failed: got true"),
    ("not equal holds not", '$.status != "ok"', '$.status != "ok" failed: got "ok"'),
    ("too small", "$.count > 3", "$.count > 3 failed: got 3"),
    ("string vs number", "$.status > 1", '$.status > 1 failed: got "ok"'),
    ("missing path", "$.nothing == 1", "$.nothing == 1 failed: path not found"),
    ("missing for exists", "$.nothing exists", "$.nothing exists failed: path not found"),
    ("present for not exists", "$.tags not exists", '$.tags not exists failed: found ["a", "b"]'),
    (
        "no substring",
        '$.message contains "down"',
        '$.message contains "down" failed: got "all systems go"',
    ),
    ("regex mismatch", '$.name matches "^[0-9]+$"', '$.name matches "^[0-9]+$" failed: got "acme"'),
    (
        "second match ignored",
        '$.items[*].state == "down"',
        '$.items[*].state == "down" failed: got "up"',
    ),
]

INVALID = [
    ("empty", "", "empty assertion"),
    ("no operator", "$.status", "missing operator"),
    ("unknown operator", "$.status equals 1", "unknown operator 'equals'"),
    ("missing value", "$.status ==", "missing value after '=='"),
    ("unquoted string", "$.status == ok", "not a JSON literal (strings need double quotes)"),
    ("bad regex", '$.id matches "["', "invalid regular expression"),
    ("regex not a string", "$.id matches 3", "'matches' needs a regex"),
    ("value after exists", "$.id exists 1", "'exists' takes no value"),
    ("bad path", "$.items[ == 1", "invalid JSON path"),
    ("not a path", "status == 1", "must start with a JSON path"),
    ("ordering a boolean", "$.count > true", "'>' needs a number or a string"),
]


@pytest.mark.parametrize(("name", "text"), HOLDS, ids=[row[0] for row in HOLDS])
def test_holds(name: str, text: str) -> None:
    assert compile_assertion(text).evaluate(DOCUMENT) is None


@pytest.mark.parametrize(("name", "text", "message"), FAILS, ids=[row[0] for row in FAILS])
def test_fails_with_message(name: str, text: str, message: str) -> None:
    assert compile_assertion(text).evaluate(DOCUMENT) == message


@pytest.mark.parametrize(("name", "text", "problem"), INVALID, ids=[row[0] for row in INVALID])
def test_invalid_assertion_names_the_problem(name: str, text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        compile_assertion(text)


def test_compiled_assertion_keeps_its_parts() -> None:
    assertion = compile_assertion('  $.status   ==   "ok" ')

    assert assertion.text == '$.status   ==   "ok"'
    assert assertion.path == "$.status"
    assert assertion.operator is Operator.EQUAL
    assert assertion.expected == "ok"


def test_evaluate_on_non_object_documents() -> None:
    assert compile_assertion("$.status exists").evaluate([1, 2]) is not None
    assert compile_assertion("$[0] == 1").evaluate([1, 2]) is None
    assert compile_assertion("$.a == 1").evaluate("text") == "$.a == 1 failed: path not found"
