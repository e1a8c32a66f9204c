"""Failure families: how the eleven check outcomes group into incidents.

One incident (and one ticket) per integration and family: an expired token and
a host that is down are different problems with different owners, while a
timeout and a refused connection are the same one ("we cannot reach you").
"""

from __future__ import annotations

import enum

from checks.outcomes import Outcome


class Family(enum.StrEnum):
    AUTH = "auth"
    CONNECTIVITY = "connectivity"
    SERVER = "server"
    CONTRACT = "contract"
    RATE_LIMIT = "rate_limit"
    DEGRADED = "degraded"


FAMILY_OF: dict[Outcome, Family | None] = {
    Outcome.OK: None,
    Outcome.SLOW: Family.DEGRADED,
    Outcome.AUTH_FAILURE: Family.AUTH,
    Outcome.DNS_FAILURE: Family.CONNECTIVITY,
    Outcome.CONNECTION_REFUSED: Family.CONNECTIVITY,
    Outcome.TIMEOUT: Family.CONNECTIVITY,
    Outcome.TLS_ERROR: Family.CONNECTIVITY,
    Outcome.SERVER_ERROR: Family.SERVER,
    Outcome.CLIENT_ERROR: Family.CONTRACT,
    Outcome.CONTRACT_VIOLATION: Family.CONTRACT,
    Outcome.RATE_LIMITED: Family.RATE_LIMIT,
}

# The ticket topic a client reads in the list (seed 001: category → topic → form).
TOPICS: dict[Family, str] = {
    Family.AUTH: "API authentication failure",
    Family.CONNECTIVITY: "Partner API unreachable",
    Family.SERVER: "Partner API server errors",
    Family.CONTRACT: "Partner API contract changed or requests rejected",
    Family.RATE_LIMIT: "Partner API rate limit exceeded",
    Family.DEGRADED: "Partner API responding slowly",
}

# What a support engineer does first; goes into the ticket form.
FIRST_STEPS: dict[Family, str] = {
    Family.AUTH: "Check the credentials (token expiry, rotated keys) with the partner.",
    Family.CONNECTIVITY: "Check the partner host: DNS, firewall, TLS certificate, is it up.",
    Family.SERVER: "The partner's server fails; ask the partner's technical contact.",
    Family.CONTRACT: "Compare the response with the contract; ask whether the API changed.",
    Family.RATE_LIMIT: "Compare our request rate with the partner's limit; lower it or ask.",
    Family.DEGRADED: "The partner answers, but slower than the configured limit.",
}


def family_of(outcome: Outcome) -> Family | None:
    """The failure family of an outcome; None for a passing one."""
    return FAMILY_OF[outcome]
