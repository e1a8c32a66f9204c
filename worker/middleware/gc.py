"""Tune the garbage collector once a worker process has booted (see core.gc_tuning)."""

from __future__ import annotations

import dramatiq
from dramatiq import Middleware

from core.gc_tuning import tune_gc


class TuneGC(Middleware):
    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        tune_gc()
