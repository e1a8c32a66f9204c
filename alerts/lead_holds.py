"""The lead hold rule: an integration with an open auth or connectivity incident.

Leads sent into an integration known to be down would only fail and use up their
retries, so the dispatch pass (`integrations.leads.dispatch`) holds them while
this rule says so. The pass sits below `alerts` and cannot read incidents itself;
every caller (the `deliver_leads` actor, `intmon leads deliver`, the benches)
hands it `open_incident_holds` as its `hold` rule (`integrations.leads.holding.HoldRule`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Connection, select

from alerts.families import Family
from alerts.models import Incident
from core.db import table_of

INCIDENTS = table_of(Incident)
HOLDING_FAMILIES = (Family.AUTH, Family.CONNECTIVITY)


def open_incident_holds(
    connection: Connection, integration_ids: Collection[str], now: datetime
) -> dict[str, str]:
    """The integrations among `integration_ids` with an open auth or connectivity
    incident, each with its oldest one (`open auth incident #12`). An incident is
    open until resolved, so `now` does not narrow it."""
    rows = connection.execute(
        select(INCIDENTS.c.integration_id, INCIDENTS.c.family, INCIDENTS.c.id)
        .where(
            INCIDENTS.c.integration_id.in_(list(integration_ids)),
            INCIDENTS.c.state == "open",
            INCIDENTS.c.family.in_(HOLDING_FAMILIES),
        )
        .order_by(INCIDENTS.c.id)
    )
    holds: dict[str, str] = {}
    for row in rows:
        holds.setdefault(row.integration_id, f"open {row.family} incident #{row.id}")
    return holds
