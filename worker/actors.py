"""dramatiq actors. `dramatiq worker.actors` (or `intmon worker`) imports this module.

The check actor never retries: the scheduler's next tick is the retry, and the
probe already retried a transient network error once (STYLE §5).
"""

from __future__ import annotations

from typing import Any

import dramatiq

from alerts.heartbeat_watch import watch_heartbeats
from alerts.housekeeping import housekeep as run_housekeeping
from alerts.housekeeping import send_pending
from alerts.lead_holds import open_incident_holds
from alerts.lead_metrics import publish_leads
from alerts.policy import policy_of
from alerts.postback_watch import watch_postbacks
from core.db import utcnow
from integrations.leads.dispatch import deliver_due
from integrations.retention import retention_of
from integrations.rollups import rollup_retention_of
from worker.batch import (
    ACTOR_NAME,
    CHECKS_QUEUE,
    HEARTBEATS_ACTOR,
    HOUSEKEEPING_ACTOR,
    HOUSEKEEPING_QUEUE,
    LEADS_ACTOR,
    LEADS_QUEUE,
    POSTBACKS_ACTOR,
    SEND_ACTOR,
)
from worker.broker import declare_actor, get_broker
from worker.e2e import declare_e2e
from worker.enqueue import send_now
from worker.pipeline import publish_outcome, run_batch
from worker.runtime import runtime


def run_checks(payload: dict[str, Any]) -> None:
    outcome = run_batch(runtime(), payload)
    publish_outcome(outcome)
    if outcome.changed:
        # A ticket opened or an incident moved: send its messages now rather
        # than at the next housekeeping tick (its rows are already committed).
        send_now(HOUSEKEEPING_QUEUE, SEND_ACTOR)


def send_now_actor() -> None:
    rt = runtime()
    send_pending(rt.db, policy_of(rt.settings), utcnow())


def housekeep(sync: bool = False) -> None:
    rt = runtime()
    run_housekeeping(
        rt.db,
        policy_of(rt.settings),
        utcnow(),
        sync=sync,
        rollup_retention=rollup_retention_of(rt.settings),
        retention=retention_of(rt.settings),
    )


def watch_heartbeats_actor() -> None:
    rt = runtime()
    if watch_heartbeats(rt.db, policy_of(rt.settings), utcnow()):
        send_pending(rt.db, policy_of(rt.settings), utcnow())  # the incident's messages, now


def watch_postbacks_actor() -> None:
    rt = runtime()
    if watch_postbacks(rt.db, policy_of(rt.settings), utcnow()):
        send_pending(rt.db, policy_of(rt.settings), utcnow())  # the incident's messages, now


def deliver_leads() -> None:
    rt = runtime()
    report = deliver_due(
        rt.db,
        rt.probes.run_batch,
        rt.budget,
        utcnow,
        hold=open_incident_holds,
        lease_s=rt.settings.lead_lease_s,
    )
    publish_leads(rt.db, report)


def declare(broker: dramatiq.Broker) -> dramatiq.Actor[Any, Any]:
    declare_actor(broker, housekeep, HOUSEKEEPING_ACTOR, HOUSEKEEPING_QUEUE, minutes=10)
    declare_actor(broker, send_now_actor, SEND_ACTOR, HOUSEKEEPING_QUEUE, minutes=10)
    declare_actor(broker, deliver_leads, LEADS_ACTOR, LEADS_QUEUE, minutes=10)
    declare_actor(broker, watch_heartbeats_actor, HEARTBEATS_ACTOR, HOUSEKEEPING_QUEUE, minutes=5)
    declare_actor(broker, watch_postbacks_actor, POSTBACKS_ACTOR, HOUSEKEEPING_QUEUE, minutes=5)
    declare_e2e(broker)
    return declare_actor(broker, run_checks, ACTOR_NAME, CHECKS_QUEUE, minutes=20)


run_checks_actor = declare(get_broker())
