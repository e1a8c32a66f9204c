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
from alerts.families import FAMILY_OF, Family, family_of
from alerts.incidents import RaceLost, Transitions
from alerts.platform_outages import covered, outage_spans
from alerts.policy import Policy
from core.db import utcnow
from core.vocabulary.outcomes import CheckResult
from integrations.config import IntegrationSpec
from integrations.contracts import learn
from integrations.maintenance import windows_by_integration
from integrations.results import Recorded, record_results
from integrations.windows import active_window

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
        outages = _outages_over(connection, results)
        recorded = [
            Recorded(
                result,
                maintenance=active_window(windows.get(result.integration_id, ()), result.started_at)
                is not None,
                family=family_of(result.outcome, result.check_name),
                inhibited=_unreachable(result) and covered(outages, result.started_at),
            )
            for result in results
        ]
        record_results(connection, recorded)
        learn(connection, results)  # before incidents: they compare with it
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


def _unreachable(result: CheckResult) -> bool:
    """A connectivity outcome (a scenario's step's too): what intmon's own network
    failing looks like from here; a 401 or a 503 proves the network works."""
    return FAMILY_OF[result.outcome] is Family.CONNECTIVITY


def _outages_over(
    connection: Connection, results: Sequence[CheckResult]
) -> list[tuple[datetime, datetime | None]]:
    """The platform outages over the batch's connectivity failures; a batch without
    any (the common case) does not ask."""
    moments = [r.started_at for r in results if _unreachable(r)]
    return outage_spans(connection, min(moments), max(moments)) if moments else []
