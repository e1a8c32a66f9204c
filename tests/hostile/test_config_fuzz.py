"""Hostile configuration files: whatever the file holds, a clear error or a config.

`intmon.config_file.load_config_text` gets valid files mutated by hypothesis
(values of the wrong type, unicode, huge numbers, fields removed, integrations
repeated, bad URLs, bad cron expressions and time zones in maintenance windows),
files damaged character by character, and arbitrary text. The property: it
returns a `ConfigFile` or raises `ConfigError`, and every problem in the error
names its line or its field. Any other exception is a stack trace the user
would have seen from `intmon validate`.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from integrations.errors import ConfigError
from intmon.config_file import ConfigFile, load_config_text

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

VALID: dict[str, Any] = {
    "version": 1,
    "defaults": {"interval_s": 30, "timeout_s": 5, "retries": 1},
    "channels": {
        "email": {
            "host": "127.0.0.1",
            "port": 2525,
            "username": "intmon",
            "password": "${SMTP_PASSWORD}",
            "from_address": "intmon@example.com",
        },
        "webhook": {"secret": "${NOTIFY_HMAC_KEY}"},
    },
    "clients": {
        "acme": {
            "contacts": [
                {"name": "Desk", "email": "desk@acme.example", "roles": ["operational_public"]}
            ]
        }
    },
    "sinks": [
        {"name": "hook", "kind": "webhook", "url": "https://hooks.example/in", "secret": "${K}"}
    ],
    "integrations": [
        {
            "id": "acme-broker",
            "name": "ACME Broker",
            "kind": "broker",
            "client": "acme",
            "tier": "premium",
            "base_url": "https://api.acme.example/v2",
            "auth": {"type": "bearer", "token": "${ACME_TOKEN}"},
            "production": True,
            "thresholds": {"failure_threshold": 3, "success_threshold": 2},
            "tls": {"verify": True, "expiry_warning_days": 14},
            "contacts": [
                {
                    "name": "Olga",
                    "email": "oncall@acme.example",
                    "roles": ["alert", "technical_emergency", "technical_non_emergency"],
                    "hours": {
                        "weekly": [{"days": ["mon", "fri"], "start": "09:00", "end": "18:00"}],
                        "timezone": "Europe/Moscow",
                    },
                }
            ],
            "checks": [
                {
                    "name": "health",
                    "method": "GET",
                    "path": "/health",
                    "headers": {"Accept": "application/json"},
                    "query": {"verbose": "1"},
                    "expect": {
                        "status": [200, "2xx"],
                        "json": ['$.status == "ok"', "$.items exists"],
                        "headers": {"content-type": "json"},
                        "auth_error_patterns": ["invalid token"],
                        "max_latency_ms": 800,
                    },
                },
                {"name": "leads", "method": "POST", "path": "/leads", "json": {"ping": [1, "x"]}},
            ],
            "maintenance": [
                {
                    "id": "upgrade",
                    "starts_at": "2026-12-01T22:00:00+03:00",
                    "ends_at": "2026-12-02T02:00:00+03:00",
                    "reason": "v3",
                },
                {
                    "id": "nightly",
                    "weekly": {"days": ["sun"], "start": "02:00", "end": "04:00"},
                    "timezone": "Europe/Moscow",
                },
                {
                    "id": "deploys",
                    "cron": "0 3 * * mon-fri",
                    "duration_minutes": 30,
                    "timezone": "Europe/Warsaw",
                },
            ],
        },
        {
            "id": "orbit-ads",
            "name": "Orbit Ads",
            "kind": "advertiser",
            "client": "orbit",
            "base_url": "http://127.0.0.1:8080",
            "auth": {
                "type": "oauth2_client_credentials",
                "token_url": "http://127.0.0.1:8080/oauth/token",
                "client_id": "orbit",
                "client_secret": "${ORBIT_SECRET}",
            },
            "checks": [{"name": "orders", "path": "/orders"}],
        },
    ],
}

NASTY_STRINGS = [
    "",
    " ",
    "\0",
    "ünïcödé ✓ 日本語 🙂",
    "\u202e\u200b",
    "${",
    "${UNSET_VARIABLE}",
    "inline-secret",
    "http://",
    "http://[::1",
    "http://host:99999/",
    "ftp://example.com",
    "javascript:alert(1)",
    "//no-scheme.example",
    "https://exa mple.com",
    "99 99 * * *",
    "* * * * * * * *",
    "0 0 30 2 *",
    "@yearly",
    "@never",
    "Mars/Olympus",
    "../../etc/passwd",
    "Europe/Warsaw\0",
    "25:00",
    "23:60",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "$.a ==",
    "[unclosed",
    "(?P<",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(NASTY_STRINGS),
    st.datetimes(timezones=st.timezones()),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=8,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in the document a value can be changed or removed."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            found += paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += paths(child, (*prefix, index))
    return found


ALL_PATHS = paths(VALID)


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    document = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent = document
        try:
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue
        action = draw(st.sampled_from(["replace", "remove", "repeat"]))
        if action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "remove" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "repeat" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
    return document


def assert_clear(text: str) -> ConfigFile | None:
    """Loads, or fails with ConfigError naming a line or a field for each problem."""
    try:
        return load_config_text(text, source="fuzz.yaml")
    except ConfigError as error:
        assert error.problems, str(error)
        for problem in error.problems:
            assert problem.message.strip(), error.problems
            assert problem.line is not None or problem.field, error.problems
        assert "Traceback" not in str(error)
        return None


def test_the_valid_document_loads() -> None:
    file = assert_clear(yaml.safe_dump(VALID, sort_keys=False))
    assert file is not None
    assert [i.id for i in file.integrations] == ["acme-broker", "orbit-ads"]


@FUZZ
@given(mutated())
def test_mutated_documents(document: dict[str, Any]) -> None:
    assert_clear(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


@FUZZ
@given(st.sampled_from(ALL_PATHS), values)
def test_any_value_anywhere(path: tuple[Any, ...], value: Any) -> None:
    document = copy.deepcopy(VALID)
    parent: Any = document
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    assert_clear(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


@FUZZ
@given(st.data())
def test_damaged_text(data: st.DataObject) -> None:
    """The valid file with characters cut out, doubled or replaced."""
    text = yaml.safe_dump(VALID, sort_keys=False)
    pieces = st.sampled_from(["", "\t", ":", "- ", "{", "'", "&a ", "*a", "!!binary "])
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        at = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
        end = data.draw(st.integers(min_value=at, max_value=min(len(text), at + 20)))
        text = text[:at] + data.draw(pieces | st.text(max_size=5)) + text[end:]
    assert_clear(text)


@FUZZ
@given(st.text(max_size=300))
@example("integrations: " + "[" * 3000 + "]" * 3000)
@example("integrations: " + "{a: " * 3000 + "1" + "}" * 3000)
@example("defaults: {interval_s: " + "9" * 5000 + "}\n")
@example("2020-13-45: x\n")
@example("integrations: [{maintenance: [{starts_at: 2020-02-30T00:00:00Z}]}]\n")
@example("? [a, b]\n: c\n")
@example("integrations: !!python/object:os.system {}\n")
@example("\ufeffversion: 1\n\x85integrations: []\n")
def test_arbitrary_text(text: str) -> None:
    assert_clear(text)


@FUZZ
@given(
    starts=st.datetimes(timezones=st.timezones()),
    ends=st.datetimes(timezones=st.timezones()),
    zone=st.sampled_from(["UTC", "Europe/Warsaw", "Pacific/Kiritimati", "Etc/GMT+12"])
    | st.text(max_size=20),
    cron=st.sampled_from(NASTY_STRINGS) | st.text(max_size=20),
    minutes=st.integers(min_value=-(10**20), max_value=10**20),
)
def test_maintenance_windows(starts: Any, ends: Any, zone: str, cron: str, minutes: int) -> None:
    document = copy.deepcopy(VALID)
    document["integrations"][0]["maintenance"] = [
        {"starts_at": starts.isoformat(), "ends_at": ends.isoformat(), "timezone": zone},
        {"starts_at": starts.replace(tzinfo=None).isoformat(), "ends_at": ends.isoformat()},
        {"cron": cron, "duration_minutes": minutes, "timezone": zone},
        {"weekly": {"days": ["sun"], "start": cron, "end": "04:00"}, "timezone": zone},
    ]
    assert_clear(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


def test_repeated_integration_ids_name_the_line() -> None:
    document = copy.deepcopy(VALID)
    document["integrations"].append(copy.deepcopy(document["integrations"][1]))
    try:
        load_config_text(yaml.safe_dump(document, sort_keys=False))
    except ConfigError as error:
        repeated = [p for p in error.problems if "unique" in p.message]
        assert repeated and repeated[0].field == "integrations[2].id"
        assert repeated[0].line is not None and repeated[0].line > 1
    else:
        raise AssertionError("a repeated integration id was accepted")
