"""The pictures drawn on the server: the latency chart's geometry and the uptime badge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integrations.uptime import LatencyPoint
from intmon.web.charts import (
    badge_colour,
    latency_chart,
    nice_ceiling,
    percent_text,
    uptime_badge,
    uptime_grade,
)

START = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
END = START + timedelta(hours=24)


def point(hour: int, p50: float, p95: float, count: int = 60) -> LatencyPoint:
    return LatencyPoint(START + timedelta(hours=hour), count, p50, p95, p95)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.07, 0.1), (0.1, 0.1), (0.11, 0.2), (0.21, 0.25), (0.3, 0.5), (0.6, 1.0), (3.2, 5.0)],
)
def test_nice_ceiling(value: float, expected: float) -> None:
    assert nice_ceiling(value) == pytest.approx(expected)


def test_each_hour_is_drawn_at_its_middle_scaled_to_a_round_top() -> None:
    chart = latency_chart([point(0, 0.1, 0.3), point(1, 0.2, 0.4)], START, END, width=724)
    # Plot area: x from 64 to 724 - 16 = 708 (644 px for 24 h), y from 12 to 220 - 28 = 192.
    # Rounded to a tenth of a pixel, which keeps the page short.
    assert [d.x for d in chart.dots] == pytest.approx([64 + 644 / 48, 64 + 644 / 16], abs=0.05)
    # Highest p95 0.4 s over 4 intervals: 0.1 s a step, the top is 0.4 s.
    assert [t.value for t in chart.y_ticks] == pytest.approx([0, 0.1, 0.2, 0.3, 0.4])
    assert [t.position for t in chart.y_ticks] == [192, 147, 102, 57, 12]
    assert chart.dots[1].y95 == 12 and chart.dots[0].y50 == 147
    assert chart.p50.startswith("M77.4 147 L") and chart.p50.count("M") == 1


def test_an_hour_without_results_breaks_the_lines() -> None:
    chart = latency_chart(
        [point(0, 0.1, 0.2), point(1, 0.1, 0.2), point(5, 0.1, 0.2), point(6, 0.1, 0.2)],
        START,
        END,
    )
    assert chart.p50.count("M") == 2 and chart.p50.count("L") == 2
    assert chart.p95.count("M") == 2


def test_points_outside_the_period_or_without_numbers_are_left_out() -> None:
    outside = LatencyPoint(START - timedelta(hours=1), 5, 9.0, 9.0, 9.0)
    empty = LatencyPoint(START + timedelta(hours=3), 0, None, None, None)
    chart = latency_chart([outside, empty, point(2, 0.05, 0.08)], START, END)
    assert [d.point.hour for d in chart.dots] == [START + timedelta(hours=2)]
    assert chart.y_ticks[-1].value == pytest.approx(0.08)  # 9 s was not in the period


def test_nothing_to_draw() -> None:
    chart = latency_chart([], START, END)
    assert chart.empty and chart.p50 == "" and chart.dots == []
    with pytest.raises(ValueError, match="end"):
        latency_chart([], END, START)


def test_x_ticks_fall_on_whole_hours_at_most_eight() -> None:
    day = latency_chart([], START + timedelta(minutes=30), END + timedelta(minutes=30))
    hours = [t.value.hour for t in day.x_ticks if isinstance(t.value, datetime)]
    assert hours == [3, 6, 9, 12, 15, 18, 21, 0]  # 3-hourly, aligned, whole hours inside
    week = latency_chart([], START, START + timedelta(days=7))
    assert len(week.x_ticks) == 8 and {t.value.hour for t in week.x_ticks} == {0}  # type: ignore[union-attr]
    assert week.x_ticks[0].position == week.left and week.x_ticks[-1].position == week.plot_right


@pytest.mark.parametrize(
    ("ratio", "text", "grade"),
    [
        (1.0, "100%", "good"),
        (0.99999, "99.99%", "good"),  # truncated: never 100 % while something failed
        (0.9990, "99.90%", "good"),
        (0.995, "99.50%", "fair"),
        (0.97, "97%", "warn"),
        (0.0, "0%", "poor"),
    ],
)
def test_uptime_text_and_grade(ratio: float, text: str, grade: str) -> None:
    assert percent_text(ratio) == text
    assert uptime_grade(ratio) == grade


def test_the_badge_is_sized_by_its_words_and_coloured_by_its_value() -> None:
    good = uptime_badge("uptime 24h", 1.0, "no data")
    assert (good.value, good.colour) == ("100%", "#1e7f4f")
    assert good.label_width == 10 * 7 + 12 and good.width == good.label_width + 4 * 7 + 12
    assert uptime_badge("uptime 24h", 0.5, "no data").colour == "#c0392b"
    missing = uptime_badge("uptime 24h", None, "no data")
    assert missing.value == "no data" and missing.colour == badge_colour(None)
