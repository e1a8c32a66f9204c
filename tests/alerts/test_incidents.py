"""Incidents from results: thresholds, families, flapping, reopen, maintenance; both backends."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from alerts.models import Incident, Ticket, TicketComment
from alerts.policy import Policy
from core.vocabulary.outcomes import Outcome
from tests.alerts.helpers import T0, feed, setup

OK, AUTH, DOWN, SLOW = Outcome.OK, Outcome.AUTH_FAILURE, Outcome.CONNECTION_REFUSED, Outcome.SLOW


def incidents(engine: Engine) -> list[dict]:  # type: ignore[type-arg]
    with engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(select(Incident).order_by(Incident.id))]


def tickets(engine: Engine) -> list[dict]:  # type: ignore[type-arg]
    with engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(select(Ticket).order_by(Ticket.id))]


def comments(engine: Engine, ticket_id: int) -> list[str]:
    with engine.connect() as c:
        return list(
            c.execute(
                select(TicketComment.body)
                .where(TicketComment.ticket_id == ticket_id)
                .order_by(TicketComment.id)
            ).scalars()
        )


def test_opens_on_the_third_failure_and_resolves_after_two_passes(db_engine: Engine) -> None:
    specs = setup(db_engine, "a")
    assert not feed(db_engine, specs, [OK, AUTH, AUTH])
    done = feed(db_engine, specs, [AUTH], start=3)
    assert len(done.opened) == 1 and len(done.tickets_opened) == 1
    (incident,) = incidents(db_engine)
    assert (incident["family"], incident["state"], incident["failures"]) == ("auth", "open", 3)
    assert incident["first_seen"] == T0 + timedelta(minutes=1)  # when the streak began

    assert not feed(db_engine, specs, [AUTH, OK], start=4).resolved
    assert incidents(db_engine)[0]["failures"] == 4
    done = feed(db_engine, specs, [OK], start=6)
    assert done.resolved == [incident["id"]]
    (ticket,) = tickets(db_engine)
    # Nobody from support answered yet: it closes itself as recovered.
    assert (ticket["status"], ticket["close_reason"]) == ("closed", "recovered")
    assert "Recovered at" in comments(db_engine, ticket["id"])[-1]


def test_the_ticket_form_holds_what_support_needs_without_secrets(db_engine: Engine) -> None:
    specs = setup(db_engine, "a")
    feed(db_engine, specs, [AUTH, AUTH, AUTH])
    (ticket,) = tickets(db_engine)
    form = ticket["form"]
    assert ticket["section"] == "system_errors" and ticket["topic"] == "API authentication failure"
    assert (form["account"], form["integration_id"], form["failure_class"]) == (
        "acme",
        "a",
        "auth_failure",
    )
    assert form["request"]["method"] == "GET"
    assert form["request"]["url"] == "http://127.0.0.1:9/health"
    assert form["request"]["headers"]["Authorization"] == "[REDACTED]"
    assert form["response"]["status"] == 401 and "nope" in form["response"]["excerpt"]
    assert form["steps_to_reproduce"][0].startswith("Run: curl")
    assert form["history"]["cli"] == "intmon status -i a --history 50"
    assert "PARTNER_TOKEN" not in str(form)


def test_families_are_separate_incidents_below_threshold_nothing_opens(db_engine: Engine) -> None:
    specs = setup(db_engine, "a")
    # Alternating families never make three in a row of either.
    assert not feed(db_engine, specs, [AUTH, DOWN, AUTH, DOWN, AUTH, DOWN])
    feed(db_engine, specs, [DOWN, DOWN], start=6)
    assert [i["family"] for i in incidents(db_engine)] == ["connectivity"]
    feed(db_engine, specs, [AUTH, AUTH, AUTH], start=8)
    assert [(i["family"], i["state"]) for i in incidents(db_engine)] == [
        ("connectivity", "open"),
        ("auth", "open"),
    ]
    assert len(tickets(db_engine)) == 2


def test_slow_is_a_degraded_incident(db_engine: Engine) -> None:
    specs = setup(db_engine, "a")
    feed(db_engine, specs, [SLOW, SLOW, SLOW])
    assert incidents(db_engine)[0]["family"] == "degraded"
    assert tickets(db_engine)[0]["topic"] == "Partner API responding slowly"


def test_per_integration_thresholds(db_engine: Engine) -> None:
    specs = setup(
        db_engine, "a", extra="    thresholds: {failure_threshold: 1, success_threshold: 3}"
    )
    assert feed(db_engine, specs, [DOWN]).opened
    assert not feed(db_engine, specs, [OK, OK], start=1).resolved
    assert feed(db_engine, specs, [OK], start=3).resolved


def test_a_failure_back_within_a_day_reopens_the_closed_ticket(db_engine: Engine) -> None:
    specs = setup(db_engine, "a")
    policy = Policy(flap_window_s=0)  # no flap merging: a second incident
    feed(db_engine, specs, [DOWN, DOWN, DOWN, OK, OK], policy=policy)
    assert tickets(db_engine)[0]["status"] == "closed"
    feed(db_engine, specs, [DOWN, DOWN, DOWN], start=60, policy=policy)
    assert len(incidents(db_engine)) == 2
    (ticket,) = tickets(db_engine)
    assert (ticket["status"], ticket["reopened"]) == ("open", 1)
    assert any(c.startswith("Reopened") for c in comments(db_engine, ticket["id"]))

    # A day and more later it is a new problem: a new ticket.
    feed(db_engine, specs, [OK, OK], start=63, policy=policy)
    feed(db_engine, specs, [DOWN, DOWN, DOWN], start=60 * 26, policy=policy)
    assert [t["status"] for t in tickets(db_engine)] == ["closed", "open"]


def test_flapping_is_one_incident_not_a_storm(db_engine: Engine) -> None:
    specs = setup(
        db_engine, "a", extra="    thresholds: {failure_threshold: 1, success_threshold: 1}"
    )
    policy = Policy(flap_window_s=600, flap_threshold=3)
    cycle = [DOWN, OK] * 6  # down/up every minute for 12 minutes
    done = feed(db_engine, specs, cycle, policy=policy)
    assert len(done.opened) == 1 and len(done.reopened) >= 3
    (incident,) = incidents(db_engine)
    assert incident["flapping"] and incident["state"] == "open"
    (ticket,) = tickets(db_engine)
    flap_notes = [c for c in comments(db_engine, ticket["id"]) if "flapping" in c]
    assert len(flap_notes) == 1
    # Quiet for a whole flap window: then it resolves.
    assert not feed(db_engine, specs, [OK] * 5, start=12, policy=policy).resolved
    assert feed(db_engine, specs, [OK] * 6, start=17, policy=policy).resolved
    assert incidents(db_engine)[0]["state"] == "resolved"


def test_an_incident_waits_for_every_failing_check(db_engine: Engine) -> None:
    specs = setup(db_engine, "a", checks="[{name: health, path: /h}, {name: leads, path: /l}]")
    feed(db_engine, specs, [DOWN, DOWN, DOWN], check="health")
    feed(db_engine, specs, [DOWN], start=3, check="leads")
    assert incidents(db_engine)[0]["checks"] == ["health", "leads"]
    feed(db_engine, specs, [OK, OK], start=4, check="health")
    assert incidents(db_engine)[0]["state"] == "open"  # leads still fails
    feed(db_engine, specs, [OK, OK], start=6, check="leads")
    assert incidents(db_engine)[0]["state"] == "resolved"


def test_maintenance_results_raise_nothing(db_engine: Engine) -> None:
    window = (
        "    maintenance:\n"
        "      - {id: upgrade, starts_at: '2026-11-23T12:00:00+00:00',"
        " ends_at: '2026-11-23T12:10:00+00:00', reason: broker upgrade}"
    )
    specs = setup(db_engine, "a", extra=window)
    assert not feed(db_engine, specs, [DOWN] * 10)  # minutes 0..9: inside
    # The streak did not count during maintenance: two more failures are not enough.
    assert not feed(db_engine, specs, [DOWN, DOWN], start=10)
    assert feed(db_engine, specs, [DOWN], start=12).opened
    with db_engine.connect() as c:
        flags = (
            c.exec_driver_sql("SELECT maintenance FROM check_results ORDER BY started_at")
            .scalars()
            .all()
        )
    assert [bool(f) for f in flags] == [True] * 10 + [False] * 3


def test_the_metrics_endpoint_exports_incidents_tickets_and_the_outbox(db_engine: Engine) -> None:
    from prometheus_client import generate_latest

    from core import outbox
    from intmon.metrics import aggregate_registry

    specs = setup(db_engine, "a", "b")
    feed(db_engine, specs, [AUTH, AUTH, AUTH])
    feed(db_engine, specs, [DOWN, DOWN, DOWN, OK, OK], integration="b")
    with db_engine.begin() as c:
        outbox.enqueue(c, target="escalation", kind="x", aggregate="t:1", payload={}, now=T0)
    page = generate_latest(aggregate_registry(engine=db_engine)).decode()
    assert 'intmon_incidents_open{family="auth",flapping="false"} 1.0' in page
    assert "connectivity" not in page  # b's incident resolved
    assert 'intmon_tickets{status="open"} 1.0' in page
    assert 'intmon_tickets{status="closed"} 1.0' in page
    assert "intmon_tickets_sla_breached 0.0" in page
    assert 'intmon_outbox_pending{target="escalation"} 1.0' in page
