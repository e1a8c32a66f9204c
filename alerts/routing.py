"""Routing: which contacts hear of an event, on which channels, and when.

A pure function of (event, family, tier, contacts, rules, now, level): the caller
(the notification outbox) stores one row per `Delivery` and sends it at `send_at`.
Emergencies go out at once at any hour; everything else waits for the contact's
support hours. An emergency not acknowledged within `ack_timeout_minutes` is routed
again as the `escalation` event at `level + 1`; an empty result means the chain has
no further level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from alerts.contacts import EVENTS, ROLES, TICKET_EVENTS, ContactSpec, RoutingRule, Severity
from alerts.families import Family
from integrations.tiers import Tier
from integrations.windows import aware, zone_of

EMERGENCY_FAMILIES = (Family.CONNECTIVITY, Family.SERVER)  # the integration is down
ROUTABLE = (*EVENTS, *TICKET_EVENTS)


@dataclass(frozen=True)
class Delivery:
    contact: ContactSpec
    channel: str  # "email" | "webhook" | "slack" | "telegram"
    send_at: datetime  # UTC
    reason: str  # why this contact, and why at this time
    # Sent the moment it is due, never held back to be part of a digest.
    immediate: bool = False


# Events that must reach people as they happen, whatever was sent to them moments
# ago: an outage opening, an SLA breach and an unacknowledged emergency. The
# digest window is for the rest (a resolution, a reminder, ticket mail): an
# outage that opened at 01:46:58 reached on-call at 01:49:00 inside a digest of
# "opened + resolved" (issue 21).
ALWAYS_IMMEDIATE = ("ticket.sla_breached", "escalation")


def is_immediate(event: str, severity: Severity | None) -> bool:
    """Whether a message of `event` skips the digest window."""
    return event in ALWAYS_IMMEDIATE or (event == "incident.opened" and severity == "emergency")


def severity_of(family: str) -> Severity:
    """ "emergency" for connectivity and server failures, "normal" for the rest."""
    try:
        parsed = Family(family)
    except ValueError:
        families = ", ".join(f.value for f in Family)
        raise ValueError(f"unknown family {family!r}; one of {families}") from None
    return "emergency" if parsed in EMERGENCY_FAMILIES else "normal"


def route(
    event: str,
    *,
    family: str | None,
    tier: str,
    contacts: Sequence[ContactSpec],
    rules: Sequence[RoutingRule],
    now: datetime,
    level: int = 1,
) -> list[Delivery]:
    """One delivery per (contact, channel), sorted by contact name then channel.

    A contact is chosen when its escalation level is `level` and it holds a role of
    some rule matching the event. `family` is None for events without one; rules
    filtering on families or severity then do not match.
    """
    if event not in ROUTABLE:
        raise ValueError(f"unknown event {event!r}; one of {', '.join(ROUTABLE)}")
    try:
        parsed_tier = Tier(tier)
    except ValueError:
        tiers = ", ".join(t.value for t in Tier)
        raise ValueError(f"unknown tier {tier!r}; one of {tiers}") from None
    if level < 1:
        raise ValueError(f"level must be 1 or more, not {level}")
    now = aware(now)
    severity = severity_of(family) if family is not None else None
    wanted = {
        role
        for rule in rules
        if _matches(rule, event, family, parsed_tier, severity)
        for role in rule.roles
    }
    # An escalation exists because an emergency went unanswered: never hold it.
    urgent = severity == "emergency" or event == "escalation"
    immediate = is_immediate(event, severity)
    deliveries: list[tuple[str, int, str, Delivery]] = []
    for index, contact in enumerate(contacts):
        roles = [role for role in ROLES if role in wanted and role in contact.roles]
        if contact.escalation_level != level or not roles:
            continue
        send_at, timing = _timing(contact, urgent, now)
        label = "role" if len(roles) == 1 else "roles"
        reason = f"{label} {', '.join(roles)}; {timing}"
        for channel in contact.channels():
            delivery = Delivery(contact, channel, send_at, reason, immediate)
            deliveries.append((contact.name, index, channel, delivery))
    return [delivery for *_, delivery in sorted(deliveries, key=lambda row: row[:3])]


def _matches(
    rule: RoutingRule, event: str, family: str | None, tier: Tier, severity: Severity | None
) -> bool:
    return (
        rule.event in ("*", event)
        and (rule.families is None or family in rule.families)
        and (rule.tiers is None or tier in rule.tiers)
        and (rule.severity is None or rule.severity == severity)
    )


def _timing(contact: ContactSpec, urgent: bool, now: datetime) -> tuple[datetime, str]:
    if urgent:
        return now, "emergency, sent at any hour"
    if contact.hours is None:
        return now, "no support hours set, reachable at any time"
    opens = contact.hours.next_open(now)
    if opens == now:
        return now, "within support hours"
    zone = contact.hours.timezone
    local = opens.astimezone(zone_of(zone))
    return opens, f"outside support hours, held until {local:%a %Y-%m-%d %H:%M} {zone}"
