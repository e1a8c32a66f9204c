"""Maintenance windows: when an integration's failures are expected and not counted.

During a window results are flagged `maintenance`, no incident opens and SLA clocks
pause. This module is pure: every function takes the moment(s) it reasons about as
arguments, which must be timezone-aware (a naive datetime is a ValueError).

An entry of an integration's `maintenance:` list has one of three shapes:

    - {starts_at: "2026-11-23T10:00:00+01:00", ends_at: "...", reason: "..."}
    - {weekly: {days: [mon, tue], start: "02:00", end: "04:00"}, timezone: Europe/Moscow}
    - {cron: "0 2 * * sun", duration_minutes: 120, timezone: Europe/Warsaw}

Time-zone rules:

* One-off datetimes need a UTC offset, or a `timezone:` in which they are read as
  local wall time. Weekly and cron windows are wall-clock times in `timezone`
  (default UTC).
* A weekly `end` at or before `start` crosses midnight into the next day; `end ==
  start` is a whole day.
* A local time that does not exist (spring forward: 02:30 in Europe/Warsaw on the
  last Sunday of March) means the first valid instant after the gap (03:00 CEST).
* An ambiguous local time (fall back) means its first occurrence (fold=0).
* A weekly window ends at its wall-clock end, so 02:00–04:00 on the fall-back night
  lasts 3 real hours (2 on the spring-forward night); a cron window lasts
  `duration_minutes` of real elapsed time from its (local) firing time.
* Results (`occurrences`, `current`, `next_start`, `shift_past_windows`) are in UTC.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from integrations.cron import cron_problem
from integrations.strict import SLUG, Strict

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Span = tuple[datetime, datetime]
HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")
ONE_SHAPE = "give exactly one of: starts_at + ends_at, weekly, or cron"
SHIFT_HORIZON = timedelta(days=366)


def wall_time(value: object) -> time:
    if isinstance(value, int):  # YAML 1.1 reads an unquoted 23:00 as the number 1380
        raise ValueError('write times as quoted "HH:MM" strings (YAML reads 23:00 as a number)')
    match = HHMM.match(value) if isinstance(value, str) else None
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f'{value!r} is not a time of day; use "HH:MM" from 00:00 to 23:59')
    return time(int(match[1]), int(match[2]))


# Written back as "HH:MM" so that a stored window (JSON in the database) reads
# back through the same validator.
WallTime = Annotated[
    time,
    BeforeValidator(wall_time),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str, when_used="json"),
]


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name like 'Europe/Warsaw'"
        ) from None


class WeeklySchedule(Strict):
    days: list[Day] = Field(min_length=1)
    start: WallTime
    end: WallTime


class MaintenanceSpec(Strict):
    """One `maintenance:` entry. Cross-field checks are field validators reading the
    fields declared above them, so each error's loc names the field at fault."""

    id: str | None = Field(default=None, pattern=SLUG)
    reason: str = ""
    timezone: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = Field(default=None, validate_default=True)
    weekly: WeeklySchedule | None = None
    cron: str | None = None
    duration_minutes: int | None = Field(default=None, ge=1, le=10_080, validate_default=True)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None:
            zone_of(value)
        return value

    @field_validator("starts_at")
    @classmethod
    def _starts_at(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is not None and "timezone" in info.data:  # absent key: timezone was invalid
            local(value, info.data["timezone"])
        return value

    @field_validator("ends_at")
    @classmethod
    def _ends_at(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if paired(value, info, "starts_at") and value and "timezone" in info.data:
            starts_at, zone = info.data["starts_at"], info.data["timezone"]
            if local(value, zone) <= local(starts_at, zone):
                raise ValueError("must be later than starts_at")
        return value

    @field_validator("weekly")
    @classmethod
    def _weekly(cls, value: WeeklySchedule | None, info: ValidationInfo) -> WeeklySchedule | None:
        if value is not None and info.data.get("starts_at") is not None:
            raise ValueError(ONE_SHAPE)
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        if info.data.get("starts_at") is not None or info.data.get("weekly") is not None:
            raise ValueError(ONE_SHAPE)
        problem = cron_problem(value, aliases=True)
        if problem == "malformed":
            raise ValueError(f"{value!r} is not a five-field cron expression like '0 2 * * sun'")
        if problem == "never_fires":
            raise ValueError(f"{value!r} never fires")
        return value

    @field_validator("duration_minutes")
    @classmethod
    def _duration(cls, value: int | None, info: ValidationInfo) -> int | None:
        paired(value, info, "cron")
        return value

    @model_validator(mode="after")
    def _one_shape(self) -> MaintenanceSpec:
        if self.starts_at is None and self.weekly is None and self.cron is None:
            raise ValueError(ONE_SHAPE)
        return self


def paired(value: object, info: ValidationInfo, partner: str) -> bool:
    """Check `value` and the earlier field `partner` are given together or not at all;
    True when both are. A partner missing from info.data failed with its own error."""
    if partner not in info.data:
        return False
    if info.data[partner] is None and value is not None:
        raise ValueError(f"only valid together with {partner}")
    if info.data[partner] is not None and value is None:
        raise ValueError(f"required when {partner} is given")
    return value is not None


def aware(moment: datetime) -> datetime:
    """`moment` in UTC; arithmetic on ZoneInfo datetimes is wall-clock, on UTC it is real."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} is naive; pass a timezone-aware datetime")
    return moment.astimezone(UTC)


def local(moment: datetime, zone: str | None) -> datetime:
    """A validated one-off datetime in UTC: its own offset, or wall time in `zone`."""
    try:
        if moment.tzinfo is not None:
            return aware(moment)
        if zone is None:
            raise ValueError("has no UTC offset; add one (…+01:00) or set timezone")
        return from_wall(moment, ZoneInfo(zone))
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is in the year 10000 in UTC
        raise ValueError(f"{moment.isoformat()} is out of the supported range") from None


def from_wall(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of naive local `wall` under the DST rules in the module docstring."""
    first = wall.replace(tzinfo=zone, fold=0)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall:
        return first.astimezone(UTC)  # exists; fold=0 is the earlier of two ambiguous instants
    # In a gap, fold=1 maps to an instant before the transition and fold=0 to one after
    # it (PEP 495); bisect whole seconds for the transition, the first valid instant.
    before = math.floor(wall.replace(tzinfo=zone, fold=1).timestamp())
    after = math.ceil(first.timestamp())
    offset_after = first.astimezone(UTC).astimezone(zone).utcoffset()
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset_after:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)


def union(spans: Iterable[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@dataclass(frozen=True)
class MaintenanceWindow:
    kind: Literal["once", "weekly", "cron"]
    zone: ZoneInfo
    starts_at: datetime | None = None  # once, UTC
    ends_at: datetime | None = None
    days: tuple[int, ...] = ()  # weekly: weekday numbers, Monday = 0
    start: time = time(0)
    end: time = time(0)
    cron: str = ""
    duration: timedelta = timedelta(0)
    id: str | None = None
    reason: str = ""

    def spans(self, start: datetime, end: datetime) -> list[Span]:
        """Unclipped UTC occurrences overlapping [start, end), sorted by start."""
        start, end = aware(start), aware(end)
        found: list[Span] = []
        if self.kind == "once":
            assert self.starts_at is not None and self.ends_at is not None
            found.append((self.starts_at, self.ends_at))
        elif self.kind == "weekly":  # one step per local day; a day earlier for midnight-crossers
            day = start.astimezone(self.zone).date() - timedelta(days=1)
            while day <= end.astimezone(self.zone).date():
                if day.weekday() in self.days:
                    found.append(self._weekly_span(day))
                day += timedelta(days=1)
        else:
            for fire in self._fires(start - self.duration):
                if fire >= end:
                    break
                found.append((fire, fire + self.duration))
        return sorted(s for s in found if s[0] < s[1] and s[1] > start and s[0] < end)

    def _weekly_span(self, day: date) -> Span:
        last = day if self.end > self.start else day + timedelta(days=1)
        begin = from_wall(datetime.combine(day, self.start), self.zone)
        return begin, from_wall(datetime.combine(last, self.end), self.zone)

    def _fires(self, after: datetime) -> Iterator[datetime]:
        """UTC cron firing times from about `after` on. croniter walks naive wall-clock
        time (its own DST handling would differ from ours); from_wall places each fire."""
        from croniter import CroniterBadDateError, croniter  # only for cron windows

        wall = after.astimezone(self.zone).replace(tzinfo=None) - timedelta(hours=3)
        schedule = croniter(self.cron, wall)
        try:
            while True:
                yield from_wall(schedule.get_next(datetime), self.zone)
        except CroniterBadDateError:
            return

    def occurrences(self, start: datetime, end: datetime) -> list[Span]:
        start, end = aware(start), aware(end)
        return [(max(s, start), min(e, end)) for s, e in union(self.spans(start, end))]

    def current(self, now: datetime) -> Span | None:
        now = aware(now)
        live = [s for s in self.spans(now, now + timedelta(microseconds=1)) if s[0] <= now]
        return max(live, key=lambda span: span[1]) if live else None

    def active_at(self, now: datetime) -> bool:
        return self.current(now) is not None

    def next_start(self, now: datetime) -> datetime | None:
        """The first occurrence starting strictly after `now` (UTC), or None."""
        now = aware(now)
        if self.kind == "once":
            return self.starts_at if self.starts_at and self.starts_at > now else None
        if self.kind == "cron":
            return next((fire for fire in self._fires(now) if fire > now), None)
        # Weekly: two weeks always hold a start, even if one is swallowed by a DST gap.
        later = [s for s, _ in self.spans(now, now + timedelta(days=15)) if s > now]
        return later[0] if later else None

    def describe(self) -> str:
        if self.kind == "once":
            assert self.starts_at is not None and self.ends_at is not None
            start, end = self.starts_at.astimezone(self.zone), self.ends_at.astimezone(self.zone)
            until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"
            return f"once {start:%Y-%m-%d %H:%M}–{until} {self.zone.key}"
        if self.kind == "weekly":
            days = ",".join(DAYS[d] for d in self.days)
            return f"weekly {days} {self.start:%H:%M}–{self.end:%H:%M} {self.zone.key}"
        minutes = int(self.duration.total_seconds() // 60)
        return f"cron '{self.cron}' for {minutes} min {self.zone.key}"


def window_from_spec(spec: MaintenanceSpec) -> MaintenanceWindow:
    zone = ZoneInfo(spec.timezone or "UTC")
    base = MaintenanceWindow("once", zone, id=spec.id, reason=spec.reason)
    if spec.starts_at and spec.ends_at:
        start, end = local(spec.starts_at, spec.timezone), local(spec.ends_at, spec.timezone)
        return replace(base, starts_at=start, ends_at=end)
    if weekly := spec.weekly:
        days = tuple(sorted({DAYS.index(day) for day in weekly.days}))
        return replace(base, kind="weekly", days=days, start=weekly.start, end=weekly.end)
    assert spec.cron and spec.duration_minutes
    return replace(
        base, kind="cron", cron=spec.cron, duration=timedelta(minutes=spec.duration_minutes)
    )


def window_from_dict(data: Mapping[str, Any]) -> MaintenanceWindow:
    return window_from_spec(MaintenanceSpec.model_validate(data))


def active_window(windows: Iterable[MaintenanceWindow], now: datetime) -> MaintenanceWindow | None:
    return next((window for window in windows if window.active_at(now)), None)


def covered(windows: Iterable[MaintenanceWindow], start: datetime, end: datetime) -> list[Span]:
    """The union of all windows' occurrences within [start, end), merged and sorted."""
    return union(span for window in windows for span in window.occurrences(start, end))


def overlap_seconds(windows: Iterable[MaintenanceWindow], start: datetime, end: datetime) -> float:
    return sum(((e - s).total_seconds() for s, e in covered(windows, start, end)), 0.0)


def shift_past_windows(
    windows: Iterable[MaintenanceWindow], start: datetime, seconds: float
) -> datetime:
    """When `seconds` of time outside every window have passed since `start` (UTC).

    Walks forward a week (plus the time still owed) at a time; gives up after 366 days
    of extension and returns plain `start + seconds`, so a window covering all time
    cannot loop forever.
    """
    windows = list(windows)
    cursor, remaining = aware(start), timedelta(seconds=seconds)
    plain = cursor + remaining
    limit = plain + SHIFT_HORIZON
    while cursor < limit:
        horizon = cursor + remaining + timedelta(days=7)
        for begin, end in covered(windows, cursor, horizon):
            if begin - cursor >= remaining:
                break
            remaining -= begin - cursor
            cursor = end
        if cursor + remaining <= horizon:
            return cursor + remaining
        remaining -= horizon - cursor
        cursor = horizon
    return plain
