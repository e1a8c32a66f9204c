"""Routing: contact roles, support hours (DST, zones), escalation levels, config errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from alerts.contacts import (
    DEFAULT_RULES,
    ContactSpec,
    NotificationsConfig,
    RoutingRule,
    SupportHours,
    missing_roles,
)
from alerts.routing import Delivery, route, severity_of

MOSCOW = ZoneInfo("Europe/Moscow")
ALMATY = ZoneInfo("Asia/Almaty")
WARSAW = ZoneInfo("Europe/Warsaw")
WORKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def at(zone: ZoneInfo, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock moment in 2026 in `zone`, as zoneinfo places it."""
    return datetime(2026, month, day, hour, minute, tzinfo=zone)


def office(zone: str, start: str = "09:00", end: str = "18:00") -> dict[str, Any]:
    return {"weekly": [{"days": WORKDAYS, "start": start, "end": end}], "timezone": zone}


def hours(zone: str, start: str = "09:00", end: str = "18:00") -> SupportHours:
    return SupportHours.model_validate(office(zone, start, end))


def contact(name: str, *roles: str, **fields: Any) -> ContactSpec:
    fields.setdefault("email", f"{name}@example.com")
    return ContactSpec.model_validate({"name": name, "roles": list(roles), **fields})


# A partner's contact sheet (seed 002). "dev" keeps office hours in Moscow; the
# others are aliases reachable at any hour. "lead" is the second escalation line.
ALERTS = contact("alerts", "alert")
ONCALL = contact("oncall", "technical_emergency", slack_webhook_url="${SLACK_ONCALL}")
DEV = contact("dev", "technical_non_emergency", hours=office("Europe/Moscow"))
OPS = contact("ops", "operational_internal")
SHOP = contact("shop", "merchant", "operational_public")
LEAD = contact(
    "lead",
    "technical_emergency",
    "operational_internal",
    escalation_level=2,
    telegram_chat="@lead_x",
)
TEAM = [SHOP, LEAD, OPS, DEV, ONCALL, ALERTS]  # deliberately unsorted

TUESDAY_NOON = at(MOSCOW, 3, 24, 12)  # inside everyone's hours


def names(deliveries: list[Delivery]) -> list[str]:
    return sorted({d.contact.name for d in deliveries})


def pairs(deliveries: list[Delivery]) -> list[tuple[str, str]]:
    return [(d.contact.name, d.channel) for d in deliveries]


def send(event: str, family: str | None, tier: str = "standard", **kw: Any) -> list[Delivery]:
    kw.setdefault("now", TUESDAY_NOON)
    kw.setdefault("contacts", TEAM)
    kw.setdefault("rules", DEFAULT_RULES)
    return route(event, family=family, tier=tier, **kw)


# --- severity and the default table ---------------------------------------------


@pytest.mark.parametrize(
    ("family", "severity"),
    [
        ("connectivity", "emergency"),
        ("server", "emergency"),
        ("auth", "normal"),
        ("contract", "normal"),
        ("rate_limit", "normal"),
        ("degraded", "normal"),
    ],
)
def test_severity_of(family: str, severity: str) -> None:
    assert severity_of(family) == severity


def test_severity_of_unknown_family_names_it() -> None:
    with pytest.raises(ValueError, match="'bogus'"):
        severity_of("bogus")


# Every family on every tier: the tier changes nothing in the default rules
# (premium does not copy the emergency line on normal incidents; see contacts.py).
ROUTES = [
    ("connectivity", ["alerts", "oncall"]),
    ("server", ["alerts", "oncall"]),
    ("auth", ["alerts", "dev"]),
    ("contract", ["alerts", "dev"]),
    ("rate_limit", ["alerts", "dev"]),
    ("degraded", ["alerts", "dev"]),
]


@pytest.mark.parametrize("tier", ["social", "standard", "premium"])
@pytest.mark.parametrize(("family", "expected"), ROUTES)
@pytest.mark.parametrize("event", ["incident.opened", "incident.resolved", "incident.reminder"])
def test_incident_routing_table(event: str, family: str, expected: list[str], tier: str) -> None:
    assert names(send(event, family, tier)) == expected


