"""Cross-cutting behaviour of the check actor, seen once per message (dramatiq middleware)."""

from worker.middleware.claims import ReleaseClaims
from worker.middleware.gc import TuneGC
from worker.middleware.metrics import CheckMetrics
from worker.middleware.other_queues import OtherQueues

__all__ = ["CheckMetrics", "OtherQueues", "ReleaseClaims", "TuneGC"]
