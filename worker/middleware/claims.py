"""Release each check's in-flight claim when its batch message is finished.

Whatever happened (results stored, an exception, a skipped message), the claim
is released compare-and-delete, so the scheduler may send the check again at
its next due time; a partner's Retry-After parks it until then instead. The
claims of checks still running when their batch moved on are the late-result
writer's to release (`worker.late`), once their results are stored.

When the worker shuts down, the late writer gets a few seconds to store its
stragglers before the process exits.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from dramatiq import Middleware
from dramatiq.broker import MessageProxy

from worker.batch import ACTOR_NAME, CHECKS_QUEUE, Batch
from worker.pipeline import late_claims, published_outcome, reset_outcome, started_claims

log = logging.getLogger(__name__)


class ReleaseClaims(Middleware):
    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        if message.actor_name == ACTOR_NAME:
            reset_outcome()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if message.actor_name != ACTOR_NAME:
            return
        outcome = published_outcome() if exception is None else None
        not_before = outcome.not_before if outcome is not None else {}
        # A started run's claim holds the value it was started with. Checks still
        # running were handed to the late writer with their claims.
        self._release(message, not_before, started_claims(), late_claims())

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        queues = worker.consumer_whitelist
        if queues is not None and CHECKS_QUEUE not in queues:
            # The other queues' worker (OtherQueues) stops first, while the check
            # threads may still hand stragglers to the late writer.
            return
        from worker.runtime import current_runtime

        rt = current_runtime()
        if rt is not None:
            rt.late.close(timeout=rt.settings.batch_wait_s + 5.0)

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        if message.actor_name == ACTOR_NAME:
            self._release(message, {}, {}, set())

    @staticmethod
    def _release(
        message: MessageProxy,
        not_before: dict[str, float],
        started: dict[str, str],
        late: set[str],
    ) -> None:
        from worker.runtime import runtime

        try:
            batch = Batch.from_payload(message.args[0])
            claims = {**batch.claims(), **started}
            for key in late:
                del claims[key]
            runtime().coordinator.release(claims, not_before)
        except Exception:
            # The claim still expires on its own at its deadline.
            log.exception("could not release the claims of message %s", message.message_id)
