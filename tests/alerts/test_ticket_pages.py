"""Keyset pages of the ticket queue: pages put together are the queue, on both backends.

Tickets are inserted as rows with deliberate ties (several share a deadline,
several share a creation time), in every status, for two clients and two
integrations, so each branch of the two-run keyset is crossed by some page
boundary: inside the active run, from the active run into the finished one,
and inside the finished run.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from alerts.errors import InvalidTicketInput
from alerts.models import Ticket
from alerts.queries import list_tickets, ticket_page
from alerts.ticket_pages import Position, TicketFilter, decode_cursor, encode_cursor
from tests.alerts.helpers import T0, setup

STATUSES = ("open", "in_progress", "waiting_for_reply", "closed", "rejected")
ACTIVE = {"open", "in_progress", "waiting_for_reply"}
SECTIONS = ("system_errors", "app_help", "documents_finance")


def seed(engine: Engine, count: int = 45) -> list[dict[str, object]]:
    setup(engine, "a", "o")
    rows: list[dict[str, object]] = []
    for i in range(count):
        created = T0 + timedelta(minutes=i // 3)  # three tickets per minute: ties
        rows.append(
            {
                "origin": "manual",
                "client": ("acme", "orbit")[i % 2],
                "integration_id": ("a", "o", None)[i % 3],
                "tier": "standard",
                "section": SECTIONS[i % 3],
                "subtype": "invoice" if i % 3 == 2 else None,
                "topic": f"ticket {i}",
                "status": STATUSES[(i * 7) % 5],
                "form": {},
                "created_at": created,
                "updated_at": created,
                # Deadlines repeat, out of creation order: ties broken by arrival.
                "first_response_due_at": T0 + timedelta(hours=24 - (i % 4)),
            }
        )
    with engine.begin() as connection:
        connection.execute(insert(Ticket), rows)
    return rows


def queue_order(rows: list[dict[str, object]], order: str = "due", **match: object) -> list[int]:
    """The queue order computed in Python from the rows themselves (ids start at 1)."""
    numbered = [dict(row, id=i + 1) for i, row in enumerate(rows)]
    chosen = [r for r in numbered if all(r[k] == v for k, v in match.items())]
    by_arrival = order == "arrival"
    active = sorted(
        (r for r in chosen if r["status"] in ACTIVE),
        key=lambda r: (
            (r["created_at"], r["id"])
            if by_arrival
            else (r["first_response_due_at"], r["created_at"], r["id"])
        ),
    )
    finished = sorted(
        (r for r in chosen if r["status"] not in ACTIVE),
        key=lambda r: (r["created_at"], r["id"]),
        reverse=True,
    )
    return [int(str(r["id"])) for r in active + finished]


def all_pages(engine: Engine, filters: TicketFilter, limit: int) -> list[int]:
    ids: list[int] = []
    cursor = None
    for _ in range(1000):
        page = ticket_page(engine, filters, limit=limit, cursor=cursor)
        assert len(page.items) <= limit
        ids += [view.id for view in page.items]
        if page.next_cursor is None:
            return ids
        assert len(page.items) == limit  # only a full page says more may follow
        cursor = page.next_cursor
    raise AssertionError("paging did not end")


def test_the_first_page_is_the_queue_order(db_engine: Engine) -> None:
    rows = seed(db_engine)
    assert [v.id for v in list_tickets(db_engine, limit=1000)] == queue_order(rows)
    statuses = [v.status for v in list_tickets(db_engine, limit=1000)]
    assert set(statuses) == set(STATUSES)


@pytest.mark.parametrize("limit", [1, 2, 5, 7, 44, 45, 46])
def test_pages_put_together_are_the_queue(db_engine: Engine, limit: int) -> None:
    rows = seed(db_engine)
    assert all_pages(db_engine, TicketFilter(), limit) == queue_order(rows)


@pytest.mark.parametrize("limit", [1, 7, 45])
def test_pages_in_order_of_arrival_put_together_are_that_queue(
    db_engine: Engine, limit: int
) -> None:
    """Seed 003: "tickets are handled in order of arrival", the console's default."""
    rows = seed(db_engine)
    expected = queue_order(rows, order="arrival")
    assert expected != queue_order(rows), "the seed's deadlines differ from arrival"
    assert all_pages(db_engine, TicketFilter(order="arrival"), limit) == expected


