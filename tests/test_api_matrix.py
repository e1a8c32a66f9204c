"""Client A gets nothing of client B's, on every GET endpoint the API has.

The routes are read from the application itself, so an endpoint added later is
in the matrix without anyone remembering to add it. acme (client A) owns
integration `a` with a ticket, an incident, a maintenance window, a change
notice, a lead in the ledger and an e2e run; orbit (client B) asks for each of
them, by path and through every list. Each answer is 403/404, or a 200 that
names none of acme's things.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import Engine, insert

from integrations.e2e_models import E2ERun
from integrations.leads.delivery import LeadOutcome
from integrations.leads.ledger import AttemptIn, record
from integrations.leads.notices import add_notice
from integrations.maintenance import add_window
from tests.alerts.helpers import T0
from tests.test_api import NOW, Api, api, engine  # noqa: F401  (fixtures)

# Distinctive names of acme's things: none may appear in anything orbit reads.
ACME = {
    "ticket": "INC-000001",
    "window": "acme-window-7",
    "notice": "acme-notice-7",
    "lead": "acme-lead-7",
    "run": "acme-run-7f3a",
    "integration name": "A Broker",
}
PATH_VALUES = {
    "integration_id": "a",
    "number": ACME["ticket"],
    "run_id": ACME["run"],
    "name": ACME["window"],
    "attachment_id": "1",
}
# Query parameters an endpoint requires, naming acme's things where it takes them.
REQUIRED_QUERY = {"/api/reports/monthly": "?month=2026-12&client=acme"}
# Served to anyone on purpose (no client data), or by signature rather than token
# (/metrics by a token of its own, tests/web/test_surfaces.py), or by a capability in
# the path (a heartbeat's ping key, tests/heartbeats/test_heartbeats.py).
PUBLIC = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/callbacks/{run_id}/{name}",
    "/ping/{key}",
    "/ping/{key}/start",
    "/ping/{key}/fail",
    "/postbacks/{integration_id}",  # a broker's postback: the shared secret (HMAC)
}


@pytest.fixture
def acme_things(api: Api, engine: Engine) -> Api:  # noqa: F811
    add_window(
        engine,
        "a",
        {
            "id": ACME["window"],
            "starts_at": T0.isoformat(),
            "ends_at": (T0 + timedelta(hours=1)).isoformat(),
        },
        T0,
    )
    add_notice(
        engine,
        "a",
        {
            "id": ACME["notice"],
            "announced_at": T0.isoformat(),
            "effective_at": (T0 + timedelta(hours=1)).isoformat(),
            "description": "acme change",
        },
        T0,
    )
    record(
        engine,
        [
            AttemptIn(
                lead_id=ACME["lead"],
                integration="a",
                attempt=1,
                at=NOW,
                outcome=LeadOutcome.FAILED_AUTH,
            )
        ],
        {"a", "o"},
    )
    with engine.begin() as connection:
        connection.execute(
            insert(E2ERun).values(
                id=ACME["run"],
                integration_id="a",
                scenario="journey",
                trigger="api",
                status="failed",
                detail="",
                callbacks=[],
                created_at=NOW,
            )
        )
    return api


def get_paths(api: Api) -> list[str]:  # noqa: F811
    """Every GET operation in the API's own OpenAPI document."""
    paths = api.get("/openapi.json", as_=None).json()["paths"]
    return sorted(
        path for path, operations in paths.items() if "get" in operations and path not in PUBLIC
    )


def test_every_get_endpoint_hides_client_a_from_client_b(acme_things: Api) -> None:
    api = acme_things  # noqa: F811
    paths = get_paths(api)
    assert len(paths) >= 12, paths  # the matrix really covers the API
    support_saw_acme = []
    for path in paths:
        url = path.format(**PATH_VALUES) + REQUIRED_QUERY.get(path, "")
        # Support sees acme's thing at this URL: the probe is meaningful...
        as_support = api.get(url)
        if as_support.status_code == 200 and any(v in as_support.text for v in ACME.values()):
            support_saw_acme.append(path)
        # ...and orbit sees nothing of it: a path naming acme's thing answers exactly
        # as one naming nothing at all (no existence leak), and a list names none of it.
        answer = api.get(url, as_="orbit")
        assert answer.status_code in (200, 403, 404), (path, answer.status_code, answer.text)
        if "{" in path:
            assert answer.status_code in (403, 404), (path, answer.text)
            missing = {key: f"zz{value}" for key, value in PATH_VALUES.items()}
            nothing = api.get(path.format(**missing), as_="orbit")
            assert nothing.status_code == answer.status_code, path
            assert _masked(answer.text) == _masked(nothing.text), (path, answer.text, nothing.text)
        else:
            leaked = [what for what, value in ACME.items() if value in answer.text]
            assert not leaked, (path, leaked, answer.text[:300])
    # The probes found acme's things where they are, so "nothing leaked" means something.
    for expected in (
        "/api/tickets",
        "/api/tickets/{number}",
        "/api/integrations",
        "/api/integrations/{integration_id}/maintenance",
        "/api/integrations/{integration_id}/notices",
        "/api/e2e/runs",
    ):
        assert expected in support_saw_acme, expected


def _masked(text: str) -> str:
    """The answer with every probed id (real or made up) blanked out."""
    for value in PATH_VALUES.values():
        text = re.sub(rf"\b(zz)?{re.escape(value)}\b", "•", text)
    return text
