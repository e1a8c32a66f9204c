"""Pictures drawn on the server: the latency chart of an integration's page and the
uptime badge, as geometry that a template turns into inline SVG.

Pure functions of their data: no JavaScript library, no CDN, nothing to load.
They return numbers and path strings; every word (axis labels in the viewer's
zone and language, tooltips) is written by the template, where it is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from integrations.uptime import LatencyPoint

HOUR = timedelta(hours=1)
# Steps between x-axis ticks, the first that gives at most MAX_X_TICKS ticks.
X_STEPS_H = (1, 2, 3, 6, 12, 24, 48, 168)
MAX_X_TICKS = 8
Y_INTERVALS = 4


@dataclass(frozen=True, slots=True)
class Tick:
    position: float  # x or y in the chart's coordinates
    value: float | datetime  # seconds (y axis) or the hour (x axis)


@dataclass(frozen=True, slots=True)
class Dot:
    """One hour with results: where its p50 and p95 are drawn, and its numbers."""

    x: float
    y50: float
    y95: float
    point: LatencyPoint


@dataclass(frozen=True, slots=True)
class LatencyChart:
    width: int
    height: int
    left: int  # the plot area: x from left to width - right, y from top to height - bottom
    top: int
    right: int
    bottom: int
    p50: str  # SVG path data; an hour without results breaks the line
    p95: str
    dots: list[Dot]
    x_ticks: list[Tick]
    y_ticks: list[Tick]

    @property
    def empty(self) -> bool:
        return not self.dots

    @property
    def plot_right(self) -> int:
        return self.width - self.right

    @property
    def plot_bottom(self) -> int:
        return self.height - self.bottom


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k at or above `value` (> 0)."""
    exponent = math.floor(math.log10(value))
    for mantissa in (1, 2, 2.5, 5, 10):
        candidate = mantissa * 10.0**exponent
        if candidate >= value * (1 - 1e-9):
            return candidate
    raise AssertionError("unreachable: 10 × 10^k is always above value")


def latency_chart(
    points: Sequence[LatencyPoint],
    start: datetime,
    end: datetime,
    *,
    width: int = 720,
    height: int = 220,
) -> LatencyChart:
    """p50 and p95 per hour between `start` and `end` (the hours of `points` outside
    are left out). Each hour is drawn at its middle; an hour without results breaks
    both lines, so a gap looks like a gap."""
    left, top, right, bottom = 64, 12, 16, 28
    plot_width, plot_height = width - left - right, height - top - bottom
    span_s = (end - start).total_seconds()
    if span_s <= 0:
        raise ValueError(f"end: must be after start ({start.isoformat()})")
    shown = [p for p in points if start <= p.hour < end and p.p50_s is not None]
    highest = max((p.p95_s or p.p50_s or 0.0 for p in shown), default=0.0)
    step_s = nice_ceiling(highest / Y_INTERVALS) if highest > 0 else 0.25
    top_s = step_s * Y_INTERVALS

    def x_of(moment: datetime) -> float:
        return round(left + plot_width * (moment - start).total_seconds() / span_s, 1)

    def y_of(seconds: float) -> float:
        return round(top + plot_height * (1 - seconds / top_s), 1)

    dots = [
        Dot(x_of(p.hour + HOUR / 2), y_of(p.p50_s or 0.0), y_of(p.p95_s or 0.0), p) for p in shown
    ]
    return LatencyChart(
        width=width,
        height=height,
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        p50=_path([(d.x, d.y50, d.point.hour) for d in dots]),
        p95=_path([(d.x, d.y95, d.point.hour) for d in dots]),
        dots=dots,
        x_ticks=_x_ticks(start, end, x_of),
        y_ticks=[Tick(y_of(step_s * i), step_s * i) for i in range(Y_INTERVALS + 1)],
    )


def _path(vertices: Sequence[tuple[float, float, datetime]]) -> str:
    """`M x y L x y …`, starting a new piece after each missing hour."""
    parts: list[str] = []
    previous: datetime | None = None
    for x, y, hour in vertices:
        joined = previous is not None and hour - previous == HOUR
        parts.append(f"{'L' if joined else 'M'}{x:g} {y:g}")
        previous = hour
    return " ".join(parts)


def _x_ticks(start: datetime, end: datetime, x_of: Callable[[datetime], float]) -> list[Tick]:
    """Ticks on whole hours, every 1, 2, 3, 6, 12, 24… hours: at most MAX_X_TICKS."""
    hours = (end - start).total_seconds() / 3600
    step = next((s for s in X_STEPS_H if hours / s <= MAX_X_TICKS), X_STEPS_H[-1])
    first = start.replace(minute=0, second=0, microsecond=0)
    if first < start:
        first += HOUR
    # Aligned to the step (6 h ticks at 00, 06, 12, 18 UTC), so they do not drift.
    while first.hour % min(step, 24):
        first += HOUR
    ticks = []
    moment = first
    while moment <= end:
        ticks.append(Tick(x_of(moment), moment))
        moment += timedelta(hours=step)
    return ticks


# --- the uptime badge -------------------------------------------------------------------

# (lowest uptime in %, grade, colour): the first row the value reaches gives both;
# the console colours uptimes by the same grades (`uptime-<grade>` in console.css).
GRADES = (
    (99.9, "good", "#1e7f4f"),
    (99.0, "fair", "#4c9a2a"),
    (95.0, "warn", "#a66f00"),
    (0.0, "poor", "#c0392b"),
)
NO_DATA_COLOUR = "#6b7385"
CHAR_WIDTH = 7  # average width of a character at the badge's 11 px sans-serif
PADDING = 6


@dataclass(frozen=True, slots=True)
class Badge:
    label: str
    value: str
    colour: str
    label_width: int
    value_width: int

    @property
    def width(self) -> int:
        return self.label_width + self.value_width


def _grade(ratio: float) -> tuple[float, str, str]:
    return next(row for row in GRADES if ratio * 100 >= row[0])


def uptime_grade(ratio: float) -> str:
    """good (≥ 99.9 %), fair (≥ 99 %), warn (≥ 95 %) or poor."""
    return _grade(ratio)[1]


def badge_colour(ratio: float | None) -> str:
    return NO_DATA_COLOUR if ratio is None else _grade(ratio)[2]


def percent_text(ratio: float) -> str:
    """99.95 %, but never 100 % while something failed: truncated, not rounded."""
    percent = math.floor(ratio * 10_000) / 100
    return f"{percent:.2f}%".replace(".00%", "%")


def uptime_badge(label: str, ratio: float | None, no_data: str) -> Badge:
    """A two-part badge: `label` on grey, the uptime on a colour that says how good it is."""
    value = no_data if ratio is None else percent_text(ratio)
    return Badge(
        label=label,
        value=value,
        colour=badge_colour(ratio),
        label_width=len(label) * CHAR_WIDTH + 2 * PADDING,
        value_width=len(value) * CHAR_WIDTH + 2 * PADDING,
    )
