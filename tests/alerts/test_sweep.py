"""The periodic ticket sweep: first-response SLA breaches (maintenance time not counted)
and the 2-day auto-close of tickets waiting on the client; both backends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from alerts import tickets
from alerts.models import Ticket, TicketComment, TicketHistory
from alerts.outbox_targets import ESCALATION
from alerts.policy import Policy
from alerts.sweep import sweep
from alerts.tickets import SYSTEM, Actor, Status, ticket_number
from core.outbox import OutboxMessage
from integrations.maintenance import add_window
from tests.alerts.helpers import T0, setup

SUPPORT = Actor("support", "anna")
CLIENT = Actor("client", "acme-owner")
POLICY = Policy()
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
SLA = {"standard": 24 * HOUR, "premium": 3 * HOUR, "social": 24 * HOUR}


def new(
    engine: Engine,
    *,
    tier: str = "standard",
    integration_id: str | None = None,
    now: Any = T0,
    policy: Policy = POLICY,
) -> int:
    with engine.begin() as c:
        return tickets.create(
            c,
            client="acme",
            tier=tier,
            section="system_errors",
            topic="Orders API answers 500",
            form={},
            now=now,
            policy=policy,
            actor=CLIENT,
            integration_id=integration_id,
        )


def row(engine: Engine, ticket_id: int) -> dict[str, Any]:
    with engine.connect() as c:
        return dict(c.execute(select(Ticket).where(Ticket.id == ticket_id)).one()._mapping)


def move(engine: Engine, ticket_id: int, status: str, actor: Actor, now: Any, **kw: Any) -> None:
    with engine.begin() as c:
        tickets.set_status(c, ticket_id, status, actor=actor, now=now, **kw)


def say(engine: Engine, ticket_id: int, actor: Actor, now: Any, **kw: Any) -> None:
    with engine.begin() as c:
        tickets.comment(c, ticket_id, body=kw.pop("body", "hello"), actor=actor, now=now, **kw)


def escalations(engine: Engine) -> list[tuple[str, str, dict[str, Any]]]:
    with engine.connect() as c:
        return [
            (r.kind, r.aggregate, r.payload)
            for r in c.execute(
                select(OutboxMessage)
                .where(OutboxMessage.target == ESCALATION)
                .order_by(OutboxMessage.id)
            )
        ]


def comments(engine: Engine, ticket_id: int) -> list[tuple[str, str, str]]:
    with engine.connect() as c:
        return [
            tuple(r)  # type: ignore[misc]
            for r in c.execute(
                select(TicketComment.author_kind, TicketComment.visibility, TicketComment.body)
                .where(TicketComment.ticket_id == ticket_id)
                .order_by(TicketComment.id)
            )
        ]


def actions(engine: Engine, ticket_id: int) -> list[tuple[Any, ...]]:
    with engine.connect() as c:
        return [
            tuple(r)
            for r in c.execute(
                select(
                    TicketHistory.at,
                    TicketHistory.actor_kind,
                    TicketHistory.action,
                    TicketHistory.old,
                    TicketHistory.new,
                )
                .where(TicketHistory.ticket_id == ticket_id)
                .order_by(TicketHistory.id)
            )
        ]


# --- first-response SLA -----------------------------------------------------------


@pytest.mark.parametrize("tier", ["standard", "premium", "social"])
def test_an_unanswered_ticket_breaches_at_its_due_time_once(db_engine: Engine, tier: str) -> None:
    ticket_id = new(db_engine, tier=tier)
    number = ticket_number(ticket_id)
    due = T0 + SLA[tier]
    assert row(db_engine, ticket_id)["first_response_due_at"] == due

    for before in (T0, due - HOUR, due - SECOND):
        report = sweep(db_engine, POLICY, before)
        assert (report.breached, report.auto_closed) == ([], [])
    assert row(db_engine, ticket_id)["sla_breached_at"] is None
    assert escalations(db_engine) == []

    assert sweep(db_engine, POLICY, due).breached == [number]
    assert row(db_engine, ticket_id)["sla_breached_at"] == due
    # Later sweeps neither move the breach nor escalate it again.
    for after in (due, due + SECOND, due + 3 * DAY):
        assert sweep(db_engine, POLICY, after).breached == []
    ticket = row(db_engine, ticket_id)
    assert (ticket["sla_breached_at"], ticket["status"]) == (due, "open")

    ((kind, aggregate, payload),) = escalations(db_engine)
    assert (kind, aggregate) == ("ticket.sla_breached", f"ticket:{ticket_id}")
    assert payload == {
        "ticket_id": ticket_id,
        "number": number,
        "client": "acme",
        "integration_id": None,
        "tier": tier,
        "due_at": due.isoformat(),
        "breached_at": due.isoformat(),
    }
    assert actions(db_engine, ticket_id)[-1] == (
        due,
        "system",
        "sla_breached",
        None,
        due.isoformat(),
    )


def test_each_ticket_breaches_on_its_own_clock(db_engine: Engine) -> None:
    standard = ticket_number(new(db_engine, tier="standard"))
    premium = ticket_number(new(db_engine, tier="premium"))
    late_premium = ticket_number(new(db_engine, tier="premium", now=T0 + HOUR))
    assert [
        sweep(db_engine, POLICY, T0 + offset).breached
        for offset in (2 * HOUR, 3 * HOUR, 4 * HOUR - SECOND, 4 * HOUR, 24 * HOUR)
    ] == [[], [premium], [], [late_premium], [standard]]
    assert [p["number"] for _, _, p in escalations(db_engine)] == [premium, late_premium, standard]


@pytest.mark.parametrize(
    ("how", "breached"),
    [
        ("support public comment", False),
        ("support takes it in hand", False),
        ("support asks the client", False),
        ("support internal note", True),
        ("client comment", True),
        ("system comment", True),
        ("system moves it in progress", True),
    ],
)
def test_only_a_support_answer_before_due_stops_the_breach(
    db_engine: Engine, how: str, breached: bool
) -> None:
    ticket_id = new(db_engine)
    due = T0 + SLA["standard"]
    at = due - SECOND  # answered at the last moment
    if how == "support public comment":
        say(db_engine, ticket_id, SUPPORT, at)
    elif how == "support takes it in hand":
        move(db_engine, ticket_id, Status.IN_PROGRESS, SUPPORT, at)
    elif how == "support asks the client":
        move(db_engine, ticket_id, Status.WAITING_FOR_REPLY, SUPPORT, at)
    elif how == "support internal note":
        say(db_engine, ticket_id, SUPPORT, at, visibility="internal")
    elif how == "client comment":
        say(db_engine, ticket_id, CLIENT, at)
    elif how == "system comment":
        say(db_engine, ticket_id, SYSTEM, at)
    else:
        move(db_engine, ticket_id, Status.IN_PROGRESS, SYSTEM, at)
    assert bool(sweep(db_engine, POLICY, due).breached) is breached
    assert (row(db_engine, ticket_id)["sla_breached_at"] is not None) is breached
    assert len(escalations(db_engine)) == int(breached)


@pytest.mark.parametrize("final", [Status.CLOSED, Status.REJECTED])
@pytest.mark.parametrize("actor", [SYSTEM, CLIENT])
def test_a_finished_ticket_never_breaches(db_engine: Engine, final: Status, actor: Actor) -> None:
    ticket_id = new(db_engine)
    move(db_engine, ticket_id, final, actor, T0 + HOUR)
    assert row(db_engine, ticket_id)["first_responded_at"] is None  # not answered, just ended
    for later in (T0 + SLA["standard"], T0 + 30 * DAY):
        assert sweep(db_engine, POLICY, later).breached == []
    assert row(db_engine, ticket_id)["sla_breached_at"] is None
    assert escalations(db_engine) == []


def test_an_answer_after_the_breach_keeps_it_recorded(db_engine: Engine) -> None:
    ticket_id = new(db_engine)
    due = T0 + SLA["standard"]
    sweep(db_engine, POLICY, due)
    say(db_engine, ticket_id, SUPPORT, due + HOUR)
    ticket = row(db_engine, ticket_id)
    assert (ticket["sla_breached_at"], ticket["first_responded_at"]) == (due, due + HOUR)
    assert len(escalations(db_engine)) == 1


def test_a_reopened_ticket_gets_a_new_clock_and_may_breach_again(db_engine: Engine) -> None:
    ticket_id = new(db_engine, tier="premium")
    sweep(db_engine, POLICY, T0 + 3 * HOUR)
    move(db_engine, ticket_id, Status.CLOSED, SUPPORT, T0 + 4 * HOUR)
    reopen = T0 + 2 * DAY
    say(db_engine, ticket_id, CLIENT, reopen, body="broken again", policy=POLICY)
    ticket = row(db_engine, ticket_id)
    assert (ticket["status"], ticket["reopened"]) == ("open", 1)
    assert (ticket["first_response_due_at"], ticket["sla_breached_at"]) == (reopen + 3 * HOUR, None)

    assert sweep(db_engine, POLICY, reopen + 3 * HOUR - SECOND).breached == []
    assert sweep(db_engine, POLICY, reopen + 3 * HOUR).breached == [ticket_number(ticket_id)]
    assert [p["due_at"] for _, _, p in escalations(db_engine)] == [
        (T0 + 3 * HOUR).isoformat(),
        (reopen + 3 * HOUR).isoformat(),
    ]


# --- maintenance pauses the SLA clock ------------------------------------------------


def once(start: timedelta, end: timedelta, integration: str = "a") -> tuple[str, dict[str, Any]]:
    return integration, {
        "starts_at": (T0 + start).isoformat(),
        "ends_at": (T0 + end).isoformat(),
        "reason": "partner upgrade",
    }


# T0 is Monday 2026-11-23 12:00 UTC; the standard period runs to Tuesday 12:00.
MAINTENANCE = [
    # tier, windows (integration, spec), how much later it breaches
    ("standard", [once(8 * HOUR, 11 * HOUR)], 3 * HOUR),
    ("standard", [once(-2 * HOUR, HOUR)], HOUR),  # began before the ticket: only the overlap
    ("standard", [once(HOUR, 2 * HOUR), once(5 * HOUR, 7 * HOUR)], 3 * HOUR),
    ("standard", [once(HOUR, 3 * HOUR), once(2 * HOUR, 4 * HOUR)], 3 * HOUR),  # overlapping
    ("standard", [once(23 * HOUR, 25 * HOUR)], 2 * HOUR),  # straddles the plain due
    ("standard", [once(24 * HOUR, 26 * HOUR)], timedelta(0)),  # starts when the clock ran out
    ("standard", [once(-5 * HOUR, -4 * HOUR)], timedelta(0)),  # over before the ticket
    ("standard", [once(-HOUR, timedelta(0))], timedelta(0)),  # ends as the ticket opens
    ("standard", [once(8 * HOUR, 11 * HOUR, "b")], timedelta(0)),  # another integration's
    pytest.param(
        "standard",
        [("a", {"weekly": {"days": ["tue"], "start": "02:00", "end": "04:00"}})],
        2 * HOUR,
    ),
    pytest.param(
        "standard",  # 05:00-07:00 Moscow is 02:00-04:00 UTC
        [
            (
                "a",
                {
                    "weekly": {"days": ["tue"], "start": "05:00", "end": "07:00"},
                    "timezone": "Europe/Moscow",
                },
            )
        ],
        2 * HOUR,
    ),
    ("standard", [("a", {"cron": "0 20 * * mon", "duration_minutes": 90})], 90 * MINUTE),
    ("premium", [once(HOUR, 2 * HOUR)], HOUR),
    ("premium", [once(HOUR, 2 * HOUR), once(3 * HOUR, 4 * HOUR)], 2 * HOUR),  # pushed into a 2nd
    ("premium", [once(5 * HOUR, 6 * HOUR)], timedelta(0)),
]


@pytest.mark.parametrize(("tier", "windows", "shift"), MAINTENANCE)
def test_maintenance_time_is_not_counted(
    db_engine: Engine, tier: str, windows: list[tuple[str, dict[str, Any]]], shift: timedelta
) -> None:
    setup(db_engine, "a", "b", tier=tier)
    for integration, spec in windows:
        add_window(db_engine, integration, spec, T0 - DAY)
    ticket_id = new(db_engine, tier=tier, integration_id="a")
    number = ticket_number(ticket_id)
    due = T0 + SLA[tier] + shift

    if shift:
        assert sweep(db_engine, POLICY, T0 + SLA[tier]).breached == []  # the plain due
    assert sweep(db_engine, POLICY, due - SECOND).breached == []
    assert row(db_engine, ticket_id)["sla_breached_at"] is None
    assert sweep(db_engine, POLICY, due).breached == [number]
    assert row(db_engine, ticket_id)["sla_breached_at"] == due
    ((_, _, payload),) = escalations(db_engine)
    assert (payload["due_at"], payload["integration_id"]) == (due.isoformat(), "a")
    assert sweep(db_engine, POLICY, due + DAY).breached == []


def test_windows_declared_in_the_config_pause_the_clock_too(db_engine: Engine) -> None:
    setup(
        db_engine,
        "a",
        extra='    maintenance: [{weekly: {days: [tue], start: "02:00", end: "04:00"}}]',
    )
    with_window = new(db_engine, integration_id="a")
    manual = new(db_engine)  # no integration: no windows
    due = T0 + SLA["standard"]
    assert sweep(db_engine, POLICY, due).breached == [ticket_number(manual)]
    assert sweep(db_engine, POLICY, due + 2 * HOUR - SECOND).breached == []
    assert sweep(db_engine, POLICY, due + 2 * HOUR).breached == [ticket_number(with_window)]


def test_one_integrations_weekly_window_does_not_stop_the_sweep(db_engine: Engine) -> None:
    setup(db_engine, "a", "b")
    add_window(db_engine, "a", {"weekly": {"days": ["sun"], "start": "02:00", "end": "03:00"}}, T0)
    on_a = new(db_engine, integration_id="a")
    on_b = new(db_engine, integration_id="b")
    move(db_engine, on_b, Status.WAITING_FOR_REPLY, SUPPORT, T0)  # answered: no breach
    report = sweep(db_engine, POLICY, T0 + 3 * DAY)
    assert (report.breached, report.auto_closed) == (
        [ticket_number(on_a)],
        [ticket_number(on_b)],
    )


def test_a_window_added_after_the_ticket_still_counts(db_engine: Engine) -> None:
    setup(db_engine, "a")
    ticket_id = new(db_engine, integration_id="a")
    integration, spec = once(2 * HOUR, 6 * HOUR)
    add_window(db_engine, integration, spec, T0 + HOUR)
    due = T0 + SLA["standard"] + 4 * HOUR
    assert sweep(db_engine, POLICY, due - SECOND).breached == []
    assert sweep(db_engine, POLICY, due).breached == [ticket_number(ticket_id)]


# --- auto-close after 2 days without the client's reply -----------------------------


def waiting(engine: Engine, at: Any) -> int:
    ticket_id = new(engine)
    # Support answers but keeps the ticket in hand, then asks the client later.
    say(engine, ticket_id, SUPPORT, T0 + MINUTE, body="Looking into it", awaiting_client=False)
    move(engine, ticket_id, Status.WAITING_FOR_REPLY, SUPPORT, at)
    return ticket_id


def test_a_ticket_waiting_two_days_closes_itself_once(db_engine: Engine) -> None:
    asked = T0 + HOUR
    ticket_id = waiting(db_engine, asked)
    number = ticket_number(ticket_id)
    assert row(db_engine, ticket_id)["waiting_since"] == asked
    before = comments(db_engine, ticket_id)

    for early in (asked + DAY, asked + 2 * DAY - SECOND):
        assert sweep(db_engine, POLICY, early).auto_closed == []
    assert row(db_engine, ticket_id)["status"] == "waiting_for_reply"
    assert comments(db_engine, ticket_id) == before

    closing = asked + 2 * DAY
    report = sweep(db_engine, POLICY, closing)
    assert (report.auto_closed, report.breached) == ([number], [])
    ticket = row(db_engine, ticket_id)
    assert (ticket["status"], ticket["close_reason"], ticket["closed_at"]) == (
        "closed",
        "no_reply",
        closing,
    )
    *_, (author, visibility, body) = comments(db_engine, ticket_id)
    assert (author, visibility) == ("system", "public")
    assert "no reply" in body and "2 days" in body
    assert actions(db_engine, ticket_id)[-2:] == [
        (closing, "system", "comment_public", None, actions(db_engine, ticket_id)[-2][4]),
        (closing, "system", "status", "waiting_for_reply", "closed"),
    ]

    after = comments(db_engine, ticket_id)
    for later in (closing, closing + SECOND, closing + 10 * DAY):
        assert sweep(db_engine, POLICY, later).auto_closed == []
    assert comments(db_engine, ticket_id) == after
    assert row(db_engine, ticket_id)["closed_at"] == closing


def test_a_client_reply_restarts_the_two_days(db_engine: Engine) -> None:
    asked = T0 + HOUR
    ticket_id = waiting(db_engine, asked)
    say(db_engine, ticket_id, CLIENT, asked + DAY, body="order 17")
    assert row(db_engine, ticket_id)["status"] == "in_progress"
    assert sweep(db_engine, POLICY, asked + 2 * DAY).auto_closed == []
    assert sweep(db_engine, POLICY, asked + 10 * DAY).auto_closed == []  # not waiting: stays

    asked_again = asked + 10 * DAY + HOUR
    move(db_engine, ticket_id, Status.WAITING_FOR_REPLY, SUPPORT, asked_again)
    assert row(db_engine, ticket_id)["waiting_since"] == asked_again
    assert sweep(db_engine, POLICY, asked_again + 2 * DAY - SECOND).auto_closed == []
    assert sweep(db_engine, POLICY, asked_again + 2 * DAY).auto_closed == [ticket_number(ticket_id)]
    assert row(db_engine, ticket_id)["close_reason"] == "no_reply"


def test_the_client_can_revive_an_auto_closed_ticket(db_engine: Engine) -> None:
    asked = T0 + HOUR
    ticket_id = waiting(db_engine, asked)
    sweep(db_engine, POLICY, asked + 2 * DAY)
    say(db_engine, ticket_id, CLIENT, asked + 5 * DAY, body="still broken", policy=POLICY)
    ticket = row(db_engine, ticket_id)
    assert (ticket["status"], ticket["reopened"], ticket["close_reason"]) == ("open", 1, None)


@pytest.mark.parametrize(
    "status", [Status.OPEN, Status.IN_PROGRESS, Status.CLOSED, Status.REJECTED]
)
def test_only_tickets_waiting_on_the_client_auto_close(db_engine: Engine, status: Status) -> None:
    ticket_id = new(db_engine)
    if status != Status.OPEN:
        move(db_engine, ticket_id, status, SUPPORT, T0 + MINUTE)
    before = row(db_engine, ticket_id)
    assert sweep(db_engine, POLICY, T0 + 30 * DAY).auto_closed == []
    after = row(db_engine, ticket_id)
    assert (after["status"], after["closed_at"]) == (before["status"], before["closed_at"])


# --- policy values -------------------------------------------------------------------


def test_custom_policy_values_are_used(db_engine: Engine) -> None:
    policy = Policy(sla_standard_s=600, sla_premium_s=60, auto_close_after_s=3600)
    standard = new(db_engine, policy=policy)
    premium = new(db_engine, tier="premium", policy=policy)
    assert row(db_engine, standard)["first_response_due_at"] == T0 + 10 * MINUTE
    assert row(db_engine, premium)["first_response_due_at"] == T0 + MINUTE
    assert sweep(db_engine, policy, T0 + MINUTE - SECOND).breached == []
    assert sweep(db_engine, policy, T0 + MINUTE).breached == [ticket_number(premium)]
    assert sweep(db_engine, policy, T0 + 10 * MINUTE - SECOND).breached == []
    assert sweep(db_engine, policy, T0 + 10 * MINUTE).breached == [ticket_number(standard)]

    asked = T0 + HOUR
    move(db_engine, standard, Status.WAITING_FOR_REPLY, SUPPORT, asked)
    # The default policy would wait two days; this one an hour.
    assert sweep(db_engine, POLICY, asked + HOUR).auto_closed == []
    assert sweep(db_engine, policy, asked + HOUR - SECOND).auto_closed == []
    assert sweep(db_engine, policy, asked + HOUR).auto_closed == [ticket_number(standard)]
    assert row(db_engine, standard)["close_reason"] == "no_reply"


def test_custom_sla_with_maintenance(db_engine: Engine) -> None:
    policy = Policy(sla_standard_s=2 * 3600)
    setup(db_engine, "a")
    integration, spec = once(30 * MINUTE, 90 * MINUTE)
    add_window(db_engine, integration, spec, T0)
    ticket_id = new(db_engine, integration_id="a", policy=policy)
    due = T0 + 3 * HOUR
    assert sweep(db_engine, policy, due - SECOND).breached == []
    assert sweep(db_engine, policy, due).breached == [ticket_number(ticket_id)]
