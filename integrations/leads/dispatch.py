"""The delivery queue's sending pass: send in arrival order inside the partner's budget, record.

One dispatcher at a time owns an integration's queue (a lease row in
`lead_dispatch`, taken with a conditional UPDATE like the outbox's), which is
what keeps arrival order with any number of workers. A pass over one
integration:

1. leads past their maximum hold time are expired, and while the integration
   is under maintenance or the caller's `hold` rule holds it (an open auth or
   connectivity incident: `alerts.lead_holds`), due leads are held (both in
   `holding`);
2. otherwise as many as the budget grants are sent, `concurrency` at a time:
   each lead's `sends` is counted and committed *before* its request goes out,
   so after a crash the resend knows an answer may have been lost, and the
   broker's duplicate answer then confirms the first delivery;
3. every answer is one ledger row and one state change, in one transaction.
   A failure is retried with backoff from the lead's own send count.

`drain` and `deliver_due` (what a `deliver_leads` message runs) repeat passes
over every integration with due leads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, update

from core.vocabulary.outcomes import CheckResult
from integrations.config import CheckSpec, IntegrationSpec
from integrations.leads import expiry
from integrations.leads.delivery import (
    LeadOutcome,
    delivery_check,
    delivery_integration,
    judge,
)
from integrations.leads.holding import HoldRule, _expire, _expire_orphans, _hold, hold_reason
from integrations.leads.lease import lease, release, renew
from integrations.leads.ledger import LEADS
from integrations.leads.queue import WAITING, DispatchReport, _due, _ledger, _set
from integrations.partner_budget import PartnerBudget
from integrations.registry import load_specs

log = logging.getLogger(__name__)

Send = Callable[[Sequence[tuple[IntegrationSpec, CheckSpec, None]]], list[CheckResult]]


def backoff(sends: int) -> timedelta:
    """2 s, 4 s, 8 s, … capped at 10 minutes."""
    return timedelta(seconds=min(2 ** max(sends, 1), 600))


def due_integrations(engine: Engine, now: datetime) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(LEADS.c.integration_id)
                .where(LEADS.c.state.in_(WAITING), LEADS.c.next_attempt_at <= now)
                .distinct()
            ).scalars()
        )


def registered_specs(engine: Engine, ids: list[str]) -> dict[str, IntegrationSpec]:
    return {key: registered.spec for key, registered in load_specs(engine, ids).items()}


def dispatch(
    engine: Engine,
    send: Send,
    budget: PartnerBudget,
    clock: Callable[[], datetime],
    *,
    hold: HoldRule,
    specs: Mapping[str, IntegrationSpec] | None = None,
    lease_s: float = 30.0,
    limit: int = 200,
) -> DispatchReport:
    """One pass over every integration with due leads (`specs`: default, the registry).

    `hold` says which integrations' leads wait (besides maintenance): given in, with
    no default, because the rule reads incidents, which live in `alerts`, a layer
    above this one; callers pass `alerts.lead_holds.open_incident_holds`."""
    report = DispatchReport()
    due = due_integrations(engine, clock())
    if specs is None:
        specs = registered_specs(engine, due)
    for integration_id in due:
        spec = specs.get(integration_id)
        if spec is None or spec.delivery is None:
            # Removed (or its delivery block dropped) since: its leads are not sent,
            # but still expire on time, so the report says what became of them.
            report.merge(_expire_orphans(engine, integration_id, clock()))
            continue
        owner = lease(engine, integration_id, clock(), lease_s)
        if owner is None:
            continue
        try:
            report.merge(_pass(engine, spec, send, budget, clock, hold, limit, (owner, lease_s)))
        finally:
            release(engine, integration_id, owner)
    return report


def _pass(
    engine: Engine,
    spec: IntegrationSpec,
    send: Send,
    budget: PartnerBudget,
    clock: Callable[[], datetime],
    hold: HoldRule,
    limit: int,
    held: tuple[str, float],
) -> DispatchReport:
    """One integration's due leads; `held`: our lease's owner token and length."""
    report = DispatchReport()
    now = clock()
    with engine.begin() as connection:
        leads = _due(connection, spec.id, now, limit)
        live = _expire(connection, spec, [lead for lead in leads], now, report)
        reason = hold_reason(connection, spec.id, now, hold)
        if reason is not None:
            _hold(connection, spec.id, live, reason, now, report)
            return report
    delivery = spec.delivery
    assert delivery is not None
    granted = len(live)
    if delivery.rate_limit_rps is not None:
        granted = budget.take(spec.id, len(live), delivery.rate_limit_rps, 1.0, now.timestamp())
    if granted < len(live):
        _defer(engine, live[granted:], now + timedelta(seconds=1), report)
    sending = live[:granted]
    target = delivery_integration(spec)
    for start in range(0, len(sending), delivery.concurrency):
        if not renew(engine, spec.id, held[0], clock(), held[1]):
            break  # our lease ran out and another dispatcher took the queue
        chunk = _claim_sends(engine, sending[start : start + delivery.concurrency], clock())
        if not chunk:
            continue
        checks = [delivery_check(delivery, row.lead_id, row.fields) for row in chunk]
        results = send([(target, check, None) for check in checks])
        requests = [_request_shown(spec, check) for check in checks]
        _record(engine, spec, chunk, results, requests, clock(), report)
    return report


def _defer(engine: Engine, leads: Sequence[Any], until: datetime, report: DispatchReport) -> None:
    """Over the partner's budget: try again in the next window (not an attempt)."""
    with engine.begin() as connection:
        for lead in leads:
            _set(connection, lead.id, next_attempt_at=until)
    report.deferred += len(leads)


