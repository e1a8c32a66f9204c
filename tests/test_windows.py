"""Maintenance windows: one-off, weekly and cron shapes, DST rules, unions and SLA shifting."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from integrations.maintenance import _problems
from integrations.windows import (
    MaintenanceSpec,
    MaintenanceWindow,
    active_window,
    overlap_seconds,
    shift_past_windows,
    window_from_dict,
    window_from_spec,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


def weekly(days: list[str], start: str, end: str, zone: str = "UTC") -> MaintenanceWindow:
    return window_from_dict(
        {"weekly": {"days": days, "start": start, "end": end}, "timezone": zone}
    )


def once(start: str, end: str, **extra: Any) -> MaintenanceWindow:
    return window_from_dict({"starts_at": start, "ends_at": end, **extra})


# --- one-off -------------------------------------------------------------------

ONE_OFF = once("2026-11-23T10:00:00+01:00", "2026-11-23T12:00:00+01:00", reason="upgrade")


@pytest.mark.parametrize(
    ("now", "active"),
    [
        (utc(2026, 11, 23, 8, 59, 59), False),  # one second before
        (utc(2026, 11, 23, 9, 0, 0), True),  # first second
        (utc(2026, 11, 23, 10, 59, 59), True),  # last second
        (utc(2026, 11, 23, 11, 0, 0), False),  # the end itself is outside (half-open)
    ],
)
def test_one_off_edges(now: datetime, active: bool) -> None:
    assert ONE_OFF.active_at(now) is active


def test_one_off_accessors() -> None:
    span = (utc(2026, 11, 23, 9), utc(2026, 11, 23, 11))
    assert ONE_OFF.current(utc(2026, 11, 23, 10)) == span
    assert ONE_OFF.current(utc(2026, 11, 23, 11)) is None
    assert ONE_OFF.next_start(utc(2026, 11, 1)) == span[0]
    assert ONE_OFF.next_start(utc(2026, 11, 23, 9)) is None  # strictly after now
    assert ONE_OFF.occurrences(utc(2026, 11, 23, 10), utc(2026, 12, 1)) == [
        (utc(2026, 11, 23, 10), utc(2026, 11, 23, 11))  # clipped to the range
    ]
    assert ONE_OFF.describe() == "once 2026-11-23 09:00–11:00 UTC"
    assert ONE_OFF.reason == "upgrade"


def test_one_off_local_wall_time_in_its_timezone() -> None:
    window = once("2026-07-01T10:00", "2026-07-01T12:00", timezone="Europe/Warsaw")
    assert window.current(utc(2026, 7, 1, 8)) == (utc(2026, 7, 1, 8), utc(2026, 7, 1, 10))
    assert window.describe() == "once 2026-07-01 10:00–12:00 Europe/Warsaw"


def test_naive_moments_are_rejected() -> None:
    naive = datetime(2026, 11, 23, 10)
    with pytest.raises(ValueError, match="naive"):
        ONE_OFF.active_at(naive)
    with pytest.raises(ValueError, match="naive"):
        ONE_OFF.occurrences(naive, utc(2026, 12, 1))
    with pytest.raises(ValueError, match="naive"):
        overlap_seconds([ONE_OFF], utc(2026, 11, 1), naive)
    with pytest.raises(ValueError, match="naive"):
        shift_past_windows([ONE_OFF], naive, 60)


# --- weekly --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "active"),
    [
        (utc(2026, 11, 22, 22, 59, 59), False),  # Sunday, before
        (utc(2026, 11, 22, 23, 0), True),  # Sunday 23:00
        (utc(2026, 11, 23, 0, 30), True),  # Monday: carried over from Sunday
        (utc(2026, 11, 23, 1, 0), False),
        (utc(2026, 11, 21, 0, 30), False),  # Saturday 00:30: Friday has no window
        (utc(2026, 11, 23, 23, 30), False),  # Monday night: not a listed day
    ],
)
def test_weekly_crossing_midnight(now: datetime, active: bool) -> None:
    window = weekly(["sun"], "23:00", "01:00")
    assert window.active_at(now) is active


def test_weekly_crossing_midnight_current_and_next() -> None:
    window = weekly(["sun"], "23:00", "01:00")
    sunday = (utc(2026, 11, 22, 23), utc(2026, 11, 23, 1))
    assert window.current(utc(2026, 11, 23, 0, 30)) == sunday
    assert window.next_start(utc(2026, 11, 23, 0, 30)) == utc(2026, 11, 29, 23)
    assert window.describe() == "weekly sun 23:00–01:00 UTC"


def test_weekly_equal_start_and_end_is_a_whole_day() -> None:
    window = weekly(["wed"], "06:00", "06:00")
    assert window.current(utc(2026, 11, 26, 5)) == (utc(2026, 11, 25, 6), utc(2026, 11, 26, 6))


def test_weekly_moscow_versus_utc() -> None:
    week = (utc(2026, 11, 22), utc(2026, 11, 29))
    moscow = weekly(["tue", "mon"], "02:00", "04:00", "Europe/Moscow")  # UTC+3, no DST
    plain = weekly(["mon", "tue"], "02:00", "04:00")
    assert moscow.occurrences(*week) == [
        (utc(2026, 11, 22, 23), utc(2026, 11, 23, 1)),  # Monday 02:00 MSK is Sunday in UTC
        (utc(2026, 11, 23, 23), utc(2026, 11, 24, 1)),
    ]
    assert plain.occurrences(*week) == [
        (utc(2026, 11, 23, 2), utc(2026, 11, 23, 4)),
        (utc(2026, 11, 24, 2), utc(2026, 11, 24, 4)),
    ]
    assert moscow.describe() == "weekly mon,tue 02:00–04:00 Europe/Moscow"


def test_weekly_occurrences_over_a_year_are_fast() -> None:
    window = weekly(
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "23:00", "01:00", "Europe/Warsaw"
    )
    began = time.perf_counter()
    spans = window.occurrences(utc(2026, 1, 1), utc(2027, 1, 1))
    assert time.perf_counter() - began < 0.1
    assert len(spans) == 365
    assert all(b - a == timedelta(hours=2) for a, b in spans)


# --- DST -----------------------------------------------------------------------
# Europe/Warsaw 2026: spring forward 29 Mar 02:00→03:00 (01:00 UTC), fall back
# 25 Oct 03:00→02:00 (01:00 UTC). America/New_York 2026: spring forward 8 Mar
# 02:00→03:00 (07:00 UTC), fall back 1 Nov 02:00→01:00 (06:00 UTC).


@pytest.mark.parametrize(
    ("zone", "start", "end", "sunday", "utc_start", "utc_end"),
    [
        # Start in the gap: first valid instant after it (03:00 CEST = 01:00 UTC).
        ("Europe/Warsaw", "02:30", "04:00", "2026-03-29", "01:00", "02:00"),
        ("Europe/Warsaw", "02:00", "04:00", "2026-03-29", "01:00", "02:00"),
        # Wall-clock end: 02:00 CEST → 04:00 CET is three real hours.
        ("Europe/Warsaw", "02:00", "04:00", "2026-10-25", "00:00", "03:00"),
        # Ambiguous start: its first occurrence (02:30 CEST).
        ("Europe/Warsaw", "02:30", "03:30", "2026-10-25", "00:30", "02:30"),
        # Ordinary Sundays in winter and in summer.
        ("Europe/Warsaw", "02:00", "04:00", "2026-03-22", "01:00", "03:00"),
        ("Europe/Warsaw", "02:00", "04:00", "2026-04-05", "00:00", "02:00"),
        ("America/New_York", "02:00", "04:00", "2026-03-08", "07:00", "08:00"),
        ("America/New_York", "02:15", "02:45", "2026-03-08", None, None),  # wholly in the gap
        ("America/New_York", "01:30", "03:00", "2026-11-01", "05:30", "08:00"),
        ("America/New_York", "00:00", "04:00", "2026-11-01", "04:00", "09:00"),
    ],
)
def test_weekly_dst(
    zone: str, start: str, end: str, sunday: str, utc_start: str | None, utc_end: str | None
) -> None:
    window = weekly(["sun"], start, end, zone)
    day = datetime.fromisoformat(f"{sunday}T00:00+00:00")
    expected = (
        [
            (
                datetime.fromisoformat(f"{sunday}T{utc_start}+00:00"),
                datetime.fromisoformat(f"{sunday}T{utc_end}+00:00"),
            )
        ]
        if utc_start
        else []
    )
    assert window.occurrences(day, day + timedelta(days=1)) == expected


@pytest.mark.parametrize(
    ("cron", "minutes", "zone", "day", "start"),
    [
        ("30 2 * * *", 60, "Europe/Warsaw", utc(2026, 3, 28), utc(2026, 3, 28, 1, 30)),
        ("30 2 * * *", 60, "Europe/Warsaw", utc(2026, 3, 29), utc(2026, 3, 29, 1)),  # in the gap
        ("30 2 * * *", 60, "Europe/Warsaw", utc(2026, 3, 30), utc(2026, 3, 30, 0, 30)),
        ("30 2 * * *", 60, "Europe/Warsaw", utc(2026, 10, 25), utc(2026, 10, 25, 0, 30)),  # fold=0
        ("0 1 * * sun", 120, "America/New_York", utc(2026, 11, 1), utc(2026, 11, 1, 5)),
        ("0 2 * * sun", 90, "America/New_York", utc(2026, 3, 8), utc(2026, 3, 8, 7)),
    ],
)
def test_cron_dst(cron: str, minutes: int, zone: str, day: datetime, start: datetime) -> None:
    window = window_from_dict({"cron": cron, "duration_minutes": minutes, "timezone": zone})
    # The duration is real elapsed time, whatever the clocks do meanwhile.
    assert window.occurrences(day, day + timedelta(days=1)) == [
        (start, start + timedelta(minutes=minutes))
    ]


def test_cron_current_next_and_describe() -> None:
    window = window_from_dict(
        {"cron": "0 2 * * sun", "duration_minutes": 120, "timezone": "Europe/Warsaw"}
    )
    assert window.current(utc(2026, 11, 22, 2)) == (utc(2026, 11, 22, 1), utc(2026, 11, 22, 3))
    assert window.current(utc(2026, 11, 22, 3)) is None
    assert window.next_start(utc(2026, 11, 22, 2)) == utc(2026, 11, 29, 1)
    assert window.next_start(utc(2026, 11, 20)) == utc(2026, 11, 22, 1)
    assert window.describe() == "cron '0 2 * * sun' for 120 min Europe/Warsaw"
    daily = window_from_dict({"cron": "0 0 * * *", "duration_minutes": 60})
    assert len(daily.occurrences(utc(2026, 1, 1), utc(2026, 1, 31))) == 30


# --- combining windows ------------------------------------------------------------


def test_active_window_picks_the_active_one() -> None:
    night = weekly(["mon"], "02:00", "04:00")
    assert active_window([ONE_OFF, night], utc(2026, 11, 23, 3)) is night
    assert active_window([ONE_OFF, night], utc(2026, 11, 23, 9, 30)) is ONE_OFF
    assert active_window([ONE_OFF, night], utc(2026, 11, 23, 12)) is None


@pytest.mark.parametrize(
    ("start", "end", "seconds"),
    [
        (utc(2026, 5, 4, 9), utc(2026, 5, 4, 14), 3 * 3600),  # 10–13, overlap counted once
        (utc(2026, 5, 4, 11, 30), utc(2026, 5, 4, 12, 30), 3600),
        (utc(2026, 5, 4, 13), utc(2026, 5, 4, 20), 0),
        (utc(2026, 5, 4, 14), utc(2026, 5, 4, 9), 0),  # empty range
    ],
)
def test_overlap_seconds_counts_the_union(start: datetime, end: datetime, seconds: float) -> None:
    first = once("2026-05-04T10:00:00Z", "2026-05-04T12:00:00Z")
    second = weekly(["mon"], "11:00", "13:00")  # 4 May 2026 is a Monday
    assert overlap_seconds([first, second], start, end) == seconds


def test_shift_past_windows() -> None:
    window = once("2026-05-04T10:00:00Z", "2026-05-04T12:00:00Z")
    three_hours = 3 * 3600
    start = utc(2026, 5, 4, 9)
    assert shift_past_windows([], start, three_hours) == utc(2026, 5, 4, 12)
    assert shift_past_windows([window], start, three_hours) == utc(2026, 5, 4, 14)
    assert shift_past_windows([window], utc(2026, 5, 4, 11), three_hours) == utc(2026, 5, 4, 15)
    # Ending exactly where a window begins: the window does not delay it.
    assert shift_past_windows([window], utc(2026, 5, 4, 7), three_hours) == utc(2026, 5, 4, 10)


def test_shift_past_windows_across_many_windows_and_zones() -> None:
    nightly = weekly(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "02:00", "04:00")
    # Two days of SLA starting just after a window cross two more (4 h) → 52 h.
    start = utc(2026, 5, 4, 4)
    assert shift_past_windows([nightly], start, 48 * 3600) == start + timedelta(hours=52)
    # Start given in a zone across DST: the SLA is real elapsed time.
    warsaw = datetime(2026, 3, 28, 12, tzinfo=ZoneInfo("Europe/Warsaw"))
    assert shift_past_windows([], warsaw, 86_400) == utc(2026, 3, 29, 11)  # 23 h on the wall


def test_shift_past_windows_gives_up_on_endless_maintenance() -> None:
    forever = once("2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z")
    start = utc(2026, 5, 4)
    began = time.perf_counter()
    assert shift_past_windows([forever], start, 60) == start + timedelta(seconds=60)
    assert time.perf_counter() - began < 1


# --- validation ------------------------------------------------------------------

WEEKLY = {"days": ["mon"], "start": "02:00", "end": "04:00"}


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({"weekly": {**WEEKLY, "days": ["mon", "Funday"]}}, ("weekly", "days", 1)),
        ({"weekly": {**WEEKLY, "days": []}}, ("weekly", "days")),
        ({"weekly": {**WEEKLY, "start": "25:00"}}, ("weekly", "start")),
        ({"weekly": {**WEEKLY, "end": 1380}}, ("weekly", "end")),  # YAML's unquoted 23:00
        ({"weekly": WEEKLY, "timezone": "Mars/Olympus"}, ("timezone",)),
        ({"cron": "0 2 * *", "duration_minutes": 60}, ("cron",)),
        ({"cron": "61 2 * * *", "duration_minutes": 60}, ("cron",)),
        ({"cron": "0 0 30 2 *", "duration_minutes": 60}, ("cron",)),  # never fires
        ({"cron": "0 2 * * *"}, ("duration_minutes",)),
        ({"cron": "0 2 * * *", "duration_minutes": 0}, ("duration_minutes",)),
        ({"cron": "0 2 * * *", "duration_minutes": 10_081}, ("duration_minutes",)),
        ({"weekly": WEEKLY, "duration_minutes": 60}, ("duration_minutes",)),
        ({"weekly": WEEKLY, "cron": "0 2 * * *", "duration_minutes": 60}, ("cron",)),
        (
            {"starts_at": "2026-11-23T10:00:00+01:00", "ends_at": "2026-11-23T09:00:00+01:00"},
            ("ends_at",),
        ),
        ({"starts_at": "2026-11-23T10:00:00", "ends_at": "2026-11-23T12:00:00Z"}, ("starts_at",)),
        ({"starts_at": "2026-11-23T10:00:00+01:00"}, ("ends_at",)),
        ({"ends_at": "2026-11-23T10:00:00+01:00"}, ("ends_at",)),
        ({"weekly": WEEKLY, "weekdays": ["mon"]}, ("weekdays",)),
        ({"weekly": {**WEEKLY, "every": 2}}, ("weekly", "every")),
        ({"weekly": WEEKLY, "id": "Not A Slug"}, ("id",)),
        ({"reason": "nothing else"}, ()),
    ],
)
def test_invalid_specs_name_the_field(data: dict[str, Any], loc: tuple[str | int, ...]) -> None:
    with pytest.raises(ValidationError) as caught:
        MaintenanceSpec.model_validate(data)
    assert [error["loc"] for error in caught.value.errors()] == [loc]


def test_invalid_timezone_reports_once_even_with_naive_datetimes() -> None:
    data = {"starts_at": "2026-11-23T10:00", "ends_at": "2026-11-23T12:00", "timezone": "No/Zone"}
    with pytest.raises(ValidationError) as caught:
        window_from_dict(data)
    assert [error["loc"] for error in caught.value.errors()] == [("timezone",)]
    assert "unknown time zone 'No/Zone'" in str(caught.value)


def test_spec_round_trip_keeps_id_and_reason() -> None:
    spec = MaintenanceSpec.model_validate(
        {"id": "sunday-backup", "cron": "0 2 * * sun", "duration_minutes": 30, "reason": "backup"}
    )
    window = window_from_spec(spec)
    assert (window.id, window.reason, window.zone.key) == ("sunday-backup", "backup", "UTC")


@pytest.mark.parametrize(
    ("extra", "message"),
    [(":", "window: unknown field ':'"), ("", "window: unknown field ''")],
)
def test_an_unknown_field_is_named_quoted_whatever_its_name(extra: str, message: str) -> None:
    """A fuzzer's field called ":" once made the message ":: Extra inputs are not permitted"."""
    data = {"weekly": {"days": ["sun"], "start": "02:00", "end": "04:00"}, extra: None}
    with pytest.raises(ValidationError) as caught:
        MaintenanceSpec.model_validate(data)
    assert _problems(caught.value) == message
