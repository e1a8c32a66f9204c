"""Check metrics and schedule lag, recorded once per batch message."""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq import Middleware
from dramatiq.broker import MessageProxy

from intmon import metrics
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
        metrics.observe_results(outcome.results)
        for check in outcome.results:
            if check.scheduled_at is not None:
                lag = (check.started_at - check.scheduled_at).total_seconds()
                metrics.schedule_lag.observe(max(0.0, lag))
        for reason, count in outcome.skipped.items():
            metrics.checks_skipped.labels(reason=reason).inc(count)
