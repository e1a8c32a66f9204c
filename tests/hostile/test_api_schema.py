"""schemathesis against the API's own OpenAPI: every operation, no server error.

Each operation of `/openapi.json` gets up to 20 generated requests (valid and
invalid bodies, paths and queries) as support and as a client, on SQLite and
on PostgreSQL, and as a tester on SQLite, through the ASGI app in-process.
Whatever a caller sends, the answer is not a 5xx (`not_a_server_error`), and it
is what the document declares (issue 26): its body fits the schema given for its
status (`response_schema_conformance`), its media type is a declared one
(`content_type_conformance`) and so are its headers
(`response_headers_conformance`). Small on
purpose (about 45 s per backend and token on a 2-core box, some 3 minutes in all)
so that it runs in every `make unit`; hostile inputs found are kept as rows of
`test_no_server_errors.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
)

from core import db
from intmon.app import create_app
from tests.hostile.site import Site, database
from tests.hostile.site import settings as site_settings


@schemathesis.serializer("application/x-ndjson")
def _json_lines(_ctx: Any, value: Any) -> bytes:
    """`POST /api/results/import` takes JSON lines as its raw body; generated text
    is sent as it is (lone surrogates as the invalid UTF-8 they would be)."""
    text = value if isinstance(value, str) else json.dumps(value)
    return text.encode("utf-8", "surrogatepass")


class Target:
    """The site under test and whose token the requests carry."""

    def __init__(self, site: Site, caller: str) -> None:
        self.site = site
        self.headers = site.headers(caller)


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(("sqlite", "support"), id="sqlite-support"),
        pytest.param(("sqlite", "client"), id="sqlite-client"),
        # A tester's reach differs by role, not by database: SQLite suffices.
        pytest.param(("sqlite", "tester"), id="sqlite-tester"),
        pytest.param(("postgres", "support"), id="postgres-support", marks=pytest.mark.postgres),
        pytest.param(("postgres", "client"), id="postgres-client", marks=pytest.mark.postgres),
    ],
)
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    backend, caller = request.param
    with database(backend, tmp_path_factory.mktemp("schema")) as engine:
        site = Site(engine, site_settings())
        yield Target(site, caller)
        site.close()


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI, read once at collection (it does not depend on the data)."""
    engine = db.make_engine("sqlite://")
    try:
        return dict(create_app(engine, site_settings()).openapi())
    finally:
        engine.dispose()


# Loaded from the document, called against each target's app (`app=`): the
# fixture-based loader of schemathesis does not work with this pytest.
schema = schemathesis.openapi.from_dict(openapi_document())


# What generated values rarely hit by chance but attackers send: NUL, moments whose
# UTC time is in year 0 or 10000, numbers no 64-bit column takes, text over every
# column's size. (NaN and lone surrogates cannot travel as JSON through the test
# client; test_api_fuzz.py sends those as raw bytes.)
HOSTILE_TEXT = [
    "a\x00b",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "INC-99999999999999999999999",
    "c" * 65,
    "x" * 3000,
]
hostile_value = st.sampled_from([*HOSTILE_TEXT, 10**30, -(10**30)])


def spoiled(values: Any) -> st.SearchStrategy[Any]:
    """`values` as generated, or with one of its entries (if it is an object)
    replaced by a hostile value."""
    if not isinstance(values, dict) or not values:
        return st.just(values)
    names = sorted(values)
    return st.one_of(
        st.just(values),
        st.tuples(st.sampled_from(names), hostile_value).map(
            lambda spoil: {**values, spoil[0]: spoil[1]}
        ),
    )


@schema.hook("flatmap_body")
def spoil_body(_context: Any, body: Any) -> st.SearchStrategy[Any]:
    return spoiled(body)


@schema.hook("flatmap_query")
def spoil_query(_context: Any, query: Any) -> st.SearchStrategy[Any]:
    return spoiled(query)


@schema.hook("flatmap_path_parameters")
def spoil_path(_context: Any, path_parameters: Any) -> st.SearchStrategy[Any]:
    return spoiled(path_parameters)


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error(case: Any, target: Target) -> None:
    case.call_and_validate(app=target.site.app, headers=target.headers, checks=CHECKS)
