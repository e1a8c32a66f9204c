"""The lead hold rule the callers hand to the dispatch pass: an integration is held
while it has an open auth or connectivity incident, named by its oldest one."""

from __future__ import annotations

from sqlalchemy import Engine, select

from alerts.lead_holds import INCIDENTS, open_incident_holds
from core.vocabulary.outcomes import Outcome
from tests.alerts.helpers import T0, feed, setup


def test_open_auth_and_connectivity_incidents_hold_other_families_and_resolved_do_not(
    db_engine: Engine,
) -> None:
    specs = setup(db_engine, "a", "b", "c", "d", "e")
    feed(db_engine, specs, [Outcome.TIMEOUT] * 3, integration="a")
    feed(db_engine, specs, [Outcome.AUTH_FAILURE] * 3, start=3, integration="a")
    feed(db_engine, specs, [Outcome.SERVER_ERROR] * 3, integration="b")
    feed(db_engine, specs, [Outcome.CONNECTION_REFUSED] * 3 + [Outcome.OK] * 2, integration="c")
    feed(db_engine, specs, [Outcome.AUTH_FAILURE] * 3, integration="d")
    feed(db_engine, specs, [Outcome.AUTH_FAILURE] * 3, integration="e")
    with db_engine.connect() as connection:
        opened = {
            (row.integration_id, row.family): (row.id, row.state)
            for row in connection.execute(
                select(
                    INCIDENTS.c.integration_id,
                    INCIDENTS.c.family,
                    INCIDENTS.c.id,
                    INCIDENTS.c.state,
                )
            )
        }
        holds = open_incident_holds(connection, ["a", "b", "c", "d"], T0)
    assert opened[("a", "connectivity")][1] == opened[("a", "auth")][1] == "open"
    assert opened[("c", "connectivity")][1] == "resolved"
    assert holds == {
        # Both hold; the older one is named.
        "a": f"open connectivity incident #{opened[('a', 'connectivity')][0]}",
        "d": f"open auth incident #{opened[('d', 'auth')][0]}",
    }  # "b": a server incident does not hold; "c": resolved; "e": not asked