@pytest.mark.parametrize(
    ("event", "family", "level", "expected"),
    [
        ("ticket.sla_breached", "auth", 1, ["ops"]),
        ("ticket.sla_breached", None, 1, ["ops"]),
        ("escalation", None, 1, ["ops"]),
        ("escalation", "connectivity", 1, ["oncall", "ops"]),
        ("escalation", "auth", 1, ["ops"]),
        # The second line: only level-2 contacts, whatever their roles.
        ("incident.opened", "server", 2, ["lead"]),
        ("escalation", "server", 2, ["lead"]),
        ("incident.opened", "auth", 2, []),
        # No third line configured: the chain ends.
        ("escalation", "server", 3, []),
    ],
)
def test_other_events_and_escalation_levels(
    event: str, family: str | None, level: int, expected: list[str]
) -> None:
    assert names(send(event, family, level=level)) == expected


def test_merchant_and_public_contacts_get_no_incidents_by_default() -> None:
    for family, _ in ROUTES:
        assert "shop" not in names(send("incident.opened", family))


def test_a_tier_rule_copies_the_emergency_line_on_premium_only() -> None:
    rules = [
        *DEFAULT_RULES,
        RoutingRule(event="*", tiers=["premium"], severity="normal", roles=["technical_emergency"]),
    ]
    assert names(send("incident.opened", "auth", "premium", rules=rules)) == [
        "alerts",
        "dev",
        "oncall",
    ]
    assert names(send("incident.opened", "auth", "standard", rules=rules)) == ["alerts", "dev"]


def test_ticket_mail_needs_its_own_rule_and_waits_for_hours() -> None:
    client = contact("client", "operational_public", hours=office("Europe/Moscow"))
    assert send("ticket.commented", None, contacts=[client]) == []  # no default rule
    rules = [RoutingRule(event="ticket.commented", roles=["operational_public"])]
    friday_evening = at(MOSCOW, 3, 27, 19)
    [delivery] = send("ticket.commented", None, contacts=[client], rules=rules, now=friday_evening)
    assert delivery.send_at == at(MOSCOW, 3, 30, 9)
    wildcard = [RoutingRule(event="*", roles=["operational_public"])]
    assert names(send("ticket.closed", None, contacts=[client], rules=wildcard)) == ["client"]


def test_family_filter() -> None:
    rules = [RoutingRule(event="incident.opened", families=["auth"], roles=["merchant"])]
    assert names(send("incident.opened", "auth", rules=rules)) == ["shop"]
    assert names(send("incident.opened", "server", rules=rules)) == []
    assert names(send("incident.resolved", "auth", rules=rules)) == []


# --- channels, de-duplication, order --------------------------------------------


def test_one_delivery_per_channel_sorted_by_name_then_channel() -> None:
    everywhere = contact(
        "all",
        "alert",
        webhook_url="https://hooks.example/intmon",
        slack_webhook_url="${SLACK}",
        telegram_chat="-1001234567890",
    )
    deliveries = send("incident.opened", "server", contacts=[*TEAM, everywhere])
    assert pairs(deliveries) == [
        ("alerts", "email"),
        ("all", "email"),
        ("all", "slack"),
        ("all", "telegram"),
        ("all", "webhook"),
        ("oncall", "email"),
        ("oncall", "slack"),
    ]


def test_contact_matched_by_several_rules_appears_once_per_channel() -> None:
    both = contact("both", "alert", "technical_emergency", "technical_non_emergency")
    deliveries = send("incident.opened", "server", contacts=[both])
    assert pairs(deliveries) == [("both", "email")]
    assert deliveries[0].reason.startswith("roles alert, technical_emergency;")


def test_order_does_not_depend_on_input_order() -> None:
    forward = send("incident.opened", "server", contacts=TEAM)
    backward = send("incident.opened", "server", contacts=list(reversed(TEAM)))
    assert pairs(forward) == pairs(backward)


# --- when: emergencies now, the rest in support hours ---------------------------

NIGHT = at(MOSCOW, 3, 24, 3)  # Tuesday 03:00 in Moscow
NINE = at(MOSCOW, 3, 24, 9)


