"""Check metrics and schedule lag, recorded once per batch message."""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq import Middleware
from dramatiq.broker import MessageProxy

from checks import metrics
from worker.batch import ACTOR_NAME
from worker.pipeline import published_outcome


class CheckMetrics(Middleware):
    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        outcome = published_outcome()
        if message.actor_name != ACTOR_NAME or outcome is None:
            return
        metrics.observe_checks(
            outcome.results, skipped=outcome.skipped, up_unknown=outcome.late_integrations
        )
