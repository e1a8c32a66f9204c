"""When a periodic job falls due: a stable phase inside its period, from a hash of its key.

Thousands of checks (or scheduled scenarios) with the same interval spread evenly
over it instead of firing together, and a restarted scheduler keeps each on its
rhythm. The check scheduler (`worker.scheduler`) and the scenario schedule
(`worker.e2e`) both plan with these two functions, so they live below both.
"""

from __future__ import annotations

import hashlib


def phase(key: str, interval_s: float, spread: float) -> float:
    """Stable offset of a check inside its interval, in [0, interval × spread)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") / 2**64) * interval_s * spread


def first_due(key: str, interval_s: float, spread: float, now: float) -> float:
    """The first time at or after `now` that falls on this check's phase."""
    offset = phase(key, interval_s, spread)
    cycles = (now - offset) // interval_s + 1
    due = offset + cycles * interval_s
    return due - interval_s if due - interval_s >= now else due
