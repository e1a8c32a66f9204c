"""Shared helpers for the alerts tests: a config, results on a controllable clock."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from alerts.incidents import Transitions
from alerts.intake import ingest
from alerts.models import Incident
from alerts.policy import Policy
from core.db import table_of
from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.apply import apply
from integrations.config import IntegrationSpec
from integrations.loader import load_text
from integrations.registry import load_specs

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

STATUS = {
    Outcome.OK: 200,
    Outcome.SLOW: 200,
    Outcome.AUTH_FAILURE: 401,
    Outcome.SERVER_ERROR: 503,
    Outcome.CLIENT_ERROR: 400,
    Outcome.RATE_LIMITED: 429,
    Outcome.CONTRACT_VIOLATION: 200,
}


def config_text(
    *ids: str,
    tier: str = "standard",
    extra: str = "",
    checks: str = "[{name: health, path: /health}]",
) -> str:
    body = "\n".join(
        f"""  - id: {i}
    name: {i.title()} Broker
    kind: broker
    client: acme
    tier: {tier}
    base_url: http://127.0.0.1:9
    auth: {{type: bearer, token: "${{PARTNER_TOKEN}}"}}
    interval_s: 60
    checks: {checks}
{extra}"""
        for i in ids
    )
    return f"version: 1\nintegrations:\n{body}\n"


def setup(engine: Engine, *ids: str, **kwargs: str) -> dict[str, IntegrationSpec]:
    apply(engine, load_text(config_text(*ids, **kwargs)))
    return {i: r.spec for i, r in load_specs(engine).items()}


def result(
    outcome: Outcome,
    minute: float,
    integration: str = "a",
    check: str = "health",
    detail: str | None = None,
) -> CheckResult:
    at = T0 + timedelta(minutes=minute)
    return CheckResult(
        integration_id=integration,
        check_name=check,
        outcome=outcome,
        started_at=at,
        duration_s=0.05,
        http_status=STATUS.get(outcome),
        detail=detail
        if detail is not None
        else ""
        if outcome is Outcome.OK
        else f"{outcome.value} at minute {minute:g}",
        response_excerpt="" if outcome is Outcome.OK else '{"error": "nope"}',
        scheduled_at=at,
    )


def feed(
    engine: Engine,
    specs: Mapping[str, IntegrationSpec],
    outcomes: list[Outcome],
    *,
    start: float = 0,
    integration: str = "a",
    check: str = "health",
    policy: Policy | None = None,
    detail: str | None = None,
) -> Transitions:
    """One result a minute; `now` is each result's own time. Returns all transitions."""
    total = Transitions()
    for offset, outcome in enumerate(outcomes):
        minute = start + offset
        done = ingest(
            engine,
            [result(outcome, minute, integration, check, detail)],
            specs,
            policy or Policy(),
            now=T0 + timedelta(minutes=minute),
        )
        total.opened += done.opened
        total.reopened += done.reopened
        total.resolved += done.resolved
        total.tickets_opened += done.tickets_opened
    return total


def open_auth_incident(engine: Engine, integration_id: str) -> int:
    """An open auth incident, as the alerts would have opened it; returns its id."""
    incidents = table_of(Incident)
    with engine.begin() as connection:
        return int(
            connection.execute(
                insert(incidents)
                .values(
                    integration_id=integration_id,
                    family="auth",
                    state="open",
                    opened_at=T0,
                    first_seen=T0,
                    last_seen=T0,
                    failures=3,
                    checks=[],
                    last_outcome="auth_failure",
                    last_detail="",
                    evidence={},
                    reopened=0,
                    flapping=False,
                    escalation_level=1,
                    reminders=0,
                )
                .returning(incidents.c.id)
            ).scalar_one()
        )
