"""What every configuration model shares: the strict base and the validators
more than one schema module needs (kept apart so that schema modules can import
them without importing each other)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

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
