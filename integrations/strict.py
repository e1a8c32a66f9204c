"""What every configuration model shares: the strict base and the validators
more than one schema module needs (kept apart so that schema modules can import
them without importing each other)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict

SLUG = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


STATUS_CLASS = re.compile(r"^[1-5]xx$")


def status_patterns(values: list[str | int]) -> list[str | int]:
    """HTTP statuses as numbers (200) or classes ("2xx"); ValueError names a bad one."""
    for value in values:
        if isinstance(value, int) and not 100 <= value <= 599:
            raise ValueError(f"{value} is not an HTTP status (100-599)")
        if isinstance(value, str) and not STATUS_CLASS.match(value):
            raise ValueError(f"{value!r} is neither a status number nor a class like '2xx'")
    if not values:
        raise ValueError("list at least one allowed status")
    return values


def compile_regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None


# A day inside datetime's range on each side: code that adds a day or an offset
# to a stored moment must not overflow (year 0 or 10000 is an OverflowError).
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def storable_moment(value: datetime) -> datetime:
    """A moment whose UTC time lies within EARLIEST..LATEST; ValueError otherwise
    (`0001-01-01T00:00:00+14:00` is in year 0 in UTC). A naive one is judged as UTC."""
    try:
        in_utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not EARLIEST <= in_utc <= LATEST:
        raise ValueError(
            "out of range: the UTC time must be between "
            f"{EARLIEST.date().isoformat()} and {LATEST.date().isoformat()}"
        )
    return value


StorableDatetime = Annotated[datetime, AfterValidator(storable_moment)]
StorableAwareDatetime = Annotated[AwareDatetime, AfterValidator(storable_moment)]
