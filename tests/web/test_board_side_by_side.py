"""The board's independent reads run side by side on PostgreSQL
(`intmon.web.side_by_side`): the board they make is the one made by reading one
after another, on both databases, for support and for a client; a read that
fails fails the board; each read sees the request's context."""

from __future__ import annotations

import contextvars
import threading
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from core import db
from core.settings import Settings
from core.vocabulary.outcomes import Outcome
from integrations.apply import apply
from integrations.loader import load_text
from integrations.registry import load_specs
from intmon.api.auth import Principal
from intmon.web import board as board_module
from intmon.web import side_by_side
from tests.alerts.helpers import T0, feed
from tests.test_api import CONFIG, NOW, PARTNER_SECRET

SETTINGS = Settings(redis_url=None, session_secret=SecretStr("s" * 40))


class OneAfterAnother:
    """`side_by_side.Pending` as it is on SQLite: the read runs when asked for."""

    def __init__(self, _engine: Engine, read: Any) -> None:
        self._read = read

    def result(self) -> Any:
        return self._read()


@pytest.fixture
def seeded(db_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("PARTNER_TOKEN", PARTNER_SECRET)
    monkeypatch.setattr(db, "utcnow", lambda: NOW)
    apply(db_engine, load_text(CONFIG), T0)
    specs = {i: r.spec for i, r in load_specs(db_engine).items()}
    feed(db_engine, specs, [Outcome.AUTH_FAILURE] * 3, integration="a")
    feed(db_engine, specs, [Outcome.OK, Outcome.SERVER_ERROR] * 2, integration="o")
    return db_engine


@pytest.mark.parametrize(
    "caller",
    [Principal("support", None, "sup"), Principal("client", "acme", "ann")],
    ids=["support", "client"],
)
def test_side_by_side_makes_the_same_board(
    seeded: Engine, caller: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    together = board_module.board(seeded, caller, SETTINGS, NOW)
    monkeypatch.setattr(side_by_side, "start", OneAfterAnother)
    apart = board_module.board(seeded, caller, SETTINGS, NOW)
    assert together == apart
    assert together.integrations and any(row.bar for row in together.integrations)
    assert together.tickets  # acme's ticket at least: the tickets read ran
    if caller.client is not None:
        assert {row.client for row in together.integrations} == {"acme"}
        assert {ticket.client for ticket in together.tickets} == {"acme"}


def test_reads_start_at_once_on_postgresql_only(db_engine: Engine) -> None:
    started = threading.Event()

    def read() -> str:
        started.set()
        return "read"

    pending = side_by_side.start(db_engine, read)
    # PostgreSQL: already running before anyone asks; SQLite: only when asked.
    assert started.wait(5) is (db_engine.dialect.name == "postgresql")
    assert pending.result() == "read" and pending.result() == "read"
    assert started.is_set()


def test_a_failed_read_fails_the_board(seeded: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("bars unreadable")

    monkeypatch.setattr(board_module, "latest_results", broken)
    with pytest.raises(RuntimeError, match="bars unreadable"):
        board_module.board(seeded, Principal("support", None, "sup"), SETTINGS, NOW)


def test_a_failed_read_fails_each_time_it_is_asked(db_engine: Engine) -> None:
    def broken() -> None:
        raise LookupError("gone")

    pending = side_by_side.start(db_engine, broken)
    for _ in range(2):
        with pytest.raises(LookupError, match="gone"):
            pending.result()


REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


def test_a_read_sees_the_callers_context(db_engine: Engine) -> None:
    REQUEST_ID.set("req-7")
    assert side_by_side.start(db_engine, REQUEST_ID.get).result() == "req-7"
