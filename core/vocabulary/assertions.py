"""JSON assertions of a check: `$.status == "ok"`, `$.items exists`, `$.count >= 1`.

An assertion is `<JSONPath> <operator> [<JSON literal>]`, compiled once (when
the configuration is validated, and again once per spec by the engine) and
evaluated against every decoded response body.

Operators: `==`, `!=`, `>`, `>=`, `<`, `<=`, `contains`, `matches`, `exists`,
`not exists`. The value is a JSON literal: a string in double quotes, a
number, `true`, `false` or `null`.

Semantics, chosen so that a check reads the way a support engineer expects:

- When the path matches several nodes (`$.items[*].state`), the assertion is
  evaluated against the **first** match only. Write `$.items[0].state` or a
  filter (`$.items[?(@.id == 3)].state`) when another node is meant.
- `exists` holds when the path matches at least one node (even `null`);
  `not exists` when it matches none. Every other operator fails with "path
  not found" when nothing matches.
- `==` / `!=` compare JSON values: `1 == 1.0` holds, `true == 1` does not.
- Ordering operators compare two numbers or two strings; anything else fails.
- `contains`: substring of a string, element of an array, key of an object.
- `matches`: `re.search` of the value (a string in the body; numbers and
  booleans are matched in their JSON spelling).

Paths use jsonpath-ng's extended grammar, so filters and `len` work too.
"""

from __future__ import annotations

import enum
import functools
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from jsonpath_ng.ext.parser import parse as parse_path

__all__ = ["JsonAssertion", "Operator", "compile_assertion"]

_RENDER_LIMIT = 80


class Operator(enum.StrEnum):
    EQUAL = "=="
    NOT_EQUAL = "!="
    GREATER = ">"
    GREATER_OR_EQUAL = ">="
    LESS = "<"
    LESS_OR_EQUAL = "<="
    CONTAINS = "contains"
    MATCHES = "matches"
    EXISTS = "exists"
    NOT_EXISTS = "not exists"

    @property
    def takes_value(self) -> bool:
        return self not in (Operator.EXISTS, Operator.NOT_EXISTS)


_OPERATOR = re.compile(
    r"(?P<op>==|!=|>=|<=|>|<|contains\b|matches\b|not\s+exists\b|exists\b)\s*(?P<value>.*)\Z",
    re.DOTALL,
)
_OPERATOR_NAMES = ", ".join(op.value for op in Operator)


@dataclass(frozen=True, slots=True)
class JsonAssertion:
    """One compiled assertion; `evaluate` is cheap and never raises."""

    text: str
    path: str
    operator: Operator
    expected: Any = None
    _compiled_path: Any = field(default=None, repr=False, compare=False)
    _regex: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def first_match(self, document: Any) -> tuple[bool, Any]:
        """(found, value) of the path's first match in `document`; never raises."""
        try:
            matches = self._compiled_path.find(document)
        except Exception:  # jsonpath-ng raises assorted errors on odd documents
            return False, None
        return (True, matches[0].value) if matches else (False, None)

    def evaluate(self, document: Any) -> str | None:
        """None when the assertion holds, else a short failure message."""
        try:
            matches = self._compiled_path.find(document)
        except Exception as exc:  # jsonpath-ng raises assorted errors on odd documents
            return f"{self.text} failed: path cannot be evaluated ({type(exc).__name__})"
        if self.operator is Operator.EXISTS:
            return None if matches else f"{self.text} failed: path not found"
        if self.operator is Operator.NOT_EXISTS:
            return None if not matches else f"{self.text} failed: found {_render(matches[0].value)}"
        if not matches:
            return f"{self.text} failed: path not found"
        actual = matches[0].value
        return None if self._holds(actual) else f"{self.text} failed: got {_render(actual)}"

    def _holds(self, actual: Any) -> bool:
        op, expected = self.operator, self.expected
        if op is Operator.EQUAL:
            return _json_equal(actual, expected)
        if op is Operator.NOT_EQUAL:
            return not _json_equal(actual, expected)
        if op is Operator.CONTAINS:
            return _contains(actual, expected)
        if op is Operator.MATCHES:
            assert self._regex is not None
            subject = actual if isinstance(actual, str) else _json_spelling(actual)
            return subject is not None and self._regex.search(subject) is not None
        return _ordered(op, actual, expected)