@pytest.mark.parametrize(
    ("family", "send_at", "reason"),
    [
        ("connectivity", NIGHT, "role alert; emergency, sent at any hour"),
        ("server", NIGHT, "role alert; emergency, sent at any hour"),
        (
            "auth",
            NINE,
            "role alert; outside support hours, held until Tue 2026-03-24 09:00 Europe/Moscow",
        ),
    ],
)
def test_emergency_at_night_goes_now_the_rest_waits(
    family: str, send_at: datetime, reason: str
) -> None:
    night_owl = contact("alerts", "alert", hours=office("Europe/Moscow"))
    [delivery] = send("incident.opened", family, contacts=[night_owl], now=NIGHT)
    assert delivery.send_at == send_at
    assert delivery.send_at.tzinfo is UTC
    assert delivery.reason == reason


def test_contact_without_hours_and_within_hours_get_it_now() -> None:
    deliveries = send("incident.opened", "auth", now=TUESDAY_NOON)
    assert {d.contact.name: d.send_at for d in deliveries} == {
        "alerts": TUESDAY_NOON,
        "dev": TUESDAY_NOON,
    }
    reasons = {d.contact.name: d.reason for d in deliveries}
    assert reasons["dev"] == "role technical_non_emergency; within support hours"
    assert reasons["alerts"].endswith("no support hours set, reachable at any time")


def test_non_emergency_on_friday_evening_is_held_until_monday_morning() -> None:
    [delivery] = send("incident.opened", "contract", contacts=[DEV], now=at(MOSCOW, 3, 27, 18))
    assert delivery.send_at == at(MOSCOW, 3, 30, 9)
    assert delivery.reason == (
        "role technical_non_emergency; outside support hours, "
        "held until Mon 2026-03-30 09:00 Europe/Moscow"
    )


def test_escalation_is_never_held() -> None:
    boss = contact("boss", "operational_internal", hours=office("Europe/Moscow"))
    [delivery] = send("escalation", None, contacts=[boss], now=NIGHT)
    assert delivery.send_at == NIGHT


# --- support hours --------------------------------------------------------------


def test_almaty_is_two_hours_ahead_of_moscow() -> None:
    # Kazakhstan moved to UTC+5 in March 2024; an older tzdata would make the edge
    # cases below wrong in a confusing way.
    moment = at(MOSCOW, 3, 27, 18)
    assert moment.astimezone(ALMATY).utcoffset() == timedelta(hours=5), "tzdata predates 2024"
    assert moment.astimezone(MOSCOW).utcoffset() == timedelta(hours=3)


MOSCOW_OFFICE = hours("Europe/Moscow")
ALMATY_OFFICE = hours("Asia/Almaty")


@pytest.mark.parametrize(
    ("name", "now", "moscow_open", "almaty_open"),
    [
        # Friday 18:00 in Moscow is 20:00 in Almaty: both closed (the end is exclusive).
        ("fri 18:00 Moscow", at(MOSCOW, 3, 27, 18), False, False),
        ("fri 17:59 Moscow", at(MOSCOW, 3, 27, 17, 59), True, False),
        # Friday 18:00 in Almaty is 16:00 in Moscow: Moscow still works.
        ("fri 18:00 Almaty", at(ALMATY, 3, 27, 18), True, False),
        ("fri 17:59 Almaty", at(ALMATY, 3, 27, 17, 59), True, True),
        # Monday 09:00 in Almaty is 07:00 in Moscow.
        ("mon 09:00 Almaty", at(ALMATY, 3, 30, 9), False, True),
        ("mon 09:00 Moscow", at(MOSCOW, 3, 30, 9), True, True),
        ("sat noon", at(MOSCOW, 3, 28, 12), False, False),
    ],
)
def test_hours_edges_in_two_zones(
    name: str, now: datetime, moscow_open: bool, almaty_open: bool
) -> None:
    assert MOSCOW_OFFICE.is_open(now) is moscow_open
    assert ALMATY_OFFICE.is_open(now) is almaty_open


WARSAW_OFFICE = hours("Europe/Warsaw", "09:00", "17:00")
# Sunday 02:30–04:00 on the night clocks spring forward: 02:30 does not exist.
WARSAW_NIGHT = SupportHours.model_validate(
    {"weekly": [{"days": ["sun"], "start": "02:30", "end": "04:00"}], "timezone": "Europe/Warsaw"}
)


