"""Tickets mirrored to external systems through the outbox, against local fake
Jira and webhook servers; replay after a killed dispatcher; sync-back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from alerts import documents, mirror, tickets
from alerts.models import TicketComment
from alerts.policy import Policy
from alerts.sender import close_all
from alerts.sinks import TicketSink, build_sink
from alerts.tickets import Actor
from core import outbox
from core.outbox import OutboxMessage
from core.vocabulary.outcomes import Outcome
from tests.alerts.helpers import T0, feed, setup
from tests.alerts.test_sinks import Fakes, config, fakes, server  # noqa: F401  (fixtures)

SUPPORT = Actor("support", "olga")
POLICY = Policy()
OPENED = T0 + timedelta(minutes=2)  # the third failure: the ticket opens
LATER = T0 + timedelta(minutes=10)


@pytest.fixture
def jira(db_engine: Engine, fakes: Fakes) -> Iterator[dict[str, TicketSink]]:  # noqa: F811
    """An integration with one open ticket and a Jira sink configured."""
    sink_config = config("jira", fakes.url)
    with db_engine.begin() as connection:
        documents.store(connection, {documents.SINKS: mirror.sink_document([sink_config])}, T0)
    specs = setup(db_engine, "a")
    feed(db_engine, specs, [Outcome.AUTH_FAILURE] * 3)
    sinks = {sink_config.name: build_sink(sink_config, retry_wait_s=0)}
    yield sinks
    close_all(sinks)


def pending(engine: Engine) -> int:
    with engine.connect() as c:
        return int(
            c.execute(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None), OutboxMessage.dead_at.is_(None))
            ).scalar_one()
        )


def test_a_ticket_its_comments_and_status_reach_jira_in_order(
    db_engine: Engine,
    jira: dict[str, TicketSink],
    fakes: Fakes,  # noqa: F811
) -> None:
    with db_engine.begin() as c:
        tickets.comment(c, 1, body="Token expired; asked the broker.", actor=SUPPORT, now=LATER)
        tickets.comment(c, 1, body="internal note", actor=SUPPORT, now=LATER, visibility="internal")
        tickets.set_status(c, 1, "waiting_for_reply", actor=SUPPORT, now=LATER)
    report = mirror.dispatch(db_engine, jira, POLICY, LATER)
    assert (report.sent, report.dead, report.retried) == (4, 0, 0)
    (issue,) = fakes.jira_issues.values()
    assert issue["summary"].startswith("INC-000001 API authentication failure")
    assert "intmon-INC-000001" in issue["labels"]
    bodies = [c["body"] for c in issue["comments"]]
    assert len(bodies) == 1 and bodies[0].startswith("Token expired")  # internal stays inside
    assert issue["status"] == "Waiting for customer"
    assert pending(db_engine) == 0
    # Nothing is sent twice.
    assert mirror.dispatch(db_engine, jira, POLICY, LATER).sent == 0


def test_a_dispatcher_killed_after_sending_does_not_duplicate(
    db_engine: Engine,
    jira: dict[str, TicketSink],
    fakes: Fakes,  # noqa: F811
) -> None:
    # A dispatcher leases the create, sends it, and dies before recording it.
    (message,) = outbox.claim(db_engine, list(jira), OPENED, lease_s=60)
    snapshot = None
    with db_engine.connect() as c:
        snapshot = mirror.snapshot(c, 1, POLICY)
    jira["jira-main"].create(snapshot, message.idempotency_key)
    assert len(fakes.jira_issues) == 1
    # Inside the lease nobody else takes it; after it, another dispatcher does.
    assert mirror.dispatch(db_engine, jira, POLICY, OPENED + timedelta(seconds=30)).sent == 0
    report = mirror.dispatch(db_engine, jira, POLICY, OPENED + timedelta(seconds=61))
    assert report.sent == 1
    assert len(fakes.jira_issues) == 1  # found its own issue instead of opening a second


def test_transient_failures_back_off_and_permanent_ones_are_recorded(
    db_engine: Engine,
    jira: dict[str, TicketSink],
    fakes: Fakes,  # noqa: F811
) -> None:
    fakes.fail("POST", "/rest/api/2/issue", 503, times=2)  # the in-call retry eats one
    report = mirror.dispatch(db_engine, jira, POLICY, OPENED)
    assert (report.sent, report.retried) == (0, 1)
    assert mirror.dispatch(db_engine, jira, POLICY, OPENED + timedelta(seconds=4)).sent == 0
    assert mirror.dispatch(db_engine, jira, POLICY, OPENED + timedelta(seconds=5)).sent == 1

    with db_engine.begin() as c:
        tickets.set_status(c, 1, "in_progress", actor=SUPPORT, now=LATER)
    fakes.jira_workflow = ["To Do"]  # no way to "In Progress": a permanent error
    report = mirror.dispatch(db_engine, jira, POLICY, LATER)
    assert report.dead == 1
    with db_engine.connect() as c:
        error = c.execute(
            select(OutboxMessage.last_error).where(OutboxMessage.dead_at.is_not(None))
        ).scalar_one()
    assert "In Progress" in error


def test_sync_back_brings_status_and_comments_once_and_does_not_echo(
    db_engine: Engine,
    jira: dict[str, TicketSink],
    fakes: Fakes,  # noqa: F811
) -> None:
    mirror.dispatch(db_engine, jira, POLICY, OPENED)
    (issue,) = fakes.jira_issues.values()
    issue["comments"].append(
        {
            "id": "900",
            "author": {"displayName": "Broker Bob"},
            "body": "Rotated the token.",
            "created": "2026-11-23T12:30:00.000+0000",
            "jsdPublic": True,
        }
    )
    issue["status"] = "In Progress"
    report = mirror.sync_back(db_engine, jira, POLICY, LATER)
    assert report.comments == 1 and report.status_changes == ["INC-000001: open → in_progress"]
    assert mirror.sync_back(db_engine, jira, POLICY, LATER).comments == 0
    with db_engine.connect() as c:
        imported = c.execute(
            select(TicketComment.author, TicketComment.body).where(
                TicketComment.external_ref.is_not(None)
            )
        ).one()
        ticket = tickets.load(c, 1)
    assert tuple(imported) == ("Broker Bob", "Rotated the token.")
    assert ticket.status == "in_progress" and ticket.first_responded_at is not None
    # The imported comment and status are not sent back to Jira.
    assert mirror.dispatch(db_engine, jira, POLICY, LATER).sent == 0
    assert len(issue["comments"]) == 1


def test_an_odd_comment_from_jira_is_stored_not_fatal(
    db_engine: Engine,
    jira: dict[str, TicketSink],
    fakes: Fakes,  # noqa: F811
) -> None:
    """A NUL, a 100 KB body and a 300-character author from the external system:
    stored within the columns (PostgreSQL refuses NUL in text), and the sync goes on."""
    mirror.dispatch(db_engine, jira, POLICY, OPENED)
    (issue,) = fakes.jira_issues.values()
    issue["comments"].append(
        {
            "id": "901",
            "author": {"displayName": "B" * 300},
            "body": "token\x00rotated " + "x" * 100_000,
            "created": "2026-11-23T12:30:00.000+0000",
            "jsdPublic": True,
        }
    )
    assert mirror.sync_back(db_engine, jira, POLICY, LATER).comments == 1
    with db_engine.connect() as c:
        author, body = c.execute(
            select(TicketComment.author, TicketComment.body).where(
                TicketComment.external_ref.is_not(None)
            )
        ).one()
    assert len(author) == mirror.AUTHOR_MAX and author.endswith("…")
    assert body.startswith("token\ufffdrotated ") and len(body) == mirror.BODY_MAX
