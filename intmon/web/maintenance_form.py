"""The console's maintenance-window form: a one-off window from/to in the viewer's
time zone, with a reason, turned into the `maintenance:` entry that
`integrations.maintenance` stores (the same document the CLI and the API send).

The browser sends wall times (`<input type="datetime-local">`: 2026-12-07T14:30);
they are stored as such with the viewer's zone, so "02:00–04:00 Moscow" stays
that across a change of the clocks. Whatever is wrong is said per field, in the
viewer's language, before the domain sees it; the domain's own refusal (which
this form should never meet) is shown under the form, as it wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from integrations.windows import MaintenanceWindow, from_wall
from intmon.web.i18n import Translator

FIELDS = ("starts_at", "ends_at", "reason")
REASON_MAX = 500
DATETIME_MAX = 40  # characters: more is no date a browser sends
WALL = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> shows and sends


@dataclass(frozen=True, slots=True)
class WindowForm:
    """What was typed, kept to fill the form again after a refusal."""

    starts_at: str
    ends_at: str
    reason: str

    @classmethod
    def of(cls, form: dict[str, str]) -> WindowForm:
        return cls(*(form.get(name, "").strip() for name in FIELDS))

    def values(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FIELDS}


def _moment(
    name: str, text: str, zone: ZoneInfo, t: Translator, errors: dict[str, str]
) -> datetime | None:
    """The wall time typed in `name` (naive) and its UTC instant, or an error under it."""
    if not text:
        errors[name] = t("invalid.missing")
        return None
    if "\x00" in text or len(text) > DATETIME_MAX:
        errors[name] = t("invalid.datetime")
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        errors[name] = t("invalid.datetime")
        return None
    if moment.tzinfo is not None:  # a browser sends none; someone typing by hand might
        errors[name] = t("invalid.datetime")
        return None
    if not 2000 <= moment.year <= 9998:
        errors[name] = t("invalid.datetime")
        return None
    return moment.replace(second=0, microsecond=0)


def window_document(
    typed: WindowForm, zone: ZoneInfo, now: datetime, t: Translator
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The `maintenance:` entry, or the refusals by field (in `t`'s language)."""
    errors: dict[str, str] = {}
    starts = _moment("starts_at", typed.starts_at, zone, t, errors)
    ends = _moment("ends_at", typed.ends_at, zone, t, errors)
    if starts is not None and ends is not None:
        if from_wall(ends, zone) <= from_wall(starts, zone):
            errors["ends_at"] = t("invalid.window_order")
        elif from_wall(ends, zone) <= now:
            errors["ends_at"] = t("invalid.window_past")
    if "\x00" in typed.reason:
        errors["reason"] = t("invalid.nul")
    elif len(typed.reason) > REASON_MAX:
        errors["reason"] = t("invalid.too_long", max=REASON_MAX)
    if errors or starts is None or ends is None:
        return None, errors
    return {
        "starts_at": starts.isoformat(timespec="minutes"),
        "ends_at": ends.isoformat(timespec="minutes"),
        "timezone": zone.key,
        "reason": typed.reason,
    }, {}


def typed_of(window: MaintenanceWindow, zone: ZoneInfo) -> WindowForm:
    """A stored one-off window as the edit form shows it: wall times in the viewer's
    zone (the zone the form's times are read in), its reason."""
    assert window.starts_at is not None and window.ends_at is not None
    return WindowForm(
        window.starts_at.astimezone(zone).strftime(WALL),
        window.ends_at.astimezone(zone).strftime(WALL),
        window.reason,
    )
