"""The liability rule (seed 000), one row per case: the 48-hour edge, window edges,
overlapping windows, time zones, incidents with and without notices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from integrations.leads.liability import (
    Failure,
    IncidentSpan,
    Notice,
    OutageSpan,
    Party,
    Window,
    liable_party,
)
from integrations.windows import MaintenanceSpec, window_from_spec

T = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
S = timedelta(seconds=1)

WINDOW = Window("nightly", T - H, T + H)  # [11:00, 13:00)
AUTH_INCIDENT = IncidentSpan(7, "auth", T - 2 * H, None)
# The same incident, with the diff of its failing answer against the learned contract.
CHANGED_AUTH = IncidentSpan(7, "auth", T - 2 * H, None, ("401 now with WWW-Authenticate",))
CONTRACT_CHANGED = IncidentSpan(9, "contract", T - 2 * H, None, ("`$.status` removed",))
CONNECT_INCIDENT = IncidentSpan(8, "connectivity", T - 2 * H, T + H)
PLATFORM_INCIDENT = IncidentSpan(10, "platform", T - 3 * H, None)


def notice(lead: timedelta, effective: datetime = T - 3 * H, breaking: bool = True) -> Notice:
    return Notice(1, "v2-auth", effective - lead, effective, breaking)


def failure(at: datetime = T, outcome: str = "failed_auth", duplicate: bool = False) -> Failure:
    return Failure("broker-x", "L1", at, outcome, (101,), duplicate)


CASES = [
    # name, failure, windows, incidents, notices, party, reason fragment
    ("inside maintenance", failure(), [WINDOW], [], [], Party.BROKER, "maintenance"),
    ("window's first second", failure(T - H), [WINDOW], [], [], Party.BROKER, "maintenance"),
    ("window's last second", failure(T + H - S), [WINDOW], [], [], Party.BROKER, "maintenance"),
    (
        "window's end is outside",
        failure(T + H, "failed_server"),
        [WINDOW],
        [],
        [],
        Party.UNDETERMINED,
        "no maintenance",
    ),
    (
        "second before the window",
        failure(T - H - S, "failed_server"),
        [WINDOW],
        [],
        [],
        Party.UNDETERMINED,
        "no maintenance",
    ),
    (
        "overlapping windows: the second one covers",
        failure(T + 90 * timedelta(minutes=1)),
        [WINDOW, Window("extended", T + 30 * timedelta(minutes=1), T + 2 * H)],
        [],
        [],
        Party.BROKER,
        "extended",
    ),
    (
        "notice 47h59m ahead",
        failure(),
        [],
        [AUTH_INCIDENT],
        [notice(48 * H - 60 * S)],
        Party.BROKER,
        "47h59m",
    ),
    (
        "notice exactly 48h ahead",
        failure(),
        [],
        [AUTH_INCIDENT],
        [notice(48 * H)],
        Party.PLATFORM,
        "48h00m",
    ),
    ("notice 72h ahead", failure(), [], [AUTH_INCIDENT], [notice(72 * H)], Party.PLATFORM, "≥ 48h"),
    (
        "notice announced after it took effect-ish (0h)",
        failure(),
        [],
        [AUTH_INCIDENT],
        [notice(timedelta(0))],
        Party.BROKER,
        "0h00m",
    ),
    (
        "non-breaking notice does not count",
        failure(),
        [],
        [CHANGED_AUTH],
        [notice(H, breaking=False)],
        Party.BROKER,
        "unannounced",
    ),
    (
        "notice effective after the incident began",
        failure(),
        [],
        [CHANGED_AUTH],
        [notice(H, effective=T - H)],
        Party.BROKER,
        "unannounced",
    ),
    (
        "notice too old to explain it",
        failure(),
        [],
        [CHANGED_AUTH],
        [notice(H, effective=T - 10 * 24 * H)],
        Party.BROKER,
        "unannounced",
    ),
    (
        "auth incident, no notice, the answer changed",
        failure(),
        [],
        [CHANGED_AUTH],
        [],
        Party.BROKER,
        "unannounced broker change",
    ),
    (
        "contract incident, no notice, the answer changed",
        failure(outcome="failed_contract"),
        [],
        [CONTRACT_CHANGED],
        [],
        Party.BROKER,
        "`$.status` removed",
    ),
    (
        "auth incident, no notice, no evidence of a change",
        failure(),
        [],
        [AUTH_INCIDENT],
        [],
        Party.UNDETERMINED,
        "no evidence the broker changed anything",
    ),
    (
        "non-breaking notice and no evidence of a change",
        failure(),
        [],
        [AUTH_INCIDENT],
        [notice(H, breaking=False)],
        Party.UNDETERMINED,
        "no evidence",
    ),
    (
        "intmon could not make the request (a secret unset here)",
        failure(outcome="failed_config"),
        [WINDOW],
        [],
        [],
        Party.PLATFORM,
        "intmon's own side",
    ),
    (
        "a platform-side incident covers the moment, even in maintenance",
        failure(),
        [WINDOW],
        [PLATFORM_INCIDENT, CHANGED_AUTH],
        [notice(H)],
        Party.PLATFORM,
        "intmon's own side",
    ),
    (
        "connectivity incident with a late notice",
        failure(outcome="failed_connection"),
        [],
        [CONNECT_INCIDENT],
        [notice(H)],
        Party.BROKER,
        "< 48h",
    ),
    (
        "connectivity incident, no notice",
        failure(outcome="failed_connection"),
        [],
        [CONNECT_INCIDENT],
        [],
        Party.UNDETERMINED,
        "connectivity incident",
    ),
    (
        "lone auth failure with a timely notice",
        failure(),
        [],
        [],
        [notice(50 * H)],
        Party.PLATFORM,
        "≥ 48h",
    ),
    (
        "lone auth failure, nothing known",
        failure(),
        [],
        [],
        [],
        Party.UNDETERMINED,
        "no maintenance",
    ),
    (
        "broker refused the data",
        failure(outcome="rejected"),
        [],
        [],
        [],
        Party.PLATFORM,
        "refused the lead's data",
    ),
    (
        "duplicate is not the platform's fault",
        failure(outcome="rejected", duplicate=True),
        [],
        [],
        [],
        Party.UNDETERMINED,
        "no maintenance",
    ),
    (
        "maintenance beats a notice",
        failure(),
        [WINDOW],
        [AUTH_INCIDENT],
        [notice(72 * H)],
        Party.BROKER,
        "maintenance",
    ),
    (
        "resolved incident no longer covers",
        failure(T + 2 * H, "failed_connection"),
        [],
        [CONNECT_INCIDENT],
        [],
        Party.UNDETERMINED,
        "no maintenance",
    ),
]


@pytest.mark.parametrize(
    ("name", "failed", "windows", "incidents", "notices", "party", "reason"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_liability_rule(name, failed, windows, incidents, notices, party, reason) -> None:  # type: ignore[no-untyped-def]
    liability = liable_party(failed, windows, incidents, notices)
    assert liability.party is party, liability.reason
    assert reason in liability.reason
    assert "attempt:101" in liability.evidence


def test_an_unannounced_change_cites_its_contract_diff() -> None:
    liability = liable_party(failure(), [], [CHANGED_AUTH], [])
    assert liability.evidence == ["incident:7", "attempt:101", "contract-diff:incident:7"]
    assert "401 now with WWW-Authenticate" in liability.reason


def test_an_expired_lead_is_judged_by_its_last_failure_not_by_expiring() -> None:
    expired = Failure("broker-x", "L1", T, "expired", (101,), cause="failed_config")
    assert liable_party(expired, [WINDOW], [], []).party is Party.PLATFORM


def test_evidence_names_the_notice_and_incident() -> None:
    liability = liable_party(failure(), [], [AUTH_INCIDENT], [notice(47 * H)])
    assert liability.evidence == ["notice:v2-auth", "incident:7", "attempt:101"]


@pytest.mark.parametrize(
    ("local_moment", "inside"),
    [
        ("2026-03-29T01:59:59", True),  # Warsaw, the night clocks go forward
        ("2026-03-29T03:59:59", True),
        ("2026-03-29T04:00:00", False),
        ("2026-03-29T00:59:59", False),
    ],
)
def test_a_weekly_window_in_its_own_time_zone(local_moment: str, inside: bool) -> None:
    """A Sunday 01:00–04:00 window declared in Europe/Warsaw, judged in UTC across DST."""
    spec = MaintenanceSpec.model_validate(
        {"timezone": "Europe/Warsaw", "weekly": {"days": ["sun"], "start": "01:00", "end": "04:00"}}
    )
    zone = ZoneInfo("Europe/Warsaw")
    at = datetime.fromisoformat(local_moment).replace(tzinfo=zone).astimezone(UTC)
    windows = [
        Window("sunday", start, end)
        for start, end in window_from_spec(spec).occurrences(at - 24 * H, at + 24 * H)
    ]
    liability = liable_party(failure(at, "failed_server"), windows, [], [])
    assert (liability.party is Party.BROKER) is inside


# A platform outage (intmon's own network failing) over [11:30, 12:30), and one still open.
OUTAGE = OutageSpan(3, T - H / 2, T + H / 2, "correlated", "6 of 8 partner endpoints fail")
STILL_OPEN = OutageSpan(4, T - H / 2, None, "canary", "canary edge fails: timeout")

OUTAGE_CASES = [
    # name, failure, windows, incidents, notices, outages, party, reason fragment
    (
        "lost while intmon's network was failing",
        failure(outcome="failed_connection"),
        [],
        [],
        [],
        [OUTAGE],
        Party.PLATFORM,
        "intmon's own network was failing (platform outage #3: correlated: 6 of 8",
    ),
    (
        "an outage still open",
        failure(outcome="failed_server"),
        [],
        [],
        [],
        [STILL_OPEN],
        Party.PLATFORM,
        "platform outage #4: canary: canary edge fails",
    ),
    (
        "the outage's first second",
        failure(T - H / 2, "failed_connection"),
        [],
        [],
        [],
        [OUTAGE],
        Party.PLATFORM,
        "platform outage #3",
    ),
    (
        "the outage's end is outside it",
        failure(T + H / 2, "failed_connection"),
        [],
        [],
        [],
        [OUTAGE],
        Party.UNDETERMINED,
        "no maintenance",
    ),
    (
        "an outage beats maintenance and a partner's incident",
        failure(outcome="failed_connection"),
        [WINDOW],
        [CONNECT_INCIDENT],
        [notice(H)],
        [OUTAGE],
        Party.PLATFORM,
        "platform outage #3",
    ),
    (
        "before the outage, maintenance decides",
        failure(T - H, "failed_connection"),
        [WINDOW],
        [],
        [],
        [OUTAGE],
        Party.BROKER,
        "maintenance",
    ),
]


@pytest.mark.parametrize(
    ("failed", "windows", "incidents", "notices", "outages", "party", "reason"),
    [case[1:] for case in OUTAGE_CASES],
    ids=[case[0] for case in OUTAGE_CASES],
)
def test_liability_in_a_platform_outage(
    failed, windows, incidents, notices, outages, party, reason
) -> None:  # type: ignore[no-untyped-def]
    liability = liable_party(failed, windows, incidents, notices, outages)
    assert liability.party is party, liability.reason
    assert reason in liability.reason
    assert "attempt:101" in liability.evidence
    if party is Party.PLATFORM:
        assert liability.evidence[0] == f"platform-outage:{outages[0].id}"
