"""Cross-cutting behaviour of the check actor, seen once per message (dramatiq middleware)."""

from worker.middleware.claims import ReleaseClaims
from worker.middleware.gc import TuneGC
from worker.middleware.metrics import CheckMetrics

__all__ = ["CheckMetrics", "ReleaseClaims", "TuneGC"]
