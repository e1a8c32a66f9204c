"""Learned response contracts: shapes of answers and their differences, one row per case."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alerts.families import Family, family_of
from checks.contract import CHANGE_OUTCOMES, ShapeSampler
from core.vocabulary.outcomes import Outcome
from core.vocabulary.shapes import (
    MAX_DEPTH,
    MAX_PATHS,
    Change,
    Shape,
    describe,
    diff,
    shape_of,
)

JSON = {"Content-Type": "application/json"}


def shape(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Shape:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return shape_of(status, JSON if headers is None else headers, raw)


SHAPES = [
    # name, status, headers, body, expected json paths (None: not JSON), challenge
    (
        "flat object",
        200,
        JSON,
        b'{"status":"ok","id":1}',
        {"$": "object", "$.id": "number", "$.status": "string"},
        None,
    ),
    (
        "all JSON types",
        200,
        JSON,
        b'{"a":true,"b":null,"c":1.5,"d":"x"}',
        {"$": "object", "$.a": "boolean", "$.b": "null", "$.c": "number", "$.d": "string"},
        None,
    ),
    (
        "array of objects",
        200,
        JSON,
        b'{"items":[{"id":1},{"id":2}]}',
        {"$": "object", "$.items": "array", "$.items[]": "object", "$.items[].id": "number"},
        None,
    ),
    (
        "mixed array types joined",
        200,
        JSON,
        b'[1,"a"]',
        {"$": "array", "$[]": "number|string"},
        None,
    ),
    (
        "empty array has no element path",
        200,
        JSON,
        b'{"items":[]}',
        {"$": "object", "$.items": "array"},
        None,
    ),
    ("odd key quoted", 200, JSON, b'{"a b":1}', {"$": "object", '$["a b"]': "number"}, None),
    (
        "JSON without a JSON content type",
        200,
        {"Content-Type": "text/plain"},
        b' {"a":1}',
        {"$": "object", "$.a": "number"},
        None,
    ),
    (
        "media type lowercased, parameters dropped",
        200,
        {"content-type": "Application/JSON; charset=utf-8"},
        b"{}",
        {"$": "object"},
        None,
    ),
    ("HTML is not JSON", 200, {"Content-Type": "text/html"}, b"<html></html>", None, None),
    ("broken JSON is not JSON", 200, JSON, b'{"a":', None, None),
    ("invalid UTF-8 is not JSON", 200, JSON, b'{"a":"\xff"}', None, None),
    (
        "bearer challenge",
        401,
        {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        b"",
        None,
        'Bearer error="invalid_token"',
    ),
    (
        "challenge params normalised",
        401,
        {"www-authenticate": "Basic Realm=api"},
        b"",
        None,
        'Basic realm="api"',
    ),
    (
        "two challenges",
        401,
        {"WWW-Authenticate": 'Bearer realm="a", Basic realm="b"'},
        b"",
        None,
        'Bearer realm="a", Basic realm="b"',
    ),
    (
        "digest nonce value dropped",
        401,
        {"WWW-Authenticate": 'Digest realm="a", nonce="123abc"'},
        b"",
        None,
        'Digest realm="a", nonce="…"',
    ),
    ("token68 kept", 401, {"WWW-Authenticate": "Negotiate YWJj=="}, b"", None, "Negotiate YWJj=="),
]


@pytest.mark.parametrize(
    ("status", "headers", "body", "paths", "challenge"),
    [row[1:] for row in SHAPES],
    ids=[row[0] for row in SHAPES],
)
def test_shape_of(
    status: int,
    headers: dict[str, str],
    body: bytes,
    paths: dict[str, str] | None,
    challenge: str | None,
) -> None:
    observed = shape_of(status, headers, body)
    assert observed.status == status
    assert (None if observed.json is None else dict(observed.json)) == paths
    assert observed.auth_challenge == challenge
    assert not observed.truncated


def test_shape_is_bounded_in_depth_paths_and_array_elements() -> None:
    deep: Any = 1
    for _ in range(MAX_DEPTH + 5):
        deep = {"a": deep}
    cut = shape(deep)
    assert cut.truncated and cut.json is not None
    assert max(path.count(".") for path, _ in cut.json) == MAX_DEPTH

    wide = shape({f"k{i}": i for i in range(MAX_PATHS * 3)})
    assert wide.truncated and wide.json is not None and len(wide.json) == MAX_PATHS

    # Only the first elements are looked at: the 4th element's key is not seen.
    sampled = shape([{"a": 1}, {"a": 2}, {"a": 3}, {"b": 4}])
    assert sampled.json is not None and "$[].b" not in dict(sampled.json)
    assert not sampled.truncated


def test_a_body_cut_at_the_cap_is_unknown_not_changed() -> None:
    cut = shape_of(200, JSON, b'{"status": "o', truncated=True)
    assert cut.json is None and cut.truncated
    assert diff(shape({"status": "ok"}), cut) == []


def test_shape_round_trips_through_json_and_names_a_bad_field() -> None:
    original = shape_of(401, {**JSON, "WWW-Authenticate": "Bearer"}, b'{"a":[1]}')
    assert Shape.from_json(json.loads(json.dumps(original.to_json()))) == original
    with pytest.raises(ValueError, match="'status'"):
        Shape.from_json({"status": "200"})
    with pytest.raises(ValueError, match="'json'"):
        Shape.from_json({"status": 200, "json": {"$": 1}})


def test_redacted_hides_secrets_in_keys_and_challenge() -> None:
    leaky = shape_of(401, {**JSON, "WWW-Authenticate": 'Bearer realm="s3cret"'}, b'{"s3cret":1}')
    hidden = leaky.redacted(lambda text: text.replace("s3cret", "***"))
    assert "s3cret" not in json.dumps(hidden.to_json())


OK = {"status": "ok", "id": 1}
DIFFS = [
    # name, learned, observed, expected change lines
    ("same answer", shape(OK), shape({"status": "fine", "id": 7}), []),
    (
        "renamed and retyped field",
        shape(OK),
        shape({"state": "ok", "id": "1"}, 422),
        ["status 200 → 422", "`$.status` removed", "`$.state` added", "`$.id` number → string"],
    ),
    (
        "path now 404",
        shape(OK),
        shape({"error": "not found"}, 404),
        [
            "status 200 → 404 (path now 404)",
            "`$.id` removed",
            "`$.status` removed",
            "`$.error` added",
        ],
    ),
    (
        "content type changed",
        shape(OK),
        shape(b"<html/>", 200, {"Content-Type": "text/html"}),
        ["content type application/json → text/html", "body is no longer JSON"],
    ),
    (
        "body became JSON",
        shape(b"ok", 200, {"Content-Type": "text/plain"}),
        shape_of(200, {"Content-Type": "text/plain"}, b"{}"),
        ["body is JSON now"],
    ),
    (
        "401 with a challenge",
        shape(OK),
        shape_of(
            401,
            {**JSON, "WWW-Authenticate": 'Bearer error="invalid_token"'},
            b'{"status":"ok","id":1}',
        ),
        ["status 200 → 401", '401 now with `WWW-Authenticate: Bearer error="invalid_token"`'],
    ),
    (
        "challenge changed",
        shape_of(401, {**JSON, "WWW-Authenticate": 'Bearer realm="api"'}, b"{}"),
        shape_of(401, {**JSON, "WWW-Authenticate": 'Basic realm="api"'}, b"{}"),
        ['401 now with `WWW-Authenticate: Basic realm="api"` (was `Bearer realm="api"`)'],
    ),
    (
        "challenge dropped",
        shape_of(401, {**JSON, "WWW-Authenticate": "Bearer"}, b"{}"),
        shape_of(401, JSON, b"{}"),
        ["401 now without `WWW-Authenticate` (was `Bearer`)"],
    ),
    (
        "removed object reported once",
        shape({"data": {"a": 1, "b": {"c": 2}}}),
        shape({}),
        ["`$.data` removed"],
    ),
    ("added object reported once", shape({}), shape({"data": {"a": 1}}), ["`$.data` added"]),
    (
        "retyped object reported once",
        shape({"data": {"a": 1}}),
        shape({"data": [1]}),
        ["`$.data` object → array"],
    ),
    (
        "prefix that is not a parent",
        shape({"data": 1, "data_x": 1}),
        shape({"data_x": 1}),
        ["`$.data` removed"],
    ),
    (
        "array element field retyped",
        shape({"items": [{"id": 1}]}),
        shape({"items": [{"id": "1"}]}),
        ["`$.items[].id` number → string"],
    ),
    (
        "empty array now: elements unknown, not removed",
        shape({"items": [{"id": 1}]}),
        shape({"items": []}),
        [],
    ),
    (
        "empty array before: elements not added",
        shape({"items": []}),
        shape({"items": [{"id": 1}]}),
        [],
    ),
    (
        "null where a string was",
        shape({"name": "a"}),
        shape({"name": None}),
        ["`$.name` string → null"],
    ),
]


@pytest.mark.parametrize(
    ("learned", "observed", "expected"), [row[1:] for row in DIFFS], ids=[row[0] for row in DIFFS]
)
def test_diff(learned: Shape, observed: Shape, expected: list[str]) -> None:
    assert [change.text for change in diff(learned, observed)] == expected


def test_removals_unknown_when_the_observed_shape_was_cut() -> None:
    learned = shape({"z": 1})
    cut = Shape(200, "application/json", (("$", "object"), ("$.a", "number")), truncated=True)
    assert [c.text for c in diff(learned, cut)] == ["`$.a` added"]


def test_describe_joins_and_bounds() -> None:
    changes = [Change("removed", f"$.f{i}", text=f"`$.f{i}` removed") for i in range(25)]
    line = describe(changes, limit=3)
    assert line == "`$.f0` removed, `$.f1` removed, `$.f2` removed, … and 22 more"
    assert Change.from_json(changes[0].to_json()) == changes[0]


def test_change_outcomes_are_the_auth_and_contract_families() -> None:
    families = {Family.AUTH, Family.CONTRACT}
    # egress_denied is refused before the hop is sent: no answer to shape.
    answered = {o for o in Outcome if family_of(o) in families} - {Outcome.EGRESS_DENIED}
    assert answered == CHANGE_OUTCOMES


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


SAMPLING = [
    # name, outcome, seconds since the last sample of the same check, shaped
    ("first passing answer", Outcome.OK, None, True),
    ("passing again too soon", Outcome.OK, 10.0, False),
    ("passing after the interval", Outcome.OK, 61.0, True),
    ("slow counts as passing", Outcome.SLOW, 61.0, True),
    ("auth failure always", Outcome.AUTH_FAILURE, 1.0, True),
    ("client error always", Outcome.CLIENT_ERROR, 1.0, True),
    ("contract violation always", Outcome.CONTRACT_VIOLATION, 1.0, True),
    ("server error never", Outcome.SERVER_ERROR, 61.0, False),
]


@pytest.mark.parametrize(
    ("outcome", "after_s", "shaped"), [r[1:] for r in SAMPLING], ids=[r[0] for r in SAMPLING]
)
def test_sampler(outcome: Outcome, after_s: float | None, shaped: bool) -> None:
    clock = Clock()
    sampler = ShapeSampler(60.0, clock)
    if after_s is not None:
        assert sampler.wanted("p", "health", Outcome.OK)
        clock.now += after_s
    assert sampler.wanted("p", "health", outcome) is shaped
    assert sampler.wanted("p", "other", Outcome.OK)  # each check on its own clock


def test_sampler_rejects_a_negative_interval() -> None:
    with pytest.raises(ValueError, match="every_s"):
        ShapeSampler(-1.0)


def test_a_repeated_failing_answer_reuses_its_shape() -> None:
    sampler = ShapeSampler(60.0, Clock())
    failing = Outcome.CONTRACT_VIOLATION

    def take(body: bytes, status: int = 422) -> Shape | None:
        return sampler.shape("p", "health", failing, status, JSON, body)

    first = take(b'{"error": "bad"}')
    assert first is not None and take(b'{"error": "bad"}') is first  # not parsed again
    assert take(b'{"error": "bad"}', status=400) is not first
    changed = take(b'{"error": 1}')
    assert changed is not None and dict(changed.json or ())["$.error"] == "number"
    # A passing answer is shaped when due, redacted with `hide`.
    hidden = sampler.shape(
        "p",
        "other",
        Outcome.OK,
        200,
        JSON,
        b'{"s3cret": 1}',
        hide=lambda t: t.replace("s3cret", "*"),
    )
    assert hidden is not None and dict(hidden.json or ()) == {"$": "object", "$.*": "number"}
    assert sampler.shape("p", "other", Outcome.OK, 200, JSON, b"{}") is None  # not due yet
