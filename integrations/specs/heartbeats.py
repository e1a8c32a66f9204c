"""A heartbeat as written in the integrations file, and when its next ping is due.

    heartbeats:
      - {name: nightly-export, period_s: 86400, grace_s: 3600}
      - {name: hourly-sync, schedule: "5 * * * *", timezone: Europe/Warsaw, grace_s: 600}

A `period_s` heartbeat is due `period_s` after its last ping; a `schedule` one at
the next cron firing (wall clock in `timezone`, default UTC) after its last ping.
It is late once `grace_s` has passed after that. Pure: every function takes the
moment it reasons about.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import Field, field_validator, model_validator

from integrations.cron import cron_problem
from integrations.strict import Strict
from integrations.windows import zone_of

# Results are stored as the check `heartbeat:<name>`, 64 characters at most.
HEARTBEAT_CHECK_PREFIX = "heartbeat:"
HEARTBEAT_NAME = r"^[a-z0-9][a-z0-9_.-]{0,53}$"
ONE_SHAPE = "give exactly one of: period_s, or schedule (with an optional timezone)"


def check_name_of(name: str) -> str:
    return HEARTBEAT_CHECK_PREFIX + name


def cron_expression(value: str) -> str:
    """A five-field cron expression that fires; ValueError says what is wrong."""
    problem = cron_problem(value, aliases=False)
    if problem == "malformed":
        raise ValueError(f"{value!r} is not a five-field cron expression like '5 * * * *'")
    if problem == "never_fires":
        raise ValueError(f"{value!r} never fires")
    return value


class HeartbeatSpec(Strict):
    name: str = Field(pattern=HEARTBEAT_NAME)
    period_s: float | None = Field(default=None, ge=1, le=86_400 * 35)
    schedule: str | None = None
    timezone: str | None = None
    grace_s: float = Field(ge=1, le=86_400 * 7)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return None if value is None else cron_expression(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None:
            zone_of(value)
        return value

    @model_validator(mode="after")
    def _one_shape(self) -> HeartbeatSpec:
        if (self.period_s is None) == (self.schedule is None):
            raise ValueError(ONE_SHAPE)
        if self.timezone is not None and self.schedule is None:
            raise ValueError("timezone is only valid together with schedule")
        return self

    @property
    def check_name(self) -> str:
        return check_name_of(self.name)


def next_due(
    after: datetime, *, period_s: float | None, schedule: str | None, timezone: str | None
) -> datetime:
    """When the ping after one at `after` is expected (UTC)."""
    if period_s is not None:
        return after + timedelta(seconds=period_s)
    assert schedule is not None, "a heartbeat has a period or a schedule"
    from croniter import croniter  # only for heartbeats on a schedule

    zone = zone_of(timezone or "UTC")
    fire: datetime = croniter(schedule, after.astimezone(zone)).get_next(datetime)
    return fire.astimezone(UTC)
