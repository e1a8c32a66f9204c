"""Periods people type: a moment (ISO date or date-time, UTC when no zone is given)
and a calendar month (`2026-11`). A bad value raises ValueError naming the field,
so the CLI and the API can say which parameter is wrong."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
# Moments outside these are refused: the bucket arithmetic (a day either side, a
# 30-day default span) must stay inside what a datetime can hold.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def parse_moment(value: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{field}: not an ISO date or date-time: {value!r}") from None
    try:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        moment = EARLIEST if moment.year < 2000 else LATEST
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"{field}: must be between 1970 and 9000: {value!r}")
    return moment


def period(
    start: str | None, end: str | None, now: datetime, default: timedelta
) -> tuple[datetime, datetime]:
    """[start, end) from optional `from`/`to` texts: default the `default` up to now."""
    until = parse_moment(end, "to") if end else now
    since = parse_moment(start, "from") if start else until - default
    if since >= until:
        raise ValueError(f"from: must be before to ({since.isoformat()} ≥ {until.isoformat()})")
    return since, until


def month_span(value: str, field: str = "month") -> tuple[datetime, datetime]:
    """`2026-11` → [2026-11-01, 2026-12-01) in UTC."""
    found = MONTH.match(value)
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise ValueError(f"{field}: a month as YYYY-MM, e.g. 2026-11; not {value!r}")
    year, month = int(found.group(1)), int(found.group(2))
    if not EARLIEST.year <= year < LATEST.year:
        raise ValueError(f"{field}: must be between 1970 and 9000: {value!r}")
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end
