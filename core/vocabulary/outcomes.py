"""The outcomes a check can have, and the result record a probe returns.

Every result carries exactly one `Outcome`. These names are part of the public
contract (metrics labels, JSON output, the database), so never rename them.

Twelve outcomes describe the partner's answer (or its absence); among them
`egress_denied`: a redirect (or the DNS answer of a redirect's host) pointed
somewhere intmon's egress policy will not go (`core.egress`), so nothing was
sent there. `config_error`
describes intmon's side: the request could not be made as configured (a secret
that is unset or unreadable where the check runs, a rendered request that is
not valid). It is never the partner's fault, and `alerts.families` keeps it
away from clients and partners.

`missed_heartbeat` is the one outcome no probe produces: a heartbeat (a job
that pings intmon, `integrations.heartbeats`) stayed silent past its grace, or
the job pinged `/fail` to say it failed (the detail says which).

`missed_postbacks` is not a probe's either: over a postback monitor's window, too
small a share of the leads a broker accepted got a postback (a status or
conversion callback) from it, or none did (`integrations.postbacks`).

`lead_flow_anomaly` is not one either: the lead ledger's judgement that a
broker accepts far fewer leads, or answers far slower, than it usually does at
this hour of the week (`integrations.leads.flow`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only an annotation; shapes compiles regexes a CLI command never needs
    from core.vocabulary.shapes import Shape


class Outcome(enum.StrEnum):
    OK = "ok"
    SLOW = "slow"
    AUTH_FAILURE = "auth_failure"
    DNS_FAILURE = "dns_failure"
    CONNECTION_REFUSED = "connection_refused"
    TIMEOUT = "timeout"
    TLS_ERROR = "tls_error"
    SERVER_ERROR = "server_error"
    CLIENT_ERROR = "client_error"
    RATE_LIMITED = "rate_limited"
    CONTRACT_VIOLATION = "contract_violation"
    EGRESS_DENIED = "egress_denied"
    CONFIG_ERROR = "config_error"
    MISSED_HEARTBEAT = "missed_heartbeat"
    MISSED_POSTBACKS = "missed_postbacks"
    # A broker answers, but accepts far fewer leads (or far slower) than it usually does
    # (integrations.leads.flow): not a probe's outcome, the lead ledger's.
    LEAD_FLOW_ANOMALY = "lead_flow_anomaly"

    @property
    def is_up(self) -> bool:
        """Whether the partner answered usefully: ok and slow count as up."""
        return self in (Outcome.OK, Outcome.SLOW)

    @property
    def platform_side(self) -> bool:
        """Whether the failure is intmon's own, not the partner's."""
        return self is Outcome.CONFIG_ERROR


@dataclass(slots=True)
class CheckResult:
    """What one run of one check produced; plain data, safe to store and print.

    `detail` and `response_excerpt` are already redacted: no secret value of
    the integration appears in them.
    """

    integration_id: str
    check_name: str
    outcome: Outcome
    started_at: datetime
    duration_s: float
    http_status: int | None = None
    detail: str = ""
    response_excerpt: str = ""
    scheduled_at: datetime | None = None
    # Seconds the partner asked us to wait (Retry-After on a 429), if any.
    retry_after_s: float | None = None
    # Non-failing observations, e.g. a certificate that expires soon.
    warnings: list[str] = field(default_factory=list)
    # Unix time the partner's TLS certificate expires, when it was read.
    certificate_expires_at: float | None = None
    # The answer's shape (core.vocabulary.shapes), when the probe took it: always for an
    # auth or contract failure, now and then for a passing answer. Redacted.
    shape: Shape | None = None
