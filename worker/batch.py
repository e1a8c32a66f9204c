"""The batch message: what the scheduler sends and a worker runs.

A message carries only ids and times, never a spec or a secret: workers read
specs by (id, revision) from their cache and resolve secrets from their own
environment. Compact lists keep a 50-check message around 4 KB in Redis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from integrations.config import IntegrationSpec

# The dramatiq actor that runs batches, and its queue. Scheduler, actor and
# middleware all refer to these; there is no other spelling of them.
ACTOR_NAME = "run_checks"
CHECKS_QUEUE = "checks"
# The leader's periodic alerts job (SLA sweep, auto-close, outbox, sync-back).
HOUSEKEEPING_ACTOR = "housekeep"
HOUSEKEEPING_QUEUE = "alerts"
# Sends due sink messages and notifications at once (after incidents changed).
SEND_ACTOR = "send_pending"
# Delivers queued leads (integrations/leads), on its own queue so a slow broker
# never delays checks or ticket mail.
LEADS_ACTOR = "deliver_leads"
LEADS_QUEUE = "leads"
# End-to-end scenario runs (worker.e2e): long, so on a queue of their own.
E2E_QUEUE = "e2e"
# Records a miss for each heartbeat past due + grace (alerts/heartbeat_watch.py); on
# the alerts queue, every few seconds, apart from housekeeping's slower tick.
HEARTBEATS_ACTOR = "watch_heartbeats"
# Judges each broker's postback window (alerts/postback_watch.py); on the alerts queue.
POSTBACKS_ACTOR = "watch_postbacks"

# Seconds a worker needs beyond the partner's timeouts to classify and store.
STORE_MARGIN_S = 5.0


def check_key(integration_id: str, check_name: str) -> str:
    return f"{integration_id}/{check_name}"


def timeout_budget(spec: IntegrationSpec) -> float:
    """The longest one run of a check of `spec` may take, retries included."""
    return spec.timeout_s * (spec.retries + 1) + STORE_MARGIN_S


@dataclass(frozen=True, slots=True)
class BatchItem:
    integration_id: str
    revision: int
    check_name: str
    due: float  # Unix time the run was scheduled for
    budget_s: float

    @property
    def key(self) -> str:
        return check_key(self.integration_id, self.check_name)


@dataclass(frozen=True, slots=True)
class Batch:
    fence: int
    claim: str  # the claim value each check was marked in flight with
    deadline: float  # the claim expires then unless a worker started the run: later is stale
    items: list[BatchItem]

    def to_payload(self) -> dict[str, Any]:
        return {
            "fence": self.fence,
            "claim": self.claim,
            "deadline": self.deadline,
            "checks": [
                [i.integration_id, i.revision, i.check_name, i.due, i.budget_s] for i in self.items
            ],
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Batch:
        return cls(
            fence=int(payload["fence"]),
            claim=str(payload["claim"]),
            deadline=float(payload["deadline"]),
            items=[
                BatchItem(str(i), int(r), str(c), float(d), float(b))
                for i, r, c, d, b in payload["checks"]
            ],
        )

    def claims(self) -> dict[str, str]:
        return {item.key: self.claim for item in self.items}
