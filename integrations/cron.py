"""What makes a cron expression usable, said once for heartbeat schedules, cron
maintenance windows and the console's window form (each words the refusal its way)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

CronProblem = Literal["malformed", "never_fires"]


def cron_problem(value: str, *, aliases: bool) -> CronProblem | None:
    """None for a five-field expression (or, with `aliases`, an `@daily`-style one)
    that fires; else what is wrong with it."""
    from croniter import CroniterBadDateError, croniter  # only when a file has a cron

    five_fields = len(value.split()) == 5 or (aliases and value.startswith("@"))
    if not five_fields or not croniter.is_valid(value):
        return "malformed"
    try:  # is_valid accepts dates that never come, like Feb 30
        croniter(value, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        return "never_fires"
    return None
