"""The console's form for recurring maintenance windows: weekly (days, from, to) or
cron (an expression and a duration), in a named time zone, with a reason, turned
into the `maintenance:` entry `integrations.maintenance` stores — the document the
integrations file, the CLI and the API use (`integrations.windows`).

Each field is checked here by the rules of `integrations.windows` and refused in
the viewer's language under its input; the domain checks again when storing,
and its own refusal (which this form should never meet) is shown as written.
A recurring window's times are wall-clock times in its zone, so the zone is a
field (the viewer's by default), not taken silently from whoever edits it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from integrations.cron import cron_problem
from integrations.windows import DAYS, wall_time, zone_of
from intmon.web.i18n import Translator

KINDS = ("weekly", "cron")
TEXT_FIELDS = ("kind", "start", "end", "cron", "duration_minutes", "timezone", "reason")
REASON_MAX = 500
CRON_MAX = 100
ZONE_MAX = 64
DURATION_MAX = 10_080  # a week, as integrations.windows allows


@dataclass(frozen=True, slots=True)
class RecurringForm:
    """What was typed (to fill the form again after a refusal): the kind, the ticked
    days, and the text of the other fields."""

    kind: str
    days: tuple[str, ...] = ()
    texts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, form: dict[str, str]) -> RecurringForm:
        days = tuple(day for day in DAYS if form.get(f"day_{day}"))
        texts = {name: form.get(name, "").strip() for name in TEXT_FIELDS}
        return cls(texts["kind"], days, texts)

    @classmethod
    def blank(cls, zone: str) -> RecurringForm:
        texts = dict.fromkeys(TEXT_FIELDS, "")
        return cls("weekly", (), {**texts, "kind": "weekly", "timezone": zone})

    def values(self) -> dict[str, Any]:
        return {**self.texts, "days": list(self.days)}


def _clean_text(name: str, text: str, limit: int, t: Translator, errors: dict[str, str]) -> bool:
    if "\x00" in text:
        errors[name] = t("invalid.nul")
    elif len(text) > limit:
        errors[name] = t("invalid.too_long", max=limit)
    return name not in errors


def _time(name: str, text: str, t: Translator, errors: dict[str, str]) -> str | None:
    if not text:
        errors[name] = t("invalid.missing")
        return None
    try:
        return wall_time(text).strftime("%H:%M")
    except ValueError:
        errors[name] = t("invalid.time_of_day")
        return None


def _cron(text: str, t: Translator, errors: dict[str, str]) -> str | None:
    if not text:
        errors["cron"] = t("invalid.missing")
        return None
    if not _clean_text("cron", text, CRON_MAX, t, errors):
        return None
    problem = cron_problem(text, aliases=True)  # as integrations.windows judges it
    if problem is not None:
        errors["cron"] = t("invalid.cron" if problem == "malformed" else "invalid.cron_never")
        return None
    return text


def _duration(text: str, t: Translator, errors: dict[str, str]) -> int | None:
    if not text:
        errors["duration_minutes"] = t("invalid.missing")
        return None
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= DURATION_MAX:
        errors["duration_minutes"] = t("invalid.duration", max=DURATION_MAX)
        return None
    return int(text)


def _zone(text: str, t: Translator, errors: dict[str, str]) -> str | None:
    if not text:
        errors["timezone"] = t("invalid.missing")
        return None
    if not _clean_text("timezone", text, ZONE_MAX, t, errors):
        return None
    try:
        return zone_of(text).key
    except ValueError:
        errors["timezone"] = t("invalid.timezone")
        return None


def recurring_document(
    typed: RecurringForm, t: Translator
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The `maintenance:` entry, or the refusals by field (in `t`'s language)."""
    errors: dict[str, str] = {}
    texts = typed.texts
    zone = _zone(texts["timezone"], t, errors)
    _clean_text("reason", texts["reason"], REASON_MAX, t, errors)
    document: dict[str, Any] = {"timezone": zone, "reason": texts["reason"]}
    if typed.kind == "weekly":
        if not typed.days:
            errors["days"] = t("invalid.days")
        start = _time("start", texts["start"], t, errors)
        end = _time("end", texts["end"], t, errors)
        document["weekly"] = {"days": list(typed.days), "start": start, "end": end}
    elif typed.kind == "cron":
        document["cron"] = _cron(texts["cron"], t, errors)
        document["duration_minutes"] = _duration(texts["duration_minutes"], t, errors)
    else:
        errors["kind"] = t("invalid.kind")
    return (None, errors) if errors else (document, {})


def typed_of(spec: dict[str, Any]) -> RecurringForm:
    """A stored recurring window's document as the edit form shows it."""
    texts = dict.fromkeys(TEXT_FIELDS, "")
    texts["timezone"] = str(spec.get("timezone") or "UTC")
    texts["reason"] = str(spec.get("reason") or "")
    weekly = spec.get("weekly")
    if weekly:
        texts |= {"kind": "weekly", "start": weekly["start"], "end": weekly["end"]}
        return RecurringForm("weekly", tuple(d for d in DAYS if d in weekly["days"]), texts)
    texts |= {
        "kind": "cron",
        "cron": str(spec.get("cron", "")),
        "duration_minutes": str(spec.get("duration_minutes", "")),
    }
    return RecurringForm("cron", (), texts)


def schedule_values(spec: dict[str, Any]) -> dict[str, Any]:
    """What the audit trail keeps of a recurring window to say it in any language
    (`audit.message`): its kind as the message's variant, and its parts."""
    zone = str(spec.get("timezone") or "UTC")
    weekly = spec.get("weekly")
    if weekly:
        days = ",".join(weekly["days"])
        return {
            "variant": "weekly",
            "days": days,
            "start": weekly["start"],
            "end": weekly["end"],
            "zone": zone,
        }
    return {
        "variant": "cron",
        "cron": str(spec.get("cron", "")),
        "minutes": int(spec.get("duration_minutes", 0)),
        "zone": zone,
    }


def schedule_words(spec: dict[str, Any], t: Translator) -> str:
    """ "Every Mon, Tue, 02:00–04:00 (Europe/Moscow)" in the viewer's language."""
    values = schedule_values(spec)
    if values["variant"] == "weekly":
        values["days"] = day_words(values["days"], t)
    return t(f"schedule.{values.pop('variant')}", **values)


def day_words(days: str, t: Translator) -> str:
    """ "mon,tue" → "Mon, Tue" / "пн, вт"."""
    return ", ".join(t.word("day", day) for day in days.split(",") if day)
