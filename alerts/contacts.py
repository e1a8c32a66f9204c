"""Who is told about a problem: contact roles, their support hours, and routing rules.

The roles are the partner contact fields of seed 002. `alerts.routing` reads these
models to turn an event into deliveries; `alerts.render` turns each delivery into a
message. Everything here is configuration and pure helpers: time comes in as `now`.

Support hours reuse the weekly maintenance windows of `integrations.windows`, so
their wall-clock and DST rules are the same: an hour that does not exist (spring
forward) opens at the first valid instant after the gap, and `end` is exclusive
(hours 09:00–18:00 are closed at 18:00 sharp).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Literal, get_args

from pydantic import Field, field_validator, model_validator

from alerts.families import Family
from integrations.config import SecretRef, http_url
from integrations.strict import Strict
from integrations.tiers import Tier
from integrations.windows import (
    MaintenanceSpec,
    MaintenanceWindow,
    WeeklySchedule,
    aware,
    window_from_spec,
    zone_of,
)

# Seed 002, in its order: production alerts; emergencies (the integration is down);
# ongoing technical matters (API migration, matching problems); merchant issues;
# operational escalations for the platform only; operational contact shown to users.
Role = Literal[
    "alert",
    "technical_emergency",
    "technical_non_emergency",
    "merchant",
    "operational_internal",
    "operational_public",
]
ROLES: tuple[Role, ...] = get_args(Role)

Event = Literal[
    "incident.opened",
    "incident.resolved",
    "incident.reminder",
    "ticket.sla_breached",
    "escalation",
]
EVENTS: tuple[Event, ...] = get_args(Event)
# Mail to the client about their ticket (seed 001); routed like the others, but no
# default rule names them: the caller brings its own rule for the client's contacts.
TicketEvent = Literal[
    "ticket.opened", "ticket.commented", "ticket.waiting_for_reply", "ticket.closed"
]
TICKET_EVENTS: tuple[TicketEvent, ...] = get_args(TicketEvent)
INCIDENT_EVENTS: tuple[Event, ...] = ("incident.opened", "incident.resolved", "incident.reminder")

Severity = Literal["emergency", "normal"]
Locale = Literal["ru", "en"]

# Channel name → the ContactSpec field that holds its address.
CHANNEL_FIELDS: dict[str, str] = {
    "email": "email",
    "webhook": "webhook_url",
    "slack": "slack_webhook_url",
    "telegram": "telegram_chat",
}
ADDRESS_FIELDS = ", ".join(CHANNEL_FIELDS.values())

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# A numeric chat id (groups and channels are negative) or a public @username.
TELEGRAM_CHAT = re.compile(r"^(?:-?\d+|@[A-Za-z][A-Za-z0-9_]{4,31})$")
MAX_LEVEL = 3


class SupportHours(Strict):
    """When a contact works, e.g. `{weekly: [{days: [mon, tue, wed, thu, fri],
    start: "09:00", end: "18:00"}], timezone: Europe/Moscow}`."""

    weekly: list[WeeklySchedule] = Field(min_length=1)
    timezone: str

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        zone_of(value)
        return value

    def windows(self) -> list[MaintenanceWindow]:
        return [
            window_from_spec(MaintenanceSpec(weekly=schedule, timezone=self.timezone))
            for schedule in self.weekly
        ]

    def is_open(self, now: datetime) -> bool:
        return any(window.active_at(now) for window in self.windows())

    def next_open(self, now: datetime) -> datetime:
        """`now` (in UTC) when open, else the next moment the hours open (UTC)."""
        now = aware(now)
        windows = self.windows()
        if any(window.active_at(now) for window in windows):
            return now
        starts = [start for window in windows if (start := window.next_start(now)) is not None]
        return min(starts)  # weekly windows always start again within two weeks


class ContactSpec(Strict):
    """One person or alias, reachable on one or more channels."""

    name: str = Field(min_length=1)
    email: str | None = None
    webhook_url: str | None = None
    # A Slack incoming-webhook URL carries its token, so only a reference is stored.
    slack_webhook_url: SecretRef | None = None
    telegram_chat: str | None = None
    roles: list[Role] = Field(min_length=1)
    locale: Locale = "en"
    hours: SupportHours | None = None  # None: reachable at any hour
    # 1 is the first line; 2 and 3 are told when an emergency goes unacknowledged.
    escalation_level: int = Field(default=1, ge=1, le=MAX_LEVEL)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.match(value):
            raise ValueError(f"{value!r} is not an e-mail address like ops@example.com")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)

    @field_validator("telegram_chat")
    @classmethod
    def _telegram_chat(cls, value: str | None) -> str | None:
        if value is not None and not TELEGRAM_CHAT.match(value):
            raise ValueError(f"{value!r} is not a chat id (-1001234567890) or @channel name")
        return value

    @model_validator(mode="after")
    def _reachable(self) -> ContactSpec:
        if not self.channels():
            raise ValueError(f"contact {self.name!r} has no address; give one of {ADDRESS_FIELDS}")
        return self

    def channels(self) -> list[str]:
        """The channels this contact can be reached on, e.g. ["email", "slack"]."""
        return [name for name, field in CHANNEL_FIELDS.items() if getattr(self, field)]

    @property
    def timezone(self) -> str | None:
        """The zone messages to this contact show times in; None means UTC."""
        return self.hours.timezone if self.hours else None


class RoutingRule(Strict):
    """Send `event` to every contact holding one of `roles`, when the filters match.
    A filter left out (None) matches anything."""

    event: Event | TicketEvent | Literal["*"]
    families: list[Family] | None = Field(default=None, min_length=1)
    tiers: list[Tier] | None = Field(default=None, min_length=1)
    severity: Severity | None = None
    roles: list[Role] = Field(min_length=1)


def _rule(event: Event, roles: list[Role], severity: Severity | None = None) -> RoutingRule:
    return RoutingRule(event=event, severity=severity, roles=roles)


# The default routing table:
#
#   event                       severity    roles
#   incident.opened/resolved/   any         alert                    (seed 002: every
#     reminder                                                        production problem)
#   incident.*                  emergency   technical_emergency      (connectivity, server:
#                                                                     the integration is down)
#   incident.*                  normal      technical_non_emergency  (auth, contract,
#                                                                     rate_limit, degraded, e2e,
#                                                                     heartbeat, postback,
#                                                                     lead_flow)
#   ticket.sla_breached         any         operational_internal
#   escalation                  any         operational_internal
#   escalation                  emergency   technical_emergency      (the next line of the
#                                                                     escalation chain)
#
# Tier changes nothing by default. Copying technical_emergency on premium's normal
# incidents was considered and left out: seed 002 keeps the emergency contact for
# emergencies, the alert role already hears of every incident on every tier, and
# the premium SLA (seed 003) binds support's first response, not the partner's
# hours. Paging an on-call person for a slow response teaches them to ignore pages;
# a config that wants it adds a rule with `tiers: [premium]`.
DEFAULT_RULES: tuple[RoutingRule, ...] = (
    *(_rule(event, ["alert"]) for event in INCIDENT_EVENTS),
    *(_rule(event, ["technical_emergency"], "emergency") for event in INCIDENT_EVENTS),
    *(_rule(event, ["technical_non_emergency"], "normal") for event in INCIDENT_EVENTS),
    _rule("ticket.sla_breached", ["operational_internal"]),
    _rule("escalation", ["operational_internal"]),
    _rule("escalation", ["technical_emergency"], "emergency"),
)

# Seed 002 marks these three as required for every integration; merchant and the
# operational contacts are required only by some platforms, so they are opt-in.
REQUIRED_ROLES: tuple[Role, ...] = ("alert", "technical_emergency", "technical_non_emergency")


class NotificationsConfig(Strict):
    required_roles: list[Role] = Field(default_factory=lambda: list(REQUIRED_ROLES))
    routing: list[RoutingRule] = Field(default_factory=lambda: list(DEFAULT_RULES))
    # An emergency nobody acknowledged within this time goes to the next level.
    ack_timeout_minutes: int = Field(default=30, ge=1)
    reminder_every_minutes: int = Field(default=60, ge=1)
    max_reminders: int = Field(default=3, ge=0)
    # Messages for one contact within this window go out as one digest (0: never).
    digest_window_s: int = Field(default=300, ge=0)


def missing_roles(contacts: Sequence[ContactSpec], required: Sequence[str]) -> list[str]:
    """The required roles no first-line contact holds, sorted.

    Only escalation level 1 counts: a role held only at level 2 or 3 is told about
    nothing until an escalation, so the first notice would reach nobody.
    """
    unknown = sorted(set(required) - set(ROLES))
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(unknown)}; one of {', '.join(ROLES)}")
    held = {role for contact in contacts if contact.escalation_level == 1 for role in contact.roles}
    return sorted(set(required) - held)


# Events routed to roles no integration is required to have (operational_internal
# by default): a file can leave them reaching nobody, silently (issue 21).
UNREQUIRED_TARGETS: tuple[Event, ...] = ("ticket.sla_breached", "escalation")


def unreached_roles(
    contacts: Sequence[ContactSpec], rules: Sequence[RoutingRule], tier: str
) -> list[tuple[Event, Role]]:
    """(event, role) for each role an SLA breach or an escalation is routed to that
    no contact could receive, sorted.

    A breach goes to the first line (escalation level 1); an escalation goes up the
    chain (levels 2 and 3), so only contacts there count for it.
    """
    unreached: set[tuple[Event, Role]] = set()
    for rule in rules:
        if rule.tiers is not None and tier not in rule.tiers:
            continue
        for event in UNREQUIRED_TARGETS:
            if rule.event not in ("*", event):
                continue
            levels = range(2, MAX_LEVEL + 1) if event == "escalation" else (1,)
            for role in rule.roles:
                if not any(role in c.roles and c.escalation_level in levels for c in contacts):
                    unreached.add((event, role))
    return sorted(unreached)
