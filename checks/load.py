"""A bounded load test against one partner request: latency percentiles at a given rate.

Open loop: request *i* starts at `start + i / rps` whatever the earlier ones are
doing, so a slow partner shows up as latency (and, past `max_concurrency`
requests in flight, as requests not sent) instead of silently lowering the rate.
Each start first asks the partner's `RateBudget`; a request the budget refuses
is not sent and is counted. The caller (`intmon e2e load`) enforces the hard
caps on rate and duration from settings before calling `run_load`.

The request itself is any `send()` returning a `CheckResult` (in practice
`ProbeEngine.run_check`), so latencies and outcome classes mean what they mean
for checks.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from checks.budget import RateBudget, Unlimited
from core.vocabulary.outcomes import CheckResult, Outcome

__all__ = ["LoadPlan", "LoadReport", "percentile", "run_load"]

Send = Callable[[], Awaitable[CheckResult]]
Progress = Callable[[int, int, int], None]  # (started, finished, planned)


@dataclass(frozen=True, slots=True)
class LoadPlan:
    rps: float
    duration_s: float
    max_concurrency: int = 256

    def __post_init__(self) -> None:
        if self.rps <= 0 or self.duration_s <= 0 or self.max_concurrency < 1:
            raise ValueError("rps, duration_s and max_concurrency must be positive")

    @property
    def planned(self) -> int:
        return max(1, round(self.rps * self.duration_s))


@dataclass(slots=True)
class LoadReport:
    asked_rps: float
    duration_s: float
    planned: int
    sent: int = 0
    completed: int = 0
    achieved_rps: float = 0.0
    wall_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list, repr=False)
    outcomes: Counter[str] = field(default_factory=Counter)
    not_sent: dict[str, int] = field(default_factory=lambda: {"budget": 0, "concurrency": 0})
    budget: str = "unlimited"

    def latency_ms(self) -> dict[str, float | None]:
        ordered = sorted(self.latencies_s)
        return {
            name: None if not ordered else round(percentile(ordered, q) * 1000, 2)
            for name, q in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))
        }

    def errors(self) -> dict[str, int]:
        return {k: v for k, v in sorted(self.outcomes.items()) if k != Outcome.OK.value}

    def as_dict(self) -> dict[str, Any]:
        return {
            "asked_rps": self.asked_rps,
            "achieved_rps": round(self.achieved_rps, 2),
            "duration_s": self.duration_s,
            "wall_s": round(self.wall_s, 3),
            "planned": self.planned,
            "sent": self.sent,
            "completed": self.completed,
            "latency_ms": self.latency_ms(),
            "outcomes": dict(sorted(self.outcomes.items())),
            "errors": self.errors(),
            "not_sent": dict(self.not_sent),
            "budget": self.budget,
        }


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending, non-empty sequence."""
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


async def run_load(
    send: Send,
    plan: LoadPlan,
    *,
    budget: RateBudget | None = None,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> LoadReport:
    """Start `plan.planned` requests at `plan.rps`, wait for them, and report."""
    budget = budget or Unlimited()
    report = LoadReport(plan.rps, plan.duration_s, plan.planned, budget=budget.describe())
    in_flight: set[asyncio.Task[None]] = set()

    async def one() -> None:
        result = await send()
        report.completed += 1
        report.outcomes[result.outcome.value] += 1
        report.latencies_s.append(result.duration_s)
        if progress is not None:
            progress(report.sent, report.completed, plan.planned)

    start = clock()
    for index in range(plan.planned):
        delay = start + index / plan.rps - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        if not budget.try_acquire(clock()):
            report.not_sent["budget"] += 1
            continue
        if len(in_flight) >= plan.max_concurrency:
            report.not_sent["concurrency"] += 1
            continue
        task = asyncio.create_task(one())
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        report.sent += 1
        if progress is not None:
            progress(report.sent, report.completed, plan.planned)
    sending = clock() - start
    if in_flight:
        await asyncio.gather(*in_flight)
    report.wall_s = clock() - start
    # Starts happened over the planned window, or longer when the loop fell behind.
    report.achieved_rps = report.sent / max(plan.duration_s, sending)
    return report