@pytest.mark.parametrize(
    ("name", "schedule", "now", "expected"),
    [
        ("open now", MOSCOW_OFFICE, at(MOSCOW, 3, 30, 9), at(MOSCOW, 3, 30, 9)),
        ("before opening", MOSCOW_OFFICE, at(MOSCOW, 3, 30, 8, 59), at(MOSCOW, 3, 30, 9)),
        ("friday after hours", MOSCOW_OFFICE, at(MOSCOW, 3, 27, 18), at(MOSCOW, 3, 30, 9)),
        ("saturday", ALMATY_OFFICE, at(ALMATY, 3, 28, 12), at(ALMATY, 3, 30, 9)),
        # Clocks go forward on Sunday 29 March: Friday 17:00 is 16:00 UTC, but
        # Monday 09:00 is 07:00 UTC (CEST), not 08:00.
        ("DST spring", WARSAW_OFFICE, at(WARSAW, 3, 27, 17), utc(2026, 3, 30, 7)),
        # Clocks go back on Sunday 25 October: Monday 09:00 is 08:00 UTC (CET).
        ("DST autumn", WARSAW_OFFICE, at(WARSAW, 10, 23, 17), utc(2026, 10, 26, 8)),
        # 02:30 is skipped that night: the hours open at the first valid instant,
        # 03:00 CEST = 01:00 UTC.
        ("DST gap", WARSAW_NIGHT, utc(2026, 3, 28, 12), utc(2026, 3, 29, 1)),
        ("after the gap", WARSAW_NIGHT, utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 1, 30)),
    ],
)
def test_next_open(name: str, schedule: SupportHours, now: datetime, expected: datetime) -> None:
    opens = schedule.next_open(now)
    assert opens == expected
    assert opens.tzinfo is UTC


def test_several_weekly_entries_and_naive_now() -> None:
    schedule = SupportHours.model_validate(
        {
            "weekly": [
                {"days": WORKDAYS, "start": "09:00", "end": "18:00"},
                {"days": ["sat"], "start": "10:00", "end": "14:00"},
            ],
            "timezone": "Europe/Moscow",
        }
    )
    assert schedule.next_open(at(MOSCOW, 3, 27, 19)) == at(MOSCOW, 3, 28, 10)
    with pytest.raises(ValueError, match="naive"):
        schedule.next_open(datetime(2026, 3, 27, 19))


# --- required roles -------------------------------------------------------------

REQUIRED = NotificationsConfig().required_roles


@pytest.mark.parametrize(
    ("contacts", "missing"),
    [
        ([ALERTS, ONCALL, DEV], []),
        ([], ["alert", "technical_emergency", "technical_non_emergency"]),
        ([DEV, ALERTS], ["technical_emergency"]),
        # A role held only by the second line does not count: the first notice
        # would reach nobody.
        ([ALERTS, DEV, LEAD], ["technical_emergency"]),
        ([contact("one", "alert", "technical_emergency", "technical_non_emergency")], []),
    ],
)
def test_missing_roles(contacts: list[ContactSpec], missing: list[str]) -> None:
    assert missing_roles(contacts, REQUIRED) == missing


def test_missing_roles_with_a_custom_list_and_an_unknown_role() -> None:
    assert missing_roles(TEAM, ["merchant", "operational_public"]) == []
    assert missing_roles([ALERTS], ["operational_public", "merchant"]) == [
        "merchant",
        "operational_public",
    ]
    with pytest.raises(ValueError, match="pager"):
        missing_roles(TEAM, ["pager"])


# --- configuration errors name the field ----------------------------------------

GOOD: dict[str, Any] = {"name": "ops", "email": "ops@example.com", "roles": ["alert"]}


