"""The delivery adapter: a lead becomes a request, the broker's answer an attempt outcome.

The request goes out through the same probe engine as the checks (auth,
secret resolution and redaction, TLS, body caps, classification), as a check
built from the integration's `delivery` block; only the meaning of the
classified outcome differs:

    ok, slow                                   → delivered
    a duplicate answer (DuplicateRule)         → delivered if an earlier attempt's
                                                 answer was lost, else rejected
    client_error (4xx)                         → rejected   (final: the data)
    auth_failure                               → failed_auth
    dns, refused, timeout, tls                 → failed_connection
    server_error, rate_limited                 → failed_server
    contract_violation, egress_denied          → failed_contract
    config_error                               → failed_config (intmon's side: a
                                                 secret unset here; held and retried)
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from typing import Any

from core.vocabulary.assertions import compile_assertion
from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.config import CheckSpec, Expectation, IntegrationSpec
from integrations.lead_templates import LeadDataError, render_body
from integrations.specs.leads import DeliverySpec

DELIVERY_CHECK = "lead-delivery"


class LeadOutcome(enum.StrEnum):
    DELIVERED = "delivered"
    REJECTED = "rejected"
    FAILED_AUTH = "failed_auth"
    FAILED_CONNECTION = "failed_connection"
    FAILED_SERVER = "failed_server"
    FAILED_CONTRACT = "failed_contract"
    FAILED_CONFIG = "failed_config"
    HELD = "held"
    EXPIRED = "expired"

    @property
    def failed(self) -> bool:
        return self.value.startswith("failed_")

    @property
    def final(self) -> bool:
        """A lead in this state is done: nothing more is sent."""
        return self in (LeadOutcome.DELIVERED, LeadOutcome.REJECTED, LeadOutcome.EXPIRED)


FAILURE_OF: dict[Outcome, LeadOutcome] = {
    Outcome.OK: LeadOutcome.DELIVERED,
    Outcome.SLOW: LeadOutcome.DELIVERED,
    Outcome.AUTH_FAILURE: LeadOutcome.FAILED_AUTH,
    Outcome.DNS_FAILURE: LeadOutcome.FAILED_CONNECTION,
    Outcome.CONNECTION_REFUSED: LeadOutcome.FAILED_CONNECTION,
    Outcome.TIMEOUT: LeadOutcome.FAILED_CONNECTION,
    Outcome.TLS_ERROR: LeadOutcome.FAILED_CONNECTION,
    Outcome.SERVER_ERROR: LeadOutcome.FAILED_SERVER,
    Outcome.RATE_LIMITED: LeadOutcome.FAILED_SERVER,
    Outcome.CLIENT_ERROR: LeadOutcome.REJECTED,
    Outcome.CONTRACT_VIOLATION: LeadOutcome.FAILED_CONTRACT,
    Outcome.EGRESS_DENIED: LeadOutcome.FAILED_CONTRACT,
    Outcome.CONFIG_ERROR: LeadOutcome.FAILED_CONFIG,
}


def validate_lead(spec: DeliverySpec, lead_id: str, fields: dict[str, Any]) -> Any:
    """Check a lead before it is stored; returns the rendered body."""
    for name in spec.required_fields:
        if fields.get(name) in (None, ""):
            raise LeadDataError(f"fields.{name}", "required by this integration's delivery")
    return render_body(spec.body, fields, lead_id)


def delivery_check(spec: DeliverySpec, lead_id: str, fields: dict[str, Any]) -> CheckSpec:
    """The request for one lead, as a check the probe engine can run."""
    headers = dict(spec.headers)
    if spec.idempotency_header:
        headers[spec.idempotency_header] = lead_id
    assertions = list(spec.success_json)
    if spec.lead_id_path:
        assertions.append(f"{spec.lead_id_path} exists")
    expect = Expectation.model_validate({"status": spec.success_status, "json": assertions})
    return CheckSpec.model_validate(
        {
            "name": DELIVERY_CHECK,
            "method": spec.method,
            "path": spec.path,
            "headers": headers,
            "json": render_body(spec.body, fields, lead_id),
            "expect": expect,
        }
    )


def delivery_integration(integration: IntegrationSpec) -> IntegrationSpec:
    """The integration as deliveries use it: no in-probe retry (a resent POST is the
    dispatcher's decision, with backoff and the duplicate rule), no redirects."""
    return integration.model_copy(update={"retries": 0, "follow_redirects": False})


@dataclass(frozen=True, slots=True)
class Judged:
    outcome: LeadOutcome
    broker_lead_id: str | None
    duplicate: bool
    retry_after_s: float | None


def judge(spec: DeliverySpec, result: CheckResult, *, answer_was_lost: bool) -> Judged:
    """What one sent attempt means for the lead.

    `answer_was_lost`: an earlier attempt of this lead may have reached the broker
    (its worker died, or it timed out), so a duplicate answer now confirms it."""
    broker_id = _broker_id(spec, result.response_excerpt)
    if _is_duplicate(spec, result):
        outcome = LeadOutcome.DELIVERED if answer_was_lost else LeadOutcome.REJECTED
        return Judged(outcome, broker_id, True, None)
    return Judged(FAILURE_OF[result.outcome], broker_id, False, result.retry_after_s)


def _is_duplicate(spec: DeliverySpec, result: CheckResult) -> bool:
    rule = spec.duplicate
    if result.http_status is None or result.http_status not in rule.status:
        return False
    return (
        rule.body_pattern is None
        or re.search(rule.body_pattern, result.response_excerpt) is not None
    )


def _broker_id(spec: DeliverySpec, excerpt: str) -> str | None:
    if not spec.lead_id_path or not excerpt:
        return None
    try:
        document = json.loads(excerpt)
    except ValueError:
        return None
    found, value = compile_assertion(f"{spec.lead_id_path} exists").first_match(document)
    return str(value)[:128] if found and value is not None else None
