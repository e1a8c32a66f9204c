"""The alerts, leads and e2e queues on threads of their own, beside the checks.

dramatiq's worker shares its threads among all the queues it consumes. The
checks are cheapest on few threads with big batches (docs/benchmarks.md, issue
27), but on two shared threads a lead pass or an e2e scenario that runs for
minutes would hold half of them, or both, and the checks would wait. So
`intmon worker` hands dramatiq the checks queue alone (`--threads`), and this
middleware starts a second dramatiq `Worker` in each process, once that process
has booted, for the other queues (`--other-threads`, INTMON_OTHER_QUEUE_THREADS):
neither can hold the other's threads. It stops with the checks' worker.
"""

from __future__ import annotations

import logging

import dramatiq
from dramatiq import Middleware

log = logging.getLogger(__name__)


class OtherQueues(Middleware):
    def __init__(self, queues: set[str], threads: int) -> None:
        self.queues = queues
        self.threads = threads
        self.worker: dramatiq.Worker | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # Only beside a worker that leaves these queues alone: the embedded mode's
        # worker and one started for every queue serve them already.
        if self.worker is not None:  # this one, booting (or already started)
            return
        if worker.consumer_whitelist is None or worker.consumer_whitelist & self.queues:
            return
        self.worker = dramatiq.Worker(broker, queues=self.queues, worker_threads=self.threads)
        self.worker.start()
        log.info("serving %s on %d threads of their own", sorted(self.queues), self.threads)

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        side = self.worker
        if side is not None and worker is not side:
            self.worker = None
            side.stop()
