"""The numbers the alerting rules run on, in one place (filled from settings).

Defaults come from the support regulations in ../shared/seeds: a first response
within 24 h (3 h on premium, seed 003), a ticket waiting on the client for more
than 2 days closes (seed 001).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from core.settings import Settings

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True, slots=True)
class Policy:
    sla_standard_s: float = 24 * HOUR
    sla_premium_s: float = 3 * HOUR
    # A ticket waiting for the client's reply longer than this closes itself.
    auto_close_after_s: float = 2 * DAY
    # A failure that returns within this time after its ticket closed reopens it.
    reopen_window_s: float = DAY
    # An incident that comes back within this time after resolving is the same
    # incident; after `flap_threshold` such returns it is marked flapping and
    # resolves only once it has been quiet for a whole window.
    flap_window_s: float = HOUR
    flap_threshold: int = 3
    # Close a ticket nobody from support has answered yet when its incident recovers.
    auto_close_recovered: bool = True
    # Where links in tickets point (the web console); None leaves CLI hints only.
    public_url: str | None = None

    def sla(self, tier: str) -> timedelta:
        return timedelta(seconds=self.sla_premium_s if tier == "premium" else self.sla_standard_s)


def policy_of(settings: Settings) -> Policy:
    """The alerting policy the operator set (`INTMON_SLA_*`, `INTMON_AUTO_CLOSE_*`, …)."""
    return Policy(
        sla_standard_s=settings.sla_standard_h * HOUR,
        sla_premium_s=settings.sla_premium_h * HOUR,
        auto_close_after_s=settings.auto_close_after_h * HOUR,
        reopen_window_s=settings.reopen_window_h * HOUR,
        flap_window_s=settings.flap_window_s,
        flap_threshold=settings.flap_threshold,
        auto_close_recovered=settings.auto_close_recovered,
        public_url=settings.public_url,
    )
