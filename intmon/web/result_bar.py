"""A result bar's marks as HTML, built in one pass.

The board shows 100 integrations a page with 50 marks each: 5,000 marks, each
with a tooltip (when, to the second, in the viewer's zone; the outcome in words;
the duration; the HTTP status; the check). Written as a Jinja loop calling a
filter per mark, they were a third of the board's CPU: a macro call, a zone
conversion, an `strftime` and three translations per mark. Here the words are
looked up once per distinct value, the zone's offset once per quarter hour, and
the marks joined as one string.

Every value from outside (the check's name, translations) is escaped here, as
the template's autoescape would: the result is `Markup` only once escaped.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from integrations.history import ResultMark
from intmon.web import i18n

# Zone offsets change (DST, a zone's new rules) only at quarter hours of UTC: every
# offset in use is a whole number of 15 minutes, and transitions happen at a whole
# hour or half hour of local time. One conversion per quarter hour is exact.
_QUARTER_HOUR_S = 900


class _LocalTime:
    """Times in one zone, as the tooltips write them: "%H:%M:%S %Z" today, with the
    date before otherwise."""

    def __init__(self, zone: tzinfo, now: datetime) -> None:
        self._zone = zone
        self._today = now.astimezone(zone).date()
        self._offsets: dict[int, tuple[timedelta, str]] = {}

    def text(self, moment: datetime) -> str:
        quarter = int(moment.timestamp()) // _QUARTER_HOUR_S
        known = self._offsets.get(quarter)
        if known is None:
            local = moment.astimezone(self._zone)
            known = self._offsets[quarter] = (
                local.utcoffset() or timedelta(),
                local.tzname() or "",
            )
        offset, name = known
        wall = moment + offset  # its fields are the local wall clock's
        clock = f"{wall.hour:02d}:{wall.minute:02d}:{wall.second:02d} {name}"
        if wall.date() == self._today:
            return clock
        return f"{wall.year:04d}-{wall.month:02d}-{wall.day:02d} {clock}"


class _Words:
    """The translated pieces of tooltips, each looked up once per render."""

    def __init__(self, t: i18n.Translator) -> None:
        self._t = t
        self._outcomes: dict[str, str] = {}
        self._millis: dict[int, str] = {}
        self._seconds: dict[str, str] = {}
        self.maintenance = t("state.maintenance")
        self.inhibited = t("bar.inhibited")

    def outcome(self, value: str) -> str:
        found = self._outcomes.get(value)
        if found is None:
            found = self._outcomes[value] = self._t.word("outcome", value)
        return found

    def duration(self, seconds: float) -> str:
        """ "250 ms" under a second, "1.5 s" above (as `render.duration`)."""
        if seconds < 1:
            millis = round(seconds * 1000)
            found = self._millis.get(millis)
            if found is None:
                found = self._millis[millis] = self._t("unit.ms", n=millis)
            return found
        shown = f"{round(seconds, 1):g}"
        found = self._seconds.get(shown)
        if found is None:
            found = self._seconds[shown] = self._t("time.seconds", n=shown)
        return found


def mark_title(mark: ResultMark, times: _LocalTime, words: _Words) -> str:
    """A mark's tooltip: when, the outcome in words, duration, HTTP status, check."""
    parts = [times.text(mark.started_at), words.outcome(mark.outcome.value)]
    parts.append(words.duration(mark.duration_s))
    if mark.http_status:
        parts.append(f"HTTP {mark.http_status}")
    parts.append(mark.check_name)
    if mark.maintenance:
        parts.append(words.maintenance)
    elif mark.inhibited:
        parts.append(words.inhibited)
    return " · ".join(parts)


def marks_html(
    marks: Iterable[ResultMark], zone: tzinfo, now: datetime, t: i18n.Translator
) -> Markup:
    """The marks of one bar, oldest first: a span each, coloured by outcome, a mark in
    maintenance or held back by a platform outage pale (it counts neither way)."""
    times, words = _LocalTime(zone, now), _Words(t)
    spans = []
    for mark in marks:
        paused = " paused" if mark.maintenance or mark.inhibited else ""
        spans.append(
            f'<span class="mark o-{escape(mark.outcome.value)}{paused}" '
            f'title="{escape(mark_title(mark, times, words))}"></span>'
        )
    return Markup("".join(spans))


@pass_context
def bar_marks(context: Context, marks: Iterable[ResultMark]) -> Markup:
    """The `bar_marks` filter: `marks_html` in the page's zone and language."""
    return marks_html(marks, context["zone"], context["now"], context["t"])