def _claim_sends(engine: Engine, leads: Sequence[Any], now: datetime) -> list[Any]:
    """Count each lead's send before it goes out, if nobody else sent it since we read
    it (same send count, still waiting): the conditional UPDATE is the claim."""
    claimed = []
    with engine.begin() as connection:
        for lead in leads:
            taken = connection.execute(
                update(LEADS)
                .where(
                    LEADS.c.id == lead.id, LEADS.c.sends == lead.sends, LEADS.c.state.in_(WAITING)
                )
                .values(sends=LEADS.c.sends + 1, updated_at=now)
            ).rowcount
            if taken:
                claimed.append(lead)
    return claimed


def _record(
    engine: Engine,
    spec: IntegrationSpec,
    leads: Sequence[Any],
    results: Sequence[CheckResult],
    requests: Sequence[dict[str, Any]],
    now: datetime,
    report: DispatchReport,
) -> None:
    delivery = spec.delivery
    assert delivery is not None
    with engine.begin() as connection:
        for lead, result, request in zip(leads, results, requests, strict=True):
            sends = lead.sends + 1
            judged = judge(delivery, result, answer_was_lost=lead.sends > 0)
            outcome = judged.outcome
            detail = result.detail + (" (duplicate answer)" if judged.duplicate else "")
            _ledger(
                connection,
                lead,
                outcome,
                now,
                sends=sends,
                result=result,
                detail=detail,
                broker_id=judged.broker_lead_id,
                request=request,
            )
            values: dict[str, Any] = {
                "sends": sends,
                "last_outcome": outcome.value,
                "updated_at": now,
            }
            if outcome in (LeadOutcome.DELIVERED, LeadOutcome.REJECTED):
                values.update(state=outcome.value, broker_lead_id=judged.broker_lead_id)
            else:
                wait = backoff(sends)
                if judged.retry_after_s:
                    wait = max(wait, timedelta(seconds=min(judged.retry_after_s, 3600)))
                values.update(state="queued", next_attempt_at=now + wait)
            _set(connection, lead.id, **values)
            report.sent += 1
            report.note(lead, outcome)


def _request_shown(spec: IntegrationSpec, check: CheckSpec) -> dict[str, Any]:
    """The request as the ledger keeps it: secrets stay `${…}` references (they are
    resolved only inside the probe), so nothing here can leak one."""
    return {
        "method": check.method,
        "url": spec.base_url + check.path,
        "headers": dict(check.headers),
        "body": check.json_body,
    }


def drain(
    engine: Engine,
    send: Send,
    budget: PartnerBudget,
    clock: Callable[[], datetime],
    *,
    hold: HoldRule,
    budget_s: float = 10.0,
    lease_s: float = 30.0,
) -> DispatchReport:
    """Pass after pass while passes still send, for at most about `budget_s` seconds
    (the next message of the scheduler picks up what is left)."""
    total = DispatchReport()
    deadline = time.monotonic() + budget_s
    while True:
        report = dispatch(engine, send, budget, clock, hold=hold, lease_s=lease_s)
        total.merge(report)
        if report.sent == 0 or time.monotonic() >= deadline:
            return total


def deliver_due(
    engine: Engine,
    send: Send,
    budget: PartnerBudget,
    clock: Callable[[], datetime],
    *,
    hold: HoldRule,
    lease_s: float = 30.0,
) -> DispatchReport:
    """What a `deliver_leads` message does: drain the queues, then tell the platform
    about leads that expired (their messages were queued with the expiry)."""
    report = drain(engine, send, budget, clock, hold=hold, lease_s=lease_s)
    expiry.send_expired(engine, clock())
    return report


def pending_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).select_from(LEADS).where(LEADS.c.state.in_(WAITING))
            ).scalar_one()
        )


__all__ = ["HoldRule", "Send", "deliver_due", "dispatch", "drain", "pending_count"]
