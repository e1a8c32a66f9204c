"""Slot accounting: did every interval of every check run, once, around a fault?

A check's slot n is its n-th interval on its own phase, the arithmetic the
scheduler uses (`worker.phases.phase`). Two witnesses are read: the database
(each stored result's `scheduled_at` is the slot's due time, the schedule's own
id for it) and the target (each request's arrival time falls in the slot it
was made for, since a run starts within one interval of being due). A slot with
two runs at either witness is a run twice; a slot with no stored result is lost,
which is allowed only inside a declared `Fault` window, at most its `limit`
times per check.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

from worker.phases import phase

# PostgreSQL keeps microseconds: a due time read back may sit a hair before the slot start.
ROUNDING_S = 1e-3


def slot(key: str, interval_s: float, at: float) -> int:
    """The slot `at` falls into: slot n starts at the n-th due time of `key`."""
    return math.floor((at - phase(key, interval_s, 1.0)) / interval_s)


def slot_start(key: str, interval_s: float, number: int) -> float:
    return phase(key, interval_s, 1.0) + number * interval_s


@dataclass(frozen=True)
class Run:
    key: str
    scheduled_at: float
    started_at: float


def stored_runs(engine: Engine) -> dict[str, list[Run]]:
    """Every stored result, per check key, in the order they were scheduled."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT integration_id, check_name, scheduled_at, started_at FROM check_results "
                "ORDER BY scheduled_at"
            )
        ).all()
    runs: dict[str, list[Run]] = defaultdict(list)
    for integration_id, check_name, scheduled_at, started_at in rows:
        key = f"{integration_id}/{check_name}"
        runs[key].append(Run(key, scheduled_at.timestamp(), started_at.timestamp()))
    return runs


def first_result_after(engine: Engine, after: float) -> float | None:
    """When the first run that started after `after` started (a restarted worker is up)."""
    with engine.connect() as connection:
        started = connection.execute(
            text("SELECT min(started_at) FROM check_results WHERE started_at > to_timestamp(:t)"),
            {"t": after},
        ).scalar_one_or_none()
    return None if started is None else float(started.timestamp())


def result_since(engine: Engine, after: float) -> bool:
    return first_result_after(engine, after) is not None


@dataclass(frozen=True)
class Fault:
    """Up to `limit` runs of each check due between `start` and `end` may be lost to `what`."""

    what: str
    start: float
    end: float
    limit: int = 1


def downtime(what: str, start: float, end: float, interval_s: float) -> Fault:
    """Nothing ran from `start` to `end`: each check may lose every run due then."""
    return Fault(what, start, end, limit=math.ceil((end - start) / interval_s) + 1)


@dataclass
class SlotReport:
    checks: int = 0
    slots: int = 0
    lost: dict[str, list[float]] = field(default_factory=dict)  # check key → due times
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lost = sum(len(times) for times in self.lost.values())
        return f"{self.checks} checks, {self.slots} slots, {lost} lost in {len(self.lost)} checks"


def verify_slots(
    engine: Engine,
    hits: dict[str, list[float]],
    interval_s: float,
    horizon: float,
    faults: list[Fault],
) -> SlotReport:
    """Check every slot of every check from its first stored run up to `horizon`."""
    report = SlotReport()
    for key, runs in sorted(stored_runs(engine).items()):
        report.checks += 1
        stored = Counter(slot(key, interval_s, run.scheduled_at + ROUNDING_S) for run in runs)
        requested = Counter(slot(key, interval_s, at) for at in hits.get(key, []))
        for witness, counts in (("stored", stored), ("requested at the target", requested)):
            for number, count in sorted(counts.items()):
                if count > 1:
                    due = slot_start(key, interval_s, number)
                    report.problems.append(
                        f"{key}: {witness} {count}× in the slot due at {due:.3f}"
                    )
        last = slot(key, interval_s, horizon)
        expected = range(min(stored), last + 1)
        report.slots += len(expected)
        lost = [slot_start(key, interval_s, n) for n in expected if n not in stored]
        if lost:
            report.lost[key] = lost
        _judge_losses(report, key, lost, faults)
    return report


def _judge_losses(report: SlotReport, key: str, lost: list[float], faults: list[Fault]) -> None:
    per: Counter[Fault] = Counter()
    for due in lost:
        fault = next((f for f in faults if f.start <= due <= f.end), None)
        if fault is None:
            report.problems.append(f"{key}: the run due at {due:.3f} was lost outside any fault")
            continue
        per[fault] += 1
    for fault, count in per.items():
        if count > fault.limit:
            report.problems.append(
                f"{key}: {count} runs lost to {fault.what} (at most {fault.limit})"
            )


def describe(report: SlotReport, faults: list[Fault]) -> str:
    windows = "; ".join(f"{f.what}: {f.start:.3f}–{f.end:.3f} (≤ {f.limit})" for f in faults)
    shown = "\n  ".join(report.problems[:25])
    more = f"\n  … and {len(report.problems) - 25} more" if len(report.problems) > 25 else ""
    return f"{report.summary()}; faults: {windows}\n  {shown}{more}"
