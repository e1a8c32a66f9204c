"""`strict_loads`: JSON bodies as the database and the answers can hold them, one
row per case: what is refused names the field (`field_path`) and says why."""

from __future__ import annotations

import json

import pytest

from intmon.api.strict_json import InvalidJson, strict_loads

REFUSED = [
    ("NaN", b'{"a": NaN}', "a", "NaN is not a JSON number"),
    ("Infinity in a list", b'[1, {"b": -Infinity}]', "[1].b", "-Infinity is not a JSON number"),
    ("overflowing float", b'{"a": 1e400}', "a", "1e400 is out of range"),
    ("lone surrogate", b'{"a": "\\ud800"}', "a", "lone surrogate"),
    ("NUL in a string", b'{"a": ["x\\u0000"]}', "a[0]", "must not contain NUL"),
    ("NUL in a key", b'{"k\\u0000": 1}', "body", "a key must not contain NUL"),
    ("integer over 64 bits", b'{"a": 9223372036854775808}', "a", "integer out of range"),
    ("integer of 30 digits", b'{"a": -123456789012345678901234567890}', "a", "out of range"),
    ("not UTF-8", b'{"a": "\xff"}', "body", "not UTF-8"),
]

ACCEPTED = [
    ("plain", b'{"a": 1.5, "b": "\xc3\xbcn\xc3\xaf", "c": [true, null]}'),
    ("64-bit edges", b"[-9223372036854775808, 9223372036854775807]"),
    ("pair of surrogates", b'"\\ud83d\\ude42"'),
]


@pytest.mark.parametrize(
    ("body", "field", "words"), [pytest.param(*row[1:], id=row[0]) for row in REFUSED]
)
def test_refused(body: bytes, field: str, words: str) -> None:
    with pytest.raises(InvalidJson) as caught:
        strict_loads(body)

    assert caught.value.status_code == 422
    [error] = caught.value.errors
    assert error["field"] == field and error["in"] == "body"
    assert words in error["message"]


@pytest.mark.parametrize("body", [pytest.param(row[1], id=row[0]) for row in ACCEPTED])
def test_accepted_as_json_reads_it(body: bytes) -> None:
    assert strict_loads(body) == json.loads(body)


def test_malformed_json_stays_a_decode_error() -> None:
    """FastAPI turns it into its own 422 (`invalid JSON at character …`)."""
    with pytest.raises(json.JSONDecodeError):
        strict_loads(b'{"a": ')
