"""Who is liable for a lead that was not delivered: the rule of seed 000, as a pure function.

The platform is not liable for leads sent into an integration under declared
maintenance, nor for leads sent into an integration broken by a broker-side
change the broker did not announce at least 48 hours before it took effect.
Applied to one failed (or expired) lead, first match wins:

1. `broker`  the moment falls inside a declared maintenance window
             (windows are half-open: the first second is inside, the end is not).
2. the failure belongs to an incident (same integration, open at that moment)
   or, lacking one, is itself an auth or contract failure; and a *breaking*
   change notice took effect before the incident began (no earlier than
   `NOTICE_REACH` before it):
   `broker`   the notice's lead time (effective − announced) is under 48 h;
   `platform` it is 48 h or more: the platform had the time it is owed to adapt.
3. `broker`  an auth or contract *incident* with no notice at all: an
             "unannounced broker change".
4. `platform` the broker refused the lead's data (rejected, not a duplicate):
             the payload is the platform's.
5. `undetermined` anything else (an outage or server errors outside any window,
             a lone failure): the evidence does not decide.

The moment judged is the attempt's time; for an expired lead, the time it was
first held (what made it wait), else its last failed attempt.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

NOTICE_LEAD_TIME = timedelta(hours=48)
# How long after taking effect a change can still explain an incident that begins.
NOTICE_REACH = timedelta(days=7)
CHANGE_FAMILIES = ("auth", "contract")


class Party(enum.StrEnum):
    BROKER = "broker"
    PLATFORM = "platform"
    UNDETERMINED = "undetermined"


@dataclass(frozen=True, slots=True)
class Failure:
    """One lead that was not delivered, at the moment that is judged."""

    integration_id: str
    lead_id: str
    at: datetime
    outcome: str  # a LeadOutcome value
    attempt_ids: tuple[int, ...] = ()
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class Window:
    name: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class IncidentSpan:
    id: int
    family: str
    first_seen: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class Notice:
    id: int
    name: str
    announced_at: datetime
    effective_at: datetime
    breaking: bool

    @property
    def lead_time(self) -> timedelta:
        return self.effective_at - self.announced_at


@dataclass(frozen=True, slots=True)
class Liability:
    party: Party
    reason: str
    evidence: list[str] = field(default_factory=list)


def hours(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


def liable_party(
    failure: Failure,
    windows: Sequence[Window],
    incidents: Sequence[IncidentSpan],
    notices: Sequence[Notice],
) -> Liability:
    attempts = [f"attempt:{i}" for i in failure.attempt_ids]
    at = failure.at
    for window in windows:
        if window.start <= at < window.end:
            return Liability(
                Party.BROKER,
                f"sent during declared maintenance {window.name!r} "
                f"({window.start.isoformat()} – {window.end.isoformat()})",
                [f"maintenance:{window.name}", *attempts],
            )
    incident = _incident_at(incidents, at)
    begun = incident.first_seen if incident else at
    change_failure = failure.outcome in ("failed_auth", "failed_contract")
    if incident is not None or change_failure:
        notice = _explaining_notice(notices, begun)
        if notice is not None:
            evidence = [f"notice:{notice.name}", *_incident_ref(incident), *attempts]
            lead = hours(notice.lead_time)
            if notice.lead_time < NOTICE_LEAD_TIME:
                reason = f"breaking change {notice.name!r} announced only {lead} ahead (< 48h)"
                return Liability(Party.BROKER, reason, evidence)
            reason = f"breaking change {notice.name!r} announced {lead} ahead (≥ 48h)"
            return Liability(Party.PLATFORM, reason, evidence)
    if incident is not None and incident.family in CHANGE_FAMILIES:
        return Liability(
            Party.BROKER,
            f"unannounced broker change: {incident.family} incident with no change notice",
            [*_incident_ref(incident), *attempts],
        )
    if failure.outcome == "rejected" and not failure.duplicate:
        return Liability(Party.PLATFORM, "the broker refused the lead's data", attempts)
    if incident is not None:
        reason = f"{incident.family} incident outside maintenance, no change notice"
        return Liability(Party.UNDETERMINED, reason, [*_incident_ref(incident), *attempts])
    return Liability(Party.UNDETERMINED, "no maintenance, incident or notice explains it", attempts)


def _incident_at(incidents: Sequence[IncidentSpan], at: datetime) -> IncidentSpan | None:
    live = [
        i
        for i in incidents
        if i.first_seen <= at and (i.resolved_at is None or at <= i.resolved_at)
    ]
    # A change explains auth/contract failures best; prefer those incidents.
    live.sort(key=lambda i: (i.family not in CHANGE_FAMILIES, -i.first_seen.timestamp()))
    return live[0] if live else None


def _explaining_notice(notices: Sequence[Notice], begun: datetime) -> Notice | None:
    candidates = [
        n for n in notices if n.breaking and begun - NOTICE_REACH <= n.effective_at <= begun
    ]
    return max(candidates, key=lambda n: n.effective_at) if candidates else None


def _incident_ref(incident: IncidentSpan | None) -> list[str]:
    return [] if incident is None else [f"incident:{incident.id}"]
