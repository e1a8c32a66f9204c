"""Where a batch of check results enters the alerts stage.

One transaction stores the results, moves each check's streaks, and opens,
updates or resolves incidents and their tickets, so a crash at any point
leaves either all of it or none of it. Maintenance is decided here, from the
windows in force when each check ran, and so is inhibition: a connectivity
failure while a platform outage was open (intmon's own network failing) is
stored but moves no streak and no incident (alerts/platform_outages.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_random

from alerts import incidents
from alerts.families import Family, family_of
from alerts.incidents import RaceLost, Transitions
from alerts.platform_outages import covered, outage_spans
from alerts.policy import Policy
from checks.outcomes import CheckResult
from integrations.config import IntegrationSpec
from integrations.maintenance import windows_by_integration
from integrations.results import Recorded, record_results
from integrations.windows import active_window
from intmon.db import utcnow

log = logging.getLogger(__name__)

# PostgreSQL aborts one of two transactions that wait on each other (40P01) or
# that conflict under serialisation (40001); running the batch again is safe
# because nothing of it was committed.
RETRYABLE_SQLSTATES = {"40P01", "40001"}


def _retryable(error: BaseException) -> bool:
    if isinstance(error, RaceLost):
        return True
    code = getattr(getattr(error, "orig", None), "sqlstate", None)
    return isinstance(error, DBAPIError) and code in RETRYABLE_SQLSTATES


@retry(
    retry=retry_if_exception(_retryable),
    stop=stop_after_attempt(4),
    wait=wait_random(0.01, 0.2),
    reraise=True,
)
def ingest(
    engine: Engine,
    results: Sequence[CheckResult],
    specs: Mapping[str, IntegrationSpec],
    policy: Policy,
    now: datetime | None = None,
) -> Transitions:
    if not results:
        return Transitions()
    now = now or utcnow()
    with engine.begin() as connection:
        windows = windows_by_integration(connection, {r.integration_id for r in results})
        families = [family_of(result.outcome, result.check_name) for result in results]
        outages = _outages_over(connection, results, families)
        recorded = [
            Recorded(
                result,
                maintenance=active_window(windows.get(result.integration_id, ()), result.started_at)
                is not None,
                family=family,
                inhibited=family is Family.CONNECTIVITY and covered(outages, result.started_at),
            )
            for result, family in zip(results, families, strict=True)
        ]
        record_results(connection, recorded)
        done = incidents.process(connection, recorded, specs, policy, now)
    if done:
        log.info(
            "incidents: %d opened, %d reopened, %d resolved; %d tickets opened",
            len(done.opened),
            len(done.reopened),
            len(done.resolved),
            len(done.tickets_opened),
        )
    return done


def _outages_over(
    connection: Connection, results: Sequence[CheckResult], families: Sequence[Family | None]
) -> list[tuple[datetime, datetime | None]]:
    """The platform outages over the batch's connectivity failures; a healthy batch
    (the common case) does not ask."""
    moments = [
        r.started_at for r, f in zip(results, families, strict=True) if f is Family.CONNECTIVITY
    ]
    return outage_spans(connection, min(moments), max(moments)) if moments else []
