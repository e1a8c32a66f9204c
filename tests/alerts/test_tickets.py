"""The ticket lifecycle of seed 004: statuses, comments, sections and history; both backends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from alerts import tickets
from alerts.errors import InvalidTicketInput, InvalidTransition, TicketNotFound
from alerts.models import Ticket, TicketComment, TicketHistory
from alerts.policy import Policy
from alerts.tickets import SYSTEM, TRANSITIONS, Actor, Status
from tests.alerts.helpers import T0

SUPPORT = Actor("support", "anna")
CLIENT = Actor("client", "acme-owner")
POLICY = Policy()
MINUTE = timedelta(minutes=1)


def new(
    engine: Engine,
    *,
    tier: str = "standard",
    section: str = "system_errors",
    subtype: str | None = None,
    topic: str = "Orders API answers 500",
    now: Any = T0,
) -> int:
    with engine.begin() as c:
        return tickets.create(
            c,
            client="acme",
            tier=tier,
            section=section,
            subtype=subtype,
            topic=topic,
            form={"account": "acme", "question": "why 500?"},
            now=now,
            policy=POLICY,
            actor=CLIENT,
        )


def row(engine: Engine, ticket_id: int) -> dict[str, Any]:
    with engine.connect() as c:
        return dict(c.execute(select(Ticket).where(Ticket.id == ticket_id)).one()._mapping)


def history(engine: Engine, ticket_id: int) -> list[tuple[Any, ...]]:
    with engine.connect() as c:
        return [
            tuple(r)
            for r in c.execute(
                select(
                    TicketHistory.at,
                    TicketHistory.actor_kind,
                    TicketHistory.actor,
                    TicketHistory.action,
                    TicketHistory.old,
                    TicketHistory.new,
                )
                .where(TicketHistory.ticket_id == ticket_id)
                .order_by(TicketHistory.id)
            )
        ]


def comment_rows(engine: Engine, ticket_id: int) -> list[tuple[Any, ...]]:
    with engine.connect() as c:
        return [
            tuple(r)
            for r in c.execute(
                select(
                    TicketComment.id,
                    TicketComment.author_kind,
                    TicketComment.visibility,
                    TicketComment.body,
                )
                .where(TicketComment.ticket_id == ticket_id)
                .order_by(TicketComment.id)
            )
        ]


def move(engine: Engine, ticket_id: int, status: str, actor: Actor = SYSTEM, **kw: Any) -> None:
    with engine.begin() as c:
        tickets.set_status(c, ticket_id, status, actor=actor, now=kw.pop("now", T0), **kw)


def say(engine: Engine, ticket_id: int | str, actor: Actor, body: str = "hi", **kw: Any) -> int:
    with engine.begin() as c:
        return tickets.comment(
            c, ticket_id, body=body, actor=actor, now=kw.pop("now", T0 + MINUTE), **kw
        )


# How a fresh (open) ticket reaches each status before the transition under test.
REACH: dict[Status, list[Status]] = {
    Status.OPEN: [],
    Status.IN_PROGRESS: [Status.IN_PROGRESS],
    Status.WAITING_FOR_REPLY: [Status.WAITING_FOR_REPLY],
    Status.CLOSED: [Status.CLOSED],
    Status.REJECTED: [Status.REJECTED],
}

# The lifecycle written out independently of TRANSITIONS: row = from, column = to.
#            open  in_progress  waiting  closed  rejected
MATRIX = {
    "open": "same yes yes yes yes",
    "in_progress": "no same yes yes yes",
    "waiting_for_reply": "no yes same yes yes",
    "closed": "yes no no same no",
    "rejected": "no no no no same",
}
PAIRS = [
    (Status(current), wanted, verdict)
    for current, line in MATRIX.items()
    for wanted, verdict in zip(Status, line.split(), strict=True)
]


def test_the_matrix_is_the_lifecycle_in_the_code() -> None:
    assert len(PAIRS) == 25
    assert {(current, wanted) for current, wanted, verdict in PAIRS if verdict == "yes"} == {
        (current, wanted) for current, targets in TRANSITIONS.items() for wanted in targets
    }


@pytest.mark.parametrize(
    ("current", "wanted", "verdict"), PAIRS, ids=[f"{a}->{b}" for a, b, _ in PAIRS]
)
def test_every_status_pair(
    db_engine: Engine, current: Status, wanted: Status, verdict: str
) -> None:
    ticket_id = new(db_engine)
    number = tickets.ticket_number(ticket_id)
    for step in REACH[current]:
        move(db_engine, ticket_id, step)
    before_history = history(db_engine, ticket_id)
    before = row(db_engine, ticket_id)
    later = T0 + timedelta(hours=1)

    if verdict == "no":
        with pytest.raises(InvalidTransition) as caught:
            move(db_engine, ticket_id, wanted, now=later)
        message = str(caught.value)
        assert number in message
        assert f"from {current.value} to {wanted.value}" in message
        allowed = ", ".join(s.value for s in TRANSITIONS[current]) or "none (it is final)"
        assert message.endswith(f"allowed from {current.value}: {allowed}")
        assert row(db_engine, ticket_id) == before
        assert history(db_engine, ticket_id) == before_history
        return

    move(db_engine, ticket_id, wanted, now=later)
    after = row(db_engine, ticket_id)
    assert after["status"] == wanted.value
    if verdict == "same":  # a no-op: nothing written, not even updated_at
        assert after == before
        assert history(db_engine, ticket_id) == before_history
        return
    assert after["updated_at"] == later
    assert history(db_engine, ticket_id)[-1] == (
        later,
        "system",
        "intmon",
        "status",
        current.value,
        wanted.value,
    )
    if wanted in (Status.CLOSED, Status.REJECTED):
        assert (after["closed_at"], after["close_reason"]) == (later, "system")
    if wanted == Status.WAITING_FOR_REPLY:
        assert after["waiting_since"] == later


@pytest.mark.parametrize("status", ["done", "OPEN", "", "resolved"])
def test_an_unknown_status_names_the_field(db_engine: Engine, status: str) -> None:
    ticket_id = new(db_engine)
    with pytest.raises(InvalidTicketInput) as caught:
        move(db_engine, ticket_id, status)
    assert caught.value.field == "status"
    assert str(caught.value).startswith(f"status: unknown status {status!r}")
    assert row(db_engine, ticket_id)["status"] == "open"


def test_a_rejected_ticket_is_final(db_engine: Engine) -> None:
    ticket_id = new(db_engine)
    move(db_engine, ticket_id, Status.REJECTED, SUPPORT, reason="duplicate")
    assert row(db_engine, ticket_id)["close_reason"] == "duplicate"
    for wanted in (Status.OPEN, Status.IN_PROGRESS, Status.WAITING_FOR_REPLY, Status.CLOSED):
        with pytest.raises(InvalidTransition, match=r"none \(it is final\)"):
            move(db_engine, ticket_id, wanted, SUPPORT)
    # Nobody can talk it back to life either: not the client, not support.
    for actor in (CLIENT, SUPPORT):
        with pytest.raises(InvalidTicketInput) as caught:
            say(db_engine, ticket_id, actor)
        assert caught.value.field == "status"
        assert tickets.ticket_number(ticket_id) in str(caught.value)
    assert comment_rows(db_engine, ticket_id) == []


def test_closed_to_open_reopens(db_engine: Engine) -> None:
    ticket_id = new(db_engine)
    move(db_engine, ticket_id, Status.CLOSED, SUPPORT, reason="fixed", now=T0 + MINUTE)
    closed = row(db_engine, ticket_id)
    assert (closed["closed_at"], closed["close_reason"]) == (T0 + MINUTE, "fixed")
    assert closed["first_responded_at"] == T0 + MINUTE

    reopen_at = T0 + timedelta(days=3)
    move(db_engine, ticket_id, Status.OPEN, SUPPORT, now=reopen_at, policy=POLICY)
    reopened = row(db_engine, ticket_id)
    assert reopened["status"] == "open"
    assert (reopened["reopened"], reopened["closed_at"], reopened["close_reason"]) == (
        1,
        None,
        None,
    )
    # A new first-response clock, and reopening is not itself a response.
    assert reopened["first_response_due_at"] == reopen_at + timedelta(hours=24)
    assert reopened["first_responded_at"] is None

    move(db_engine, ticket_id, Status.CLOSED, now=reopen_at + MINUTE)
    move(db_engine, ticket_id, Status.OPEN, now=reopen_at + 2 * MINUTE)
    assert row(db_engine, ticket_id)["reopened"] == 2


# --- references -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "number"),
    [("INC-000042", 42), ("inc-42", 42), ("42", 42), (42, 42), (" INC-000042 ", 42), ("0042", 42)],
)
def test_parse_number(reference: str | int, number: int) -> None:
    assert tickets.parse_number(reference) == number
    assert tickets.ticket_number(number) == "INC-000042"


@pytest.mark.parametrize("reference", ["abc", "", "INC-", "INC-12x", "INC 12", "12.0", "#12"])
def test_bad_references_are_not_found(db_engine: Engine, reference: str) -> None:
    new(db_engine)
    with pytest.raises(TicketNotFound) as caught:
        say(db_engine, reference, SUPPORT)
    assert caught.value.reference == reference
    with pytest.raises(TicketNotFound), db_engine.begin() as c:
        tickets.load(c, reference)


@pytest.mark.parametrize("reference", ["INC-000999", "inc-999", "999", 999])
def test_a_missing_ticket_is_not_found(db_engine: Engine, reference: str | int) -> None:
    new(db_engine)
    with pytest.raises(TicketNotFound) as caught:
        say(db_engine, reference, SUPPORT)
    assert str(caught.value) == "ticket INC-000999 not found"
    with pytest.raises(TicketNotFound, match="INC-000999 not found"):
        move(db_engine, reference, Status.CLOSED)  # type: ignore[arg-type]
    with pytest.raises(TicketNotFound, match="INC-000999 not found"), db_engine.begin() as c:
        tickets.set_section(c, reference, "app_help", actor=SUPPORT, now=T0)


def test_an_existing_ticket_is_found_by_any_spelling(db_engine: Engine) -> None:
    ticket_id = new(db_engine)
    number = tickets.ticket_number(ticket_id)
    for reference in (number, number.lower(), str(ticket_id), ticket_id):
        say(db_engine, reference, CLIENT, body=f"via {reference!r}")
    assert len(comment_rows(db_engine, ticket_id)) == 4


# --- comments ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "body", "visibility", "field"),
    [
        (SUPPORT, "", "public", "body"),
        (SUPPORT, "  \n\t ", "public", "body"),
        (CLIENT, "", "public", "body"),
        (CLIENT, "secret note", "internal", "visibility"),
        (SUPPORT, "hello", "private", "visibility"),
        (SUPPORT, "hello", "", "visibility"),
    ],
)
def test_bad_comments_name_the_field(
    db_engine: Engine, actor: Actor, body: str, visibility: str, field: str
) -> None:
    ticket_id = new(db_engine)
    with pytest.raises(InvalidTicketInput) as caught:
        say(db_engine, ticket_id, actor, body=body, visibility=visibility)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert comment_rows(db_engine, ticket_id) == []
    assert row(db_engine, ticket_id)["first_responded_at"] is None


def test_an_unknown_author_kind_names_the_field() -> None:
    with pytest.raises(InvalidTicketInput) as caught:
        Actor("robot", "r2")
    assert caught.value.field == "author_kind"


@pytest.mark.parametrize(
    ("actor", "visibility", "responded"),
    [
        (SUPPORT, "public", True),
        (SUPPORT, "internal", False),  # a note to colleagues is not an answer
        (CLIENT, "public", False),
        (SYSTEM, "public", False),  # the monitor's own remarks are not an answer
        (SYSTEM, "internal", False),
    ],
)
def test_which_comment_is_the_first_response(
    db_engine: Engine, actor: Actor, visibility: str, responded: bool
) -> None:
    ticket_id = new(db_engine)
    at = T0 + timedelta(hours=2)
    say(db_engine, ticket_id, actor, visibility=visibility, now=at)
    assert row(db_engine, ticket_id)["first_responded_at"] == (at if responded else None)
    # A later answer never moves the first response.
    say(db_engine, ticket_id, SUPPORT, now=at + timedelta(hours=1))
    assert row(db_engine, ticket_id)["first_responded_at"] == (
        at if responded else at + timedelta(hours=1)
    )


@pytest.mark.parametrize(
    ("actor", "wanted", "responded"),
    [
        (SUPPORT, Status.IN_PROGRESS, True),
        (SUPPORT, Status.WAITING_FOR_REPLY, True),
        (SUPPORT, Status.CLOSED, True),
        (SUPPORT, Status.REJECTED, True),
        (SYSTEM, Status.IN_PROGRESS, False),
        (SYSTEM, Status.CLOSED, False),
        (CLIENT, Status.CLOSED, False),
    ],
)
def test_a_support_status_change_is_a_response(
    db_engine: Engine, actor: Actor, wanted: Status, responded: bool
) -> None:
    ticket_id = new(db_engine)
    at = T0 + timedelta(hours=5)
    move(db_engine, ticket_id, wanted, actor, now=at)
    assert row(db_engine, ticket_id)["first_responded_at"] == (at if responded else None)


def test_a_client_reply_to_a_waiting_ticket_puts_it_back_in_progress(db_engine: Engine) -> None:
    ticket_id = new(db_engine)
    move(db_engine, ticket_id, Status.WAITING_FOR_REPLY, SUPPORT, now=T0 + MINUTE)
    say(db_engine, ticket_id, CLIENT, body="here are the logs", now=T0 + 2 * MINUTE)
    assert row(db_engine, ticket_id)["status"] == "in_progress"
    assert history(db_engine, ticket_id)[-1] == (
        T0 + 2 * MINUTE,
        "client",
        "acme-owner",
        "status",
        "waiting_for_reply",
        "in_progress",
    )


@pytest.mark.parametrize(
    ("status", "actor"),
    [
        (Status.OPEN, CLIENT),
        (Status.IN_PROGRESS, CLIENT),
        (Status.WAITING_FOR_REPLY, SUPPORT),
        (Status.WAITING_FOR_REPLY, SYSTEM),
        (Status.CLOSED, SUPPORT),
        (Status.CLOSED, SYSTEM),
    ],
)
def test_other_comments_leave_the_status_alone(
    db_engine: Engine, status: Status, actor: Actor
) -> None:
    ticket_id = new(db_engine)
    for step in REACH[status]:
        move(db_engine, ticket_id, step)
    say(db_engine, ticket_id, actor, visibility="public")
    assert row(db_engine, ticket_id)["status"] == status.value


def test_a_client_comment_on_a_closed_ticket_reopens_it(db_engine: Engine) -> None:
    ticket_id = new(db_engine)
    move(db_engine, ticket_id, Status.IN_PROGRESS, SUPPORT, now=T0 + MINUTE)
    move(db_engine, ticket_id, Status.CLOSED, SUPPORT, now=T0 + 2 * MINUTE, reason="fixed")
    later = T0 + timedelta(days=10)
    say(db_engine, ticket_id, CLIENT, body="it is broken again", now=later, policy=POLICY)
    ticket = row(db_engine, ticket_id)
    assert (ticket["status"], ticket["reopened"]) == ("open", 1)
    assert (ticket["closed_at"], ticket["close_reason"]) == (None, None)
    assert ticket["first_response_due_at"] == later + timedelta(hours=24)
    assert ticket["first_responded_at"] is None
    assert [h[3:] for h in history(db_engine, ticket_id)[-2:]] == [
        ("comment_public", None, str(comment_rows(db_engine, ticket_id)[-1][0])),
        ("status", "closed", "open"),
    ]


# --- sections ---------------------------------------------------------------------

SECTION_CASES = [
    # section, subtype, tier, the field named (None: accepted)
    ("system_errors", None, "standard", None),
    ("app_help", None, "standard", None),
    ("documents_finance", "metric_billing", "standard", None),
    ("documents_finance", "other", "premium", None),
    ("billing", None, "standard", "section"),
    ("System_Errors", None, "standard", "section"),
    ("", None, "standard", "section"),
    ("documents_finance", None, "standard", "subtype"),
    ("documents_finance", "taxes", "standard", "subtype"),
    ("documents_finance", "", "standard", "subtype"),
    ("system_errors", "other", "standard", "subtype"),
    ("app_help", "metric_billing", "standard", "subtype"),
    # Seed 003: the social tier is supported for system errors only.
    ("system_errors", None, "social", None),
    ("app_help", None, "social", "section"),
    ("documents_finance", "other", "social", "section"),
]


@pytest.mark.parametrize(("section", "subtype", "tier", "field"), SECTION_CASES)
def test_create_checks_the_section(
    db_engine: Engine, section: str, subtype: str | None, tier: str, field: str | None
) -> None:
    if field is None:
        ticket = row(db_engine, new(db_engine, section=section, subtype=subtype, tier=tier))
        assert (ticket["section"], ticket["subtype"], ticket["status"]) == (
            section,
            subtype,
            "open",
        )
        return
    with pytest.raises(InvalidTicketInput) as caught:
        new(db_engine, section=section, subtype=subtype, tier=tier)
    assert caught.value.field == field
    with db_engine.connect() as c:
        assert c.execute(select(Ticket.id)).first() is None


@pytest.mark.parametrize(("section", "subtype", "tier", "field"), SECTION_CASES)
def test_set_section_checks_the_section(
    db_engine: Engine, section: str, subtype: str | None, tier: str, field: str | None
) -> None:
    ticket_id = new(db_engine, tier=tier)  # system_errors: valid on every tier
    if field is None:
        with db_engine.begin() as c:
            tickets.set_section(c, ticket_id, section, subtype=subtype, actor=SUPPORT, now=T0)
        ticket = row(db_engine, ticket_id)
        assert (ticket["section"], ticket["subtype"]) == (section, subtype)
        return
    with pytest.raises(InvalidTicketInput) as caught, db_engine.begin() as c:
        tickets.set_section(c, ticket_id, section, subtype=subtype, actor=SUPPORT, now=T0)
    assert caught.value.field == field
    ticket = row(db_engine, ticket_id)
    assert (ticket["section"], ticket["subtype"]) == ("system_errors", None)


@pytest.mark.parametrize("topic", ["", "   "])
def test_an_empty_topic_names_the_field(db_engine: Engine, topic: str) -> None:
    with pytest.raises(InvalidTicketInput) as caught:
        new(db_engine, topic=topic)
    assert caught.value.field == "topic"


def test_the_section_changes_while_open_and_unanswered(db_engine: Engine) -> None:
    ticket_id = new(db_engine, section="app_help")
    say(db_engine, ticket_id, CLIENT, body="it is about an invoice")
    with db_engine.begin() as c:
        tickets.set_section(
            c, ticket_id, "documents_finance", subtype="other", actor=SUPPORT, now=T0 + MINUTE
        )
    with db_engine.begin() as c:
        tickets.set_section(
            c,
            f"INC-{ticket_id:06d}",
            "documents_finance",
            subtype="metric_billing",
            actor=SUPPORT,
            now=T0 + 2 * MINUTE,
        )
    # The same section again changes nothing and records nothing.
    with db_engine.begin() as c:
        tickets.set_section(
            c,
            ticket_id,
            "documents_finance",
            subtype="metric_billing",
            actor=SUPPORT,
            now=T0 + 3 * MINUTE,
        )
    ticket = row(db_engine, ticket_id)
    assert (ticket["section"], ticket["subtype"]) == ("documents_finance", "metric_billing")
    assert ticket["updated_at"] == T0 + 2 * MINUTE
    assert [h[3:] for h in history(db_engine, ticket_id) if h[3] == "section"] == [
        ("section", "app_help", "documents_finance/other"),
        ("section", "documents_finance/other", "documents_finance/metric_billing"),
    ]


@pytest.mark.parametrize(
    "started",
    [
        "in_progress_by_system",
        "in_progress_by_support",
        "waiting_for_reply",
        "support_replied",
        "closed",
    ],
)
def test_once_work_starts_only_support_moves_the_section_with_a_reason(
    db_engine: Engine, started: str
) -> None:
    ticket_id = new(db_engine)
    if started == "in_progress_by_system":  # no response recorded: the status alone counts
        move(db_engine, ticket_id, Status.IN_PROGRESS, SYSTEM)
    elif started == "in_progress_by_support":
        move(db_engine, ticket_id, Status.IN_PROGRESS, SUPPORT)
    elif started == "support_replied":  # answered: now waiting for the client
        say(db_engine, ticket_id, SUPPORT, body="looking into it")
        assert row(db_engine, ticket_id)["status"] == "waiting_for_reply"
    else:
        move(db_engine, ticket_id, started)
    # Nobody but support moves it now; support, only with a reason.
    with pytest.raises(InvalidTicketInput) as caught, db_engine.begin() as c:
        tickets.set_section(c, ticket_id, "app_help", actor=CLIENT, now=T0 + MINUTE)
    assert caught.value.field == "section"
    assert tickets.ticket_number(ticket_id) in str(caught.value)
    assert row(db_engine, ticket_id)["section"] == "system_errors"
    with pytest.raises(InvalidTicketInput) as caught, db_engine.begin() as c:
        tickets.set_section(c, ticket_id, "app_help", actor=SUPPORT, now=T0 + MINUTE)
    assert caught.value.field == "reason"
    status = row(db_engine, ticket_id)["status"]
    with db_engine.begin() as c:
        tickets.set_section(
            c,
            ticket_id,
            "app_help",
            actor=SUPPORT,
            now=T0 + 2 * MINUTE,
            reason="agreed with the specialist",
        )
    after = row(db_engine, ticket_id)
    assert (after["section"], after["status"]) == ("app_help", status)
    assert history(db_engine, ticket_id)[-2][1:] == (
        "support",
        "anna",
        "section",
        "system_errors",
        "app_help",
    )
    said = comment_rows(db_engine, ticket_id)[-1]
    assert said[1:3] == ("system", "public")
    assert said[3] == "anna changed the question type from system_errors to app_help: " + (
        "agreed with the specialist"
    )


# --- history ----------------------------------------------------------------------


def test_every_change_is_in_the_history_in_order(db_engine: Engine) -> None:
    at = [T0 + n * MINUTE for n in range(10)]
    ticket_id = new(db_engine, section="app_help", now=at[0])
    c1 = say(db_engine, ticket_id, CLIENT, body="more details", now=at[1])
    c2 = say(db_engine, ticket_id, SUPPORT, body="billing?", visibility="internal", now=at[2])
    with db_engine.begin() as c:
        tickets.set_section(
            c, ticket_id, "documents_finance", subtype="other", actor=SUPPORT, now=at[3]
        )
    move(db_engine, ticket_id, Status.IN_PROGRESS, SUPPORT, now=at[4])
    c3 = say(db_engine, ticket_id, SUPPORT, body="which invoice?", now=at[5])
    # The answer already put it in waiting_for_reply: this is a no-op.
    move(db_engine, ticket_id, Status.WAITING_FOR_REPLY, SUPPORT, now=at[6])
    c4 = say(db_engine, ticket_id, CLIENT, body="number 17", now=at[7])
    move(db_engine, ticket_id, Status.CLOSED, SUPPORT, now=at[8], reason="answered")
    move(db_engine, ticket_id, Status.CLOSED, SUPPORT, now=at[9])  # no-op: not recorded

    assert history(db_engine, ticket_id) == [
        (at[0], "client", "acme-owner", "created", None, "open"),
        (at[1], "client", "acme-owner", "comment_public", None, str(c1)),
        (at[2], "support", "anna", "comment_internal", None, str(c2)),
        (at[3], "support", "anna", "section", "app_help", "documents_finance/other"),
        (at[4], "support", "anna", "status", "open", "in_progress"),
        (at[5], "support", "anna", "comment_public", None, str(c3)),
        (at[5], "support", "anna", "status", "in_progress", "waiting_for_reply"),
        (at[7], "client", "acme-owner", "comment_public", None, str(c4)),
        (at[7], "client", "acme-owner", "status", "waiting_for_reply", "in_progress"),
        (at[8], "support", "anna", "status", "in_progress", "closed"),
    ]
    assert [r[1:] for r in comment_rows(db_engine, ticket_id)] == [
        ("client", "public", "more details"),
        ("support", "internal", "billing?"),
        ("support", "public", "which invoice?"),
        ("client", "public", "number 17"),
    ]
    ticket = row(db_engine, ticket_id)
    assert (ticket["status"], ticket["close_reason"], ticket["closed_at"]) == (
        "closed",
        "answered",
        at[8],
    )
    assert ticket["first_responded_at"] == at[4]  # taking it in hand was the first response


def test_a_refused_change_leaves_no_history(db_engine: Engine) -> None:
    ticket_id = new(db_engine)
    move(db_engine, ticket_id, Status.REJECTED)
    before = history(db_engine, ticket_id)
    with pytest.raises(InvalidTransition):
        move(db_engine, ticket_id, Status.OPEN, SUPPORT, now=T0 + MINUTE)
    with pytest.raises(InvalidTicketInput):
        say(db_engine, ticket_id, CLIENT)
    with pytest.raises(InvalidTicketInput), db_engine.begin() as c:
        tickets.set_section(c, ticket_id, "app_help", actor=SUPPORT, now=T0 + MINUTE)
    assert history(db_engine, ticket_id) == before
    assert row(db_engine, ticket_id)["first_responded_at"] is None


@pytest.mark.parametrize(
    ("before", "actor", "visibility", "awaiting_client", "after"),
    [
        # Seed 004: support answered, the ticket waits for the client (not "Open").
        ([], SUPPORT, "public", True, "waiting_for_reply"),
        ([Status.IN_PROGRESS], SUPPORT, "public", True, "waiting_for_reply"),
        # "We are on it": support keeps the ticket in hand.
        ([], SUPPORT, "public", False, "in_progress"),
        ([Status.IN_PROGRESS], SUPPORT, "public", False, "in_progress"),
        ([Status.WAITING_FOR_REPLY], SUPPORT, "public", True, "waiting_for_reply"),
        # A note among colleagues, the monitor's remarks, the client: no move.
        ([], SUPPORT, "internal", True, "open"),
        ([], SYSTEM, "public", True, "open"),
        ([], CLIENT, "public", True, "open"),
        # An answer on a finished ticket does not reopen it.
        ([Status.CLOSED], SUPPORT, "public", True, "closed"),
    ],
)
def test_a_support_answer_moves_the_ticket_on(
    db_engine: Engine,
    before: list[Status],
    actor: Actor,
    visibility: str,
    awaiting_client: bool,
    after: str,
) -> None:
    ticket_id = new(db_engine)
    for status in before:
        move(db_engine, ticket_id, status, SUPPORT)
    say(db_engine, ticket_id, actor, visibility=visibility, awaiting_client=awaiting_client)
    assert row(db_engine, ticket_id)["status"] == after
    if after == "waiting_for_reply" and not before:
        # The auto-close clock (seed 001) runs from the answer, and history says who.
        assert row(db_engine, ticket_id)["waiting_since"] == T0 + MINUTE
        assert history(db_engine, ticket_id)[-1][1:] == (
            "support",
            "anna",
            "status",
            "open",
            "waiting_for_reply",
        )


def test_a_comment_mirrored_from_a_sink_leaves_the_status_to_the_sink(db_engine: Engine) -> None:
    ticket_id = new(db_engine)
    say(db_engine, ticket_id, SUPPORT, source_sink="jira", external_ref="jira:1")
    assert row(db_engine, ticket_id)["status"] == "open"


def test_a_rejected_ticket_keeps_its_section(db_engine: Engine) -> None:
    ticket_id = new(db_engine)
    move(db_engine, ticket_id, Status.REJECTED, SUPPORT)
    with pytest.raises(InvalidTicketInput) as caught, db_engine.begin() as c:
        tickets.set_section(c, ticket_id, "app_help", actor=SUPPORT, now=T0, reason="agreed")
    assert caught.value.field == "status"