@pytest.mark.parametrize(
    "match",
    [
        {"status": "open"},
        {"status": "closed"},
        {"client": "acme"},
        {"integration_id": "o"},
        {"section": "app_help", "client": "orbit"},
    ],
)
def test_filtered_pages_put_together_are_the_filtered_queue(
    db_engine: Engine, match: dict[str, Any]
) -> None:
    rows = seed(db_engine)
    expected = queue_order(rows, **match)
    assert expected, "the seed has tickets for every filter"
    assert all_pages(db_engine, TicketFilter(**match), 4) == expected


def test_creation_time_bounds_apply_to_every_page(db_engine: Engine) -> None:
    rows = seed(db_engine)
    since, until = T0 + timedelta(minutes=3), T0 + timedelta(minutes=11)
    expected = [
        i
        for i in queue_order(rows)
        if since <= rows[i - 1]["created_at"] < until  # type: ignore[operator]
    ]
    filters = TicketFilter(created_from=since, created_to=until)
    assert (
        all_pages(db_engine, filters, 3)
        == expected
        == [v.id for v in ticket_page(db_engine, filters, limit=100).items]
    )


def test_the_last_page_has_no_cursor(db_engine: Engine) -> None:
    seed(db_engine, count=6)
    assert ticket_page(db_engine, TicketFilter(), limit=6).next_cursor is None
    assert ticket_page(db_engine, TicketFilter(), limit=5).next_cursor is not None


def test_a_cursor_round_trips_and_anything_else_is_refused_naming_cursor() -> None:
    position = Position(True, T0, 42, T0 + timedelta(hours=3))
    assert decode_cursor(encode_cursor(position)) == position
    finished = Position(False, T0, 7)
    assert decode_cursor(encode_cursor(finished)) == finished

    def b64(data: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    good = {"a": True, "c": T0.isoformat(), "i": 1, "d": T0.isoformat()}
    for bad in (
        "garbage!",
        "",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        b64([1, 2]),
        b64({**good, "i": "1"}),
        b64({**good, "a": "yes"}),
        b64({**good, "c": "2026-11-23T12:00:00"}),  # no offset
        b64({**good, "d": None}),
        b64({k: v for k, v in good.items() if k != "c"}),
    ):
        with pytest.raises(InvalidTicketInput) as refused:
            decode_cursor(bad)
        assert refused.value.field == "cursor", bad


def test_filters_are_checked_naming_the_field() -> None:
    for field, value in (("status", "done"), ("section", "misc")):
        with pytest.raises(InvalidTicketInput) as refused:
            TicketFilter(**{field: value})  # type: ignore[arg-type]
        assert refused.value.field == field
    with pytest.raises(InvalidTicketInput) as naive:
        TicketFilter(created_to=T0.replace(tzinfo=None))
    assert naive.value.field == "created_to"


def test_intmon_tickets_list_pages_with_the_printed_cursor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from core.db import engine_for, make_engine
    from core.settings import get_settings
    from intmon.cli import app
    from intmon.migrations import upgrade

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("INTMON_DATABASE_URL", url)
    monkeypatch.delenv("INTMON_REDIS_URL", raising=False)
    get_settings.cache_clear()
    engine = make_engine(url)
    upgrade(engine)
    rows = seed(engine, count=7)
    runner, numbers, args = CliRunner(), [], ["tickets", "list", "--limit", "3", "--json"]
    try:
        for _ in range(5):
            result = runner.invoke(app, args)
            assert result.exit_code == 0, result.output
            numbers += [t["id"] for t in json.loads(result.stdout)]
            if "--cursor" not in result.stderr:
                break
            args = [*args[:5], "--cursor", result.stderr.split("--cursor ")[1].strip()]
        bad = runner.invoke(app, ["tickets", "list", "--cursor", "nope"])
        assert bad.exit_code == 2 and "cursor: not a cursor" in bad.stderr
    finally:
        engine.dispose()
        engine_for(url).dispose()
        get_settings.cache_clear()
    assert numbers == queue_order(rows)
