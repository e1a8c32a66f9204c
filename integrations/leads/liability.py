"""Who is liable for a lead that was not delivered: the rule of seed 000, as a pure function.

The platform is not liable for leads sent into an integration under declared
maintenance, nor for leads sent into an integration broken by a broker-side
change the broker did not announce at least 48 hours before it took effect.
What it cannot prove the broker did stays `undetermined`, and what is intmon's
own doing is the platform's. Applied to one failed (or expired) lead, first
match wins:

1. `platform` the failure is intmon's own: a secret unset or unreadable where
              the delivery ran, a request it could not render (`failed_config`),
              a platform-side incident (family `platform`) open at that moment,
              or a platform outage (intmon's own network or resolver failing,
              alerts/platform_outages.py) covering that moment.
2. `broker`   the moment falls inside a declared maintenance window
              (windows are half-open: the first second is inside, the end is not).
3. the failure belongs to an incident (same integration, open at that moment;
   an incident begins at its own family's first failure outside maintenance)
   or, lacking one, is itself an auth or contract failure; and a *breaking*
   change notice took effect before the incident began (no earlier than
   `NOTICE_REACH` before it):
   `broker`   the notice's lead time (effective − announced) is under 48 h;
   `platform` it is 48 h or more: the platform had the time it is owed to adapt.
4. an auth or contract *incident* with no notice:
   `broker`       with evidence the broker changed something: the failing answer
                  differs from the contract learned from the passing ones
                  ("`$.status` removed, `$.state` added"): an unannounced change;
   `undetermined` without it: an expired token, a key rotated on our side, a
                  credential we failed to refresh look the same from here.
5. `platform` the broker refused the lead's data (rejected, not a duplicate):
              the payload is the platform's.
6. `undetermined` anything else (an outage or server errors outside any window,
              a lone failure): the evidence does not decide.

The moment judged is the attempt's time. An expired lead is judged at what made
it expire: its last failed attempt, or, when it was still held when it expired,
the moment it expired (the window or incident holding it then).
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
# The lead outcome and incident family that are intmon's own side.
PLATFORM_OUTCOME = "failed_config"
PLATFORM = "platform"


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
    # The outcome of the row judged when it is not the lead's last one: for an
    # expired lead, its last failed attempt's outcome, or "held".
    cause: str | None = None

    @property
    def judged_outcome(self) -> str:
        return self.cause or self.outcome


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
    # How the failing answer differs from the contract learned from passing ones;
    # empty when there was no difference or nothing was learned.
    changes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OutageSpan:
    """A platform outage: intmon's own network or resolver was failing."""

    id: int
    started_at: datetime
    ended_at: datetime | None  # None: still open
    cause: str  # canary | dns | correlated
    detail: str

    def covers(self, at: datetime) -> bool:
        return self.started_at <= at and (self.ended_at is None or at < self.ended_at)


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
    outages: Sequence[OutageSpan] = (),
) -> Liability:
    attempts = [f"attempt:{i}" for i in failure.attempt_ids]
    at, outcome = failure.at, failure.judged_outcome
    outage = next((o for o in outages if o.covers(at)), None)
    if outage is not None:
        return Liability(
            Party.PLATFORM,
            f"intmon's own network was failing (platform outage #{outage.id}: "
            f"{outage.cause}: {outage.detail})",
            [f"platform-outage:{outage.id}", *attempts],
        )
    incident = _incident_at(incidents, at)
    if outcome == PLATFORM_OUTCOME or (incident is not None and incident.family == PLATFORM):
        return Liability(
            Party.PLATFORM,
            "intmon's own side: the request could not be made as configured "
            "(a secret unset or unreadable where it ran, or a request it could not render)",
            [*_incident_ref(incident), *attempts],
        )
    for window in windows:
        if window.start <= at < window.end:
            return Liability(
                Party.BROKER,
                f"sent during declared maintenance {window.name!r} "
                f"({window.start.isoformat()} – {window.end.isoformat()})",
                [f"maintenance:{window.name}", *attempts],
            )
    begun = incident.first_seen if incident else at
    change_failure = outcome in ("failed_auth", "failed_contract")
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
        evidence = [*_incident_ref(incident), *attempts]
        if incident.changes:
            changed = "; ".join(incident.changes)
            return Liability(
                Party.BROKER,
                f"unannounced broker change: the partner's answer no longer matches its "
                f"learned contract ({changed}), and no change notice covers it",
                [*evidence, f"contract-diff:incident:{incident.id}"],
            )
        return Liability(
            Party.UNDETERMINED,
            f"{incident.family} incident with no change notice and no evidence the broker "
            "changed anything (the answer matches its learned contract, or none was learned)",
            evidence,
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
    # intmon's own failure explains everything after it; then a change explains
    # auth/contract failures best; then the incident that began last.
    live.sort(
        key=lambda i: (
            i.family != PLATFORM,
            i.family not in CHANGE_FAMILIES,
            -i.first_seen.timestamp(),
        )
    )
    return live[0] if live else None


def _explaining_notice(notices: Sequence[Notice], begun: datetime) -> Notice | None:
    candidates = [
        n for n in notices if n.breaking and begun - NOTICE_REACH <= n.effective_at <= begun
    ]
    return max(candidates, key=lambda n: n.effective_at) if candidates else None


def _incident_ref(incident: IncidentSpan | None) -> list[str]:
    return [] if incident is None else [f"incident:{incident.id}"]
