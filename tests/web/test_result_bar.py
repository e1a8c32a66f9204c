"""The result bar's marks, built in one pass (`intmon.web.result_bar`): the same
tooltips a mark-by-mark `astimezone` and `strftime` give, in any zone, across DST
changes, and every value escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from core.vocabulary.outcomes import Outcome
from integrations.history import ResultMark
from intmon.web import i18n
from intmon.web.result_bar import _LocalTime, marks_html

# Zones with DST, half- and quarter-hour offsets, a 30-minute DST shift (Lord Howe),
# and a zone that changed its rules (Moscow, 2011 and 2014).
ZONES = [
    "UTC",
    "Europe/Moscow",
    "Europe/Warsaw",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Chatham",
]
NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # inside Europe's spring-forward night


def reference(moment: datetime, zone: ZoneInfo, now: datetime) -> str:
    local = moment.astimezone(zone)
    today = now.astimezone(zone).date() == local.date()
    return local.strftime("%H:%M:%S %Z" if today else "%Y-%m-%d %H:%M:%S %Z")


@settings(max_examples=400, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    moments=st.lists(
        st.datetimes(
            min_value=datetime(2010, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
        ),
        min_size=1,
        max_size=30,
    ),
)
def test_times_match_a_conversion_per_mark(zone: str, moments: list[datetime]) -> None:
    # One `_LocalTime` over many moments: its cached offsets must never leak across
    # a change of offset.
    times = _LocalTime(ZoneInfo(zone), NOW)
    for moment in moments:
        assert times.text(moment) == reference(moment, ZoneInfo(zone), NOW)


@given(zone=st.sampled_from(ZONES), start=st.integers(0, 20 * 365 * 24 * 4))
@settings(max_examples=200, deadline=None)
def test_times_across_consecutive_seconds_of_a_quarter_hour(zone: str, start: int) -> None:
    """Every second around a quarter-hour boundary (where offsets change)."""
    base = datetime(2010, 1, 1, tzinfo=UTC) + timedelta(minutes=15 * start, seconds=-3)
    times = _LocalTime(ZoneInfo(zone), NOW)
    for second in range(7):
        moment = base + timedelta(seconds=second)
        assert times.text(moment) == reference(moment, ZoneInfo(zone), NOW)


def mark(**changes: object) -> ResultMark:
    fields: dict[str, object] = {
        "id": 1,
        "check_name": "health",
        "started_at": datetime(2026, 3, 29, 1, 0, 5, tzinfo=UTC),
        "outcome": Outcome.AUTH_FAILURE,
        "duration_s": 0.05,
        "http_status": 401,
        "maintenance": False,
        "inhibited": False,
    }
    fields.update(changes)
    return ResultMark(**fields)  # type: ignore[arg-type]


def test_marks_in_words_and_escaped() -> None:
    marks = [
        mark(started_at=datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC)),
        mark(id=2, check_name='<img src=x onerror="alert(1)">', duration_s=1.25, http_status=None),
        mark(id=3, outcome=Outcome.OK, maintenance=True, duration_s=0.0004),
        mark(id=4, outcome=Outcome.TIMEOUT, inhibited=True, started_at=NOW - timedelta(days=1)),
    ]
    ru = i18n.Translator("ru")
    html = str(marks_html(marks, ZoneInfo("Europe/Warsaw"), NOW, ru))
    spans = html.split("</span>")[:-1]
    assert len(spans) == 4
    assert spans[0] == (
        '<span class="mark o-auth_failure" title="01:59:59 CET · ошибка авторизации · 50 мс'
        ' · HTTP 401 · health">'
    )
    # Six seconds later in the same bar, summer time began.
    assert 'title="03:00:05 CEST · ' in spans[1]
    # A check's name comes from configuration: escaped, never markup.
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in spans[1]
    assert "<img" not in html
    assert f" · {ru('time.seconds', n='1.2')} · health" not in spans[1]  # escaped name
    assert f" · {ru('time.seconds', n='1.2')} · &lt;img" in spans[1]
    assert 'class="mark o-ok paused"' in spans[2] and "0 мс" in spans[2]
    assert spans[2].endswith(f' · health · {ru("state.maintenance")}">')
    assert spans[3].endswith(f' · health · {ru("bar.inhibited")}">')
    # Yesterday's mark (a day before NOW) carries its date; one held back by an outage is pale.
    assert 'class="mark o-timeout paused" title="2026-03-28 02:30:00 CET' in spans[3]


def test_no_marks_is_empty() -> None:
    assert str(marks_html([], UTC, NOW, i18n.Translator("en"))) == ""
