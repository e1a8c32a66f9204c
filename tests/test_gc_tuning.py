"""Worker and scheduler processes raise the collector's thresholds; embedding processes don't."""

from __future__ import annotations

import subprocess
import sys

from core.gc_tuning import THRESHOLDS
from core.settings import Settings
from tests.conftest import REDIS_URL
from worker.broker import build_broker
from worker.middleware import TuneGC

# Run in a child process: tune_gc() freezes the collector's view of its process.
_BOOT_A_WORKER = """
import gc, json
import dramatiq
from core.settings import Settings
from worker.broker import build_broker

before = gc.get_threshold()
broker = build_broker(Settings(redis_url={redis!r}, namespace="gc-tuning-test"))
worker = dramatiq.Worker(broker, worker_threads=1, queues=set())
worker.start()
after, frozen = gc.get_threshold(), gc.get_freeze_count()
worker.stop()
print(json.dumps({{"before": before, "after": after, "frozen": frozen}}))
"""


def test_a_booted_worker_process_runs_the_collector_less_often() -> None:
    import json

    child = subprocess.run(
        [sys.executable, "-c", _BOOT_A_WORKER.format(redis=REDIS_URL)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    assert tuple(figures["before"]) != THRESHOLDS
    assert tuple(figures["after"]) == THRESHOLDS
    # What the process loaded at boot is frozen out of later full collections.
    assert figures["frozen"] > 10_000


def test_the_embedded_broker_leaves_the_embedding_process_alone() -> None:
    broker = build_broker(Settings(redis_url=None))
    assert not any(isinstance(m, TuneGC) for m in broker.middleware)
    production = build_broker(Settings(redis_url=REDIS_URL, namespace="gc-tuning-test"))
    assert any(isinstance(m, TuneGC) for m in production.middleware)