# Thousands of integrations usually repeat a handful of assertions, and parsing
# one with jsonpath-ng's grammar costs about half a millisecond; a compiled
# assertion is immutable, so one object per distinct text is shared by all.
@functools.lru_cache(maxsize=4096)
def compile_assertion(text: str) -> JsonAssertion:
    """Parse and compile one assertion; raise `ValueError` saying what is wrong."""
    source = text.strip()
    if not source:
        raise ValueError("empty assertion; write e.g. '$.status == \"ok\"'")
    path_text, rest = _split_path(source)
    if not path_text.startswith("$"):
        raise ValueError(f"assertion must start with a JSON path like '$.a', got {path_text!r}")
    try:
        compiled_path = parse_path(path_text)
    except Exception as exc:  # jsonpath-ng raises its own and lexer errors
        raise ValueError(f"invalid JSON path {path_text!r}: {exc}") from None
    if not rest:
        raise ValueError(f"missing operator after {path_text!r}; use one of: {_OPERATOR_NAMES}")
    match = _OPERATOR.match(rest)
    if match is None:
        word = rest.split()[0]
        raise ValueError(f"unknown operator {word!r}; use one of: {_OPERATOR_NAMES}")
    operator = Operator(" ".join(match.group("op").split()))
    value_text = match.group("value").strip()
    if not operator.takes_value:
        if value_text:
            raise ValueError(f"'{operator}' takes no value, found {value_text!r}")
        return JsonAssertion(source, path_text, operator, None, compiled_path)
    if not value_text:
        raise ValueError(f"missing value after '{operator}'")
    expected = _literal(value_text)
    regex = _check_value(operator, expected)
    return JsonAssertion(source, path_text, operator, expected, compiled_path, regex)


def _split_path(source: str) -> tuple[str, str]:
    """Split at the first blank or comparison sign outside brackets and quotes."""
    depth = 0
    quote = ""
    for index, char in enumerate(source):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif depth <= 0 and (char.isspace() or char in "=!<>"):
            return source[:index], source[index:].strip()
    return source, ""


def _literal(value_text: str) -> Any:
    try:
        value = json.loads(value_text)
    except ValueError:
        hint = " (strings need double quotes)" if value_text[:1] not in '"[{' else ""
        raise ValueError(f"value {value_text!r} is not a JSON literal{hint}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"value {value_text!r} is not a finite number")
    return value


def _check_value(operator: Operator, expected: Any) -> re.Pattern[str] | None:
    if operator is Operator.MATCHES:
        if not isinstance(expected, str):
            raise ValueError(f"'matches' needs a regex in double quotes, got {expected!r}")
        try:
            return re.compile(expected)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {expected!r}: {exc}") from None
    if operator is Operator.CONTAINS and isinstance(expected, list | dict):
        raise ValueError("'contains' needs a string, number, boolean or null value")
    if operator in (
        Operator.GREATER,
        Operator.GREATER_OR_EQUAL,
        Operator.LESS,
        Operator.LESS_OR_EQUAL,
    ) and not (_is_number(expected) or isinstance(expected, str)):
        raise ValueError(f"'{operator}' needs a number or a string, got {json.dumps(expected)}")
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_equal(left: Any, right: Any) -> bool:
    """Equality of JSON values: booleans never equal numbers, 1 equals 1.0."""
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if type(left) is not type(right):
        return False
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_json_equal, left, right))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    return bool(left == right)


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str):
        return isinstance(expected, str) and expected in actual
    if isinstance(actual, list):
        return any(_json_equal(item, expected) for item in actual)
    if isinstance(actual, dict):
        return isinstance(expected, str) and expected in actual
    return False


def _ordered(operator: Operator, actual: Any, expected: Any) -> bool:
    comparable = (_is_number(actual) and _is_number(expected)) or (
        isinstance(actual, str) and isinstance(expected, str)
    )
    if not comparable:
        return False
    if operator is Operator.GREATER:
        return bool(actual > expected)
    if operator is Operator.GREATER_OR_EQUAL:
        return bool(actual >= expected)
    if operator is Operator.LESS:
        return bool(actual < expected)
    return bool(actual <= expected)


def _json_spelling(value: Any) -> str | None:
    if isinstance(value, bool | int | float) or value is None:
        return json.dumps(value)
    return None


def _render(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _RENDER_LIMIT else text[: _RENDER_LIMIT - 1] + "…"
