"""The runner's sense of time, injected so tests move a clock instead of sleeping.

Polling and callback waits read `monotonic()` for their deadlines and wait
with `sleep()`; reports are stamped with `now()`. `SystemClock` is the real
one; a test's fake advances its time inside `sleep`.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
