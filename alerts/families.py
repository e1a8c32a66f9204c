"""Failure families: how the check outcomes group into incidents.

One incident (and one ticket) per integration and family: an expired token and
a host that is down are different problems with different owners, while a
timeout and a refused connection are the same one ("we cannot reach you").

End-to-end scenarios are their own family whatever their failing step's
outcome: a lead that does not travel through the partner's API is one problem
("the integration does not work end to end"), found by the test team's
scenario, and its ticket says which step broke.

`heartbeat` is a job that pings intmon and went quiet past its grace, or
pinged `/fail` (`integrations.heartbeats`): one problem ("the job does not do its
work"), whichever of the two it was; the detail says which.

`postback` is a broker whose postbacks (status or conversion callbacks about
the leads it accepted) stopped or thinned out (`integrations.postbacks`): the
broker's API may still answer every probe while its callbacks are broken.

`platform` is intmon's own side (a secret unset where the check runs, a request
that cannot be rendered): an internal incident for the platform's operators
(role `operational_internal`), never a client ticket, never a message to the
partner, and the platform is liable for what it costs.
"""

from __future__ import annotations

import enum

from core.vocabulary.outcomes import Outcome
from integrations.scenarios import E2E_CHECK_PREFIX


class Family(enum.StrEnum):
    AUTH = "auth"
    CONNECTIVITY = "connectivity"
    SERVER = "server"
    CONTRACT = "contract"
    RATE_LIMIT = "rate_limit"
    DEGRADED = "degraded"
    E2E = "e2e"
    PLATFORM = "platform"
    HEARTBEAT = "heartbeat"
    POSTBACK = "postback"
    LEAD_FLOW = "lead_flow"


# Families that are the platform's own problem: no client ticket, no partner contact.
INTERNAL_FAMILIES: frozenset[Family] = frozenset({Family.PLATFORM})


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
    Outcome.EGRESS_DENIED: Family.CONTRACT,
    Outcome.RATE_LIMITED: Family.RATE_LIMIT,
    Outcome.CONFIG_ERROR: Family.PLATFORM,
    Outcome.MISSED_HEARTBEAT: Family.HEARTBEAT,
    Outcome.MISSED_POSTBACKS: Family.POSTBACK,
    Outcome.LEAD_FLOW_ANOMALY: Family.LEAD_FLOW,
}

# The ticket topic a client reads in the list (seed 001: category → topic → form).
TOPICS: dict[Family, str] = {
    Family.AUTH: "API authentication failure",
    Family.CONNECTIVITY: "Partner API unreachable",
    Family.SERVER: "Partner API server errors",
    Family.CONTRACT: "Partner API contract changed or requests rejected",
    Family.RATE_LIMIT: "Partner API rate limit exceeded",
    Family.DEGRADED: "Partner API responding slowly",
    Family.E2E: "End-to-end scenario failing",
    Family.PLATFORM: "intmon cannot run the checks: its configuration or its own network "
    "(platform side)",
    Family.HEARTBEAT: "A scheduled job stopped reporting or reported a failure (heartbeat)",
    Family.POSTBACK: "The broker's postbacks about delivered leads stopped or thinned out",
    Family.LEAD_FLOW: "The broker accepts far fewer leads, or answers far slower, than usual",
}

# What a support engineer does first; goes into the ticket form.
FIRST_STEPS: dict[Family, str] = {
    Family.AUTH: "Check the credentials (token expiry, rotated keys) with the partner.",
    Family.CONNECTIVITY: "Check the partner host: DNS, firewall, TLS certificate, is it up.",
    Family.SERVER: "The partner's server fails; ask the partner's technical contact.",
    Family.CONTRACT: "Compare the response with the contract; ask whether the API changed.",
    Family.RATE_LIMIT: "Compare our request rate with the partner's limit; lower it or ask.",
    Family.DEGRADED: "The partner answers, but slower than the configured limit.",
    Family.E2E: "Read the run's report (intmon e2e show RUN_ID): which step failed and why.",
    Family.PLATFORM: "Fix intmon's side: set the secret or file the detail names where the "
    "workers run (intmon validate lists them), or correct the request template.",
    Family.HEARTBEAT: "Check the job on the partner's side: did it run (cron, scheduler), did it "
    "fail (the last /fail body is in the detail), can it reach intmon's ping URL.",
    Family.POSTBACK: "Ask the broker whether its postbacks (status callbacks) are sent and to "
    "which URL; compare intmon postbacks list with the leads it accepted (intmon leads report).",
    Family.LEAD_FLOW: "Read the top rejection reasons (intmon leads flow -i ID): ask the broker "
    "what changed (validation, caps, duplicates), and whether our lead data changed.",
}


def is_internal(family: str | None) -> bool:
    """Whether incidents of `family` stay inside the platform (see INTERNAL_FAMILIES)."""
    return family is not None and family in INTERNAL_FAMILIES


def family_of(outcome: Outcome, check_name: str = "") -> Family | None:
    """The failure family of a result; None for a passing one. Results of scheduled
    scenarios (check `e2e:<scenario>`) are family `e2e` whatever the outcome."""
    family = FAMILY_OF[outcome]
    if (
        family is not None
        and family not in INTERNAL_FAMILIES
        and check_name.startswith(E2E_CHECK_PREFIX)
    ):
        return Family.E2E
    return family
