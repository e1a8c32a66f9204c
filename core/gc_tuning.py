"""Garbage-collector thresholds for intmon's long-running processes.

A check allocates a few hundred short-lived objects (request, response, headers,
result row); with CPython's default thresholds (700, 10, 10) a worker running
thousands of checks a second collected the oldest generation several times a
second, walking every module, spec and metric series each time: about a quarter
of the engine's CPU in the profile (docs/benchmarks.md, fifth measurement). The
objects are freed by reference counting anyway; the collector is only there for
cycles, which are rare on the hot path, so it can run far less often.
"""

from __future__ import annotations

import gc

# gen0 every 50,000 net allocations instead of 700; gen2 after 20 × 100 gen0 runs.
THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Move what survived start-up out of the collector's way and raise its thresholds."""
    gc.collect()
    # Modules, settings and pools loaded at boot live as long as the process:
    # frozen, later full collections no longer walk them.
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


def raise_thresholds() -> None:
    """Only the thresholds, for a command that starts, does one thing and exits: a
    collection while its modules load walks everything just loaded, to free nothing
    (about a tenth of `intmon validate`'s CPU, docs/benchmarks.md, issue 26)."""
    gc.set_threshold(*THRESHOLDS)


def spare_the_last_collection() -> None:
    """Freeze what the process holds, just before it exits: the interpreter's final
    full collection then skips it (the memory goes back with the process anyway).
    About 40 ms of a short command's CPU, a tenth of `intmon validate`."""
    gc.freeze()
