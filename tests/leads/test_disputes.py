"""Disputes judged end to end: results through the incident pipeline, windows and
notices in the registry, attempts in the ledger, and the verdict `judge_lead` gives.

Each case is one that pointed at the wrong side before incidents began at their
own family's first failure and expired leads were judged at what made them expire.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from alerts.lead_report import judge_lead
from alerts.models import Incident
from core.vocabulary.outcomes import Outcome
from integrations.leads.ledger import AttemptIn, record
from integrations.leads.liability import Party
from integrations.leads.notices import add_notice
from tests.alerts.helpers import T0, feed, setup

AUTH, DOWN, FIVE_HUNDRED = Outcome.AUTH_FAILURE, Outcome.CONNECTION_REFUSED, Outcome.SERVER_ERROR
# A window over minutes 0–10 of the timeline (T0 is 12:00 UTC).
WINDOW = (
    "    maintenance:\n"
    "      - {id: upgrade, starts_at: '2026-11-23T12:00:00+00:00',"
    " ends_at: '2026-11-23T12:10:00+00:00', reason: broker upgrade}"
)


def minute(m: float) -> str:
    return (T0 + timedelta(minutes=m)).isoformat()


def announce(engine: Engine, lead_hours: float, effective_minute: float) -> None:
    effective = T0 + timedelta(minutes=effective_minute)
    add_notice(
        engine,
        "a",
        {
            "id": "v2-auth",
            "announced_at": (effective - timedelta(hours=lead_hours)).isoformat(),
            "effective_at": effective.isoformat(),
            "description": "tokens move to the v2 scheme",
        },
        now=T0,
    )


def attempts(engine: Engine, *rows: tuple[float, str]) -> None:
    record(
        engine,
        [
            AttemptIn(lead_id="L1", integration="a", attempt=n, at=minute(m), outcome=outcome)  # type: ignore[arg-type]
            for n, (m, outcome) in enumerate(rows, start=1)
        ],
        {"a"},
    )


def verdict(engine: Engine) -> tuple[Party, str]:
    with engine.connect() as connection:
        liability = judge_lead(connection, "a", "L1")
    assert liability is not None
    return liability.party, liability.reason


def first_seen(engine: Engine, family: str) -> object:
    with engine.connect() as connection:
        return connection.execute(
            select(Incident.first_seen).where(Incident.family == family)
        ).scalar_one()


def test_an_outage_inside_maintenance_does_not_start_the_auth_incident(db_engine: Engine) -> None:
    """Unreachable inside the window, then auth failing from its end under a notice
    announced 72 h ahead: the lead lost afterwards is the platform's (it had the time)."""
    specs = setup(db_engine, "a", extra=WINDOW)
    feed(db_engine, specs, [DOWN] * 10)  # minutes 0–9, inside the window
    feed(db_engine, specs, [AUTH] * 5, start=10)
    assert first_seen(db_engine, "auth") == T0 + timedelta(minutes=10)
    announce(db_engine, lead_hours=72, effective_minute=10)
    attempts(db_engine, (20, "failed_auth"))
    party, reason = verdict(db_engine)
    assert party is Party.PLATFORM, reason
    assert "72h00m ahead (≥ 48h)" in reason


def test_server_errors_before_the_change_do_not_start_the_auth_incident(db_engine: Engine) -> None:
    specs = setup(db_engine, "a")
    feed(db_engine, specs, [FIVE_HUNDRED] * 5)  # minutes 0–4, no window
    feed(db_engine, specs, [AUTH] * 5, start=5)
    assert first_seen(db_engine, "auth") == T0 + timedelta(minutes=5)
    announce(db_engine, lead_hours=72, effective_minute=5)
    attempts(db_engine, (15, "failed_auth"))
    party, reason = verdict(db_engine)
    assert party is Party.PLATFORM, reason


def test_a_notice_after_the_incident_began_does_not_explain_it(db_engine: Engine) -> None:
    specs = setup(db_engine, "a")
    feed(db_engine, specs, [AUTH] * 5)
    announce(db_engine, lead_hours=72, effective_minute=3)  # took effect mid-incident
    attempts(db_engine, (10, "failed_auth"))
    party, reason = verdict(db_engine)
    # No notice explains it and nothing shows the broker changed anything.
    assert party is Party.UNDETERMINED, reason
    assert "no evidence the broker changed anything" in reason


def test_a_lead_held_in_maintenance_then_failing_after_it_is_judged_at_the_failure(
    db_engine: Engine,
) -> None:
    setup(db_engine, "a", extra=WINDOW)
    attempts(db_engine, (2, "held"), (12, "failed_server"), (14, "failed_server"), (30, "expired"))
    party, reason = verdict(db_engine)
    assert party is Party.UNDETERMINED, reason
    assert "during declared maintenance" not in reason


def test_a_lead_still_held_when_it_expired_is_judged_at_its_expiry(db_engine: Engine) -> None:
    setup(db_engine, "a", extra=WINDOW)
    attempts(db_engine, (2, "held"), (8, "expired"))
    party, reason = verdict(db_engine)
    assert party is Party.BROKER and "maintenance" in reason


def test_a_lead_held_in_maintenance_that_expired_after_it_is_not_the_brokers(
    db_engine: Engine,
) -> None:
    setup(db_engine, "a", extra=WINDOW)
    attempts(db_engine, (2, "held"), (25, "expired"))
    party, reason = verdict(db_engine)
    assert party is Party.UNDETERMINED, reason