@pytest.mark.parametrize(
    ("changes", "loc", "message"),
    [
        ({"roles": ["pager"]}, ("roles", 0), "alert"),
        ({"roles": []}, ("roles",), "at least 1"),
        ({"hours": office("Mars/Olympus")}, ("hours", "timezone"), "unknown time zone"),
        ({"hours": office("Europe/Moscow", start="25:00")}, ("hours", "weekly", 0, "start"), ""),
        (
            {"email": None},
            (),
            "no address; give one of email, webhook_url, slack_webhook_url, telegram_chat",
        ),
        (
            {"slack_webhook_url": "https://hooks.slack.com/services/T0/B0/secret"},
            ("slack_webhook_url",),
            "${ENV_VAR}",
        ),
        ({"email": "ops.example.com"}, ("email",), "not an e-mail address"),
        ({"webhook_url": "ftp://example.com/hook"}, ("webhook_url",), "http"),
        ({"telegram_chat": "my chat"}, ("telegram_chat",), "chat id"),
        ({"locale": "pl"}, ("locale",), "'ru' or 'en'"),
        ({"escalation_level": 4}, ("escalation_level",), "less than or equal to 3"),
        ({"phone": "+7 900"}, ("phone",), "Extra inputs"),
    ],
)
def test_contact_errors_name_the_field(
    changes: dict[str, Any], loc: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        ContactSpec.model_validate({**GOOD, **changes})
    [error] = caught.value.errors()
    assert error["loc"] == loc
    assert message in error["msg"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"event": "incident.exploded", "roles": ["alert"]}, "event"),
        ({"event": "*", "families": ["weather"], "roles": ["alert"]}, "families"),
        ({"event": "*", "tiers": ["gold"], "roles": ["alert"]}, "tiers"),
        ({"event": "*", "severity": "critical", "roles": ["alert"]}, "severity"),
        ({"event": "*", "roles": ["pager"]}, "roles"),
        ({"event": "*", "roles": []}, "roles"),
    ],
)
def test_rule_errors_name_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RoutingRule.model_validate(data)
    assert {error["loc"][0] for error in caught.value.errors()} == {field}


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({"required_roles": ["pager"]}, ("required_roles", 0)),
        ({"ack_timeout_minutes": 0}, ("ack_timeout_minutes",)),
        ({"routing": [{"event": "*", "roles": ["pager"]}]}, ("routing", 0, "roles", 0)),
        ({"digest_window_s": -1}, ("digest_window_s",)),
    ],
)
def test_notifications_config_errors_name_the_field(
    data: dict[str, Any], loc: tuple[Any, ...]
) -> None:
    with pytest.raises(ValidationError) as caught:
        NotificationsConfig.model_validate(data)
    assert [error["loc"] for error in caught.value.errors()] == [loc]


def test_notifications_defaults() -> None:
    config = NotificationsConfig()
    assert config.required_roles == ["alert", "technical_emergency", "technical_non_emergency"]
    assert config.routing == list(DEFAULT_RULES)
    assert (config.ack_timeout_minutes, config.reminder_every_minutes) == (30, 60)
    assert (config.max_reminders, config.digest_window_s) == (3, 300)


def test_contact_timezone_and_channels() -> None:
    assert DEV.timezone == "Europe/Moscow"
    assert ALERTS.timezone is None
    assert ONCALL.channels() == ["email", "slack"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"event": "ticket.exploded"}, "unknown event 'ticket.exploded'"),
        ({"event": "*"}, "unknown event '\\*'"),
        ({"tier": "gold"}, "unknown tier 'gold'"),
        ({"family": "weather"}, "unknown family 'weather'"),
        ({"level": 0}, "level must be 1 or more"),
        ({"now": datetime(2026, 3, 24, 12)}, "naive"),
    ],
)
def test_route_rejects_bad_input(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "event": "incident.opened",
        "family": "auth",
        "tier": "standard",
        "contacts": TEAM,
        "rules": DEFAULT_RULES,
        "now": TUESDAY_NOON,
        **kwargs,
    }
    event = arguments.pop("event")
    with pytest.raises(ValueError, match=message):
        route(event, **arguments)


# What skips the digest window (issue 21): an outage opening, an SLA breach and an
# escalation go out when due; what follows them may wait for a digest.
@pytest.mark.parametrize(
    ("event", "family", "immediate"),
    [
        ("incident.opened", "connectivity", True),
        ("incident.opened", "server", True),
        ("incident.opened", "auth", False),
        ("incident.resolved", "connectivity", False),
        ("incident.reminder", "server", False),
        ("ticket.sla_breached", None, True),
        ("ticket.sla_breached", "auth", True),
        ("escalation", "connectivity", True),
    ],
)
def test_emergencies_are_marked_to_skip_the_digest(
    event: str, family: str | None, immediate: bool
) -> None:
    level = 2 if event == "escalation" else 1
    deliveries = send(event, family, level=level)
    assert deliveries
    assert {d.immediate for d in deliveries} == {immediate}
