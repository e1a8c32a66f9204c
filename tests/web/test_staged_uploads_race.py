"""Two sends of one new-ticket form at once, on PostgreSQL (issue 24): the files kept
from the duplicate warning (`intmon.web.staged_uploads`) go to exactly one ticket,
once each; the other send files nothing and says the files are no longer kept.

The console runs in uvicorn (`intmon.serve.ConsoleServer`) and the two sends are two
HTTP requests of one login, each in its own thread. So that they truly overlap, each
request waits at a barrier just before it claims the files: both tickets' transactions
are then open, each has filed its ticket, and both claim the same rows at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, Engine, func, select

from alerts.attachments import Upload
from alerts.models import Attachment, Ticket
from core import db
from core.db import table_of
from intmon.serve import ConsoleServer
from intmon.web import staged_uploads
from tests.test_api import PARTNER_SECRET
from tests.web.conftest import CSRF, NOW, PASSWORD, a_world, settings
from tests.web.test_staged_uploads import KEEP, LIKE_INC_1, LOG, PNG, staged_rows

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BARRIER_S = 20  # both requests reach the claim well within this, or the test fails


@pytest.fixture
def world(pg_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("PARTNER_TOKEN", PARTNER_SECRET)
    monkeypatch.setattr(db, "utcnow", lambda: NOW)
    a_world(pg_engine)
    return pg_engine


@pytest.fixture
def server(world: Engine) -> Iterator[ConsoleServer]:
    with ConsoleServer(world, settings(session_https_only=False)) as running:
        yield running


@pytest.fixture
def ann(server: ConsoleServer) -> Iterator[httpx.Client]:
    """acme's client, logged in: one session, whose requests may run side by side."""
    with httpx.Client(base_url=server.url, follow_redirects=True, timeout=60) as client:
        token = CSRF.search(client.get("/login").text)
        assert token is not None
        login = {"csrf": token.group(1), "username": "ann", "password": PASSWORD}
        answer = client.post("/login", data=login)
        assert answer.status_code == 200 and "/login" not in str(answer.url), answer.text[-500:]
        yield client


def csrf_of(client: httpx.Client) -> str:
    found = CSRF.search(client.get("/tickets/new?category=system_errors&topic_id=integration").text)
    assert found is not None
    return found.group(1)


def warned_with_two_files(client: httpx.Client) -> list[str]:
    """The duplicate warning, with two files kept on the server: their tokens."""
    files = [("files", ("shot.png", PNG, "image/png")), ("files", ("bot.log", LOG, "text/plain"))]
    warned = client.post("/tickets/new", data={"csrf": csrf_of(client), **LIKE_INC_1}, files=files)
    assert warned.status_code == 409 and 'id="duplicate"' in warned.text
    tokens = KEEP.findall(warned.text)
    assert len(tokens) == 2
    return tokens


def claims_meeting_at(
    monkeypatch: pytest.MonkeyPatch,
    parties: int,
    first: Callable[[Sequence[str]], bool] | None = None,
) -> tuple[threading.Barrier, list[list[str]]]:
    """Each claim waits for the others before it touches the rows, so that all the
    tickets' transactions are open at once; with `first` (a test of the form's listed
    tokens), the others also wait until that form's claim is done, its transaction
    still open. The files each claim found, by name."""
    barrier = threading.Barrier(parties, timeout=BARRIER_S)
    first_done = threading.Event()
    claimed: list[list[str]] = []
    real: Callable[..., list[Upload]] = staged_uploads.claim

    def claim_together(
        connection: Connection,
        owner: staged_uploads.Owner,
        tokens: Sequence[str],
        shown: Sequence[str],
        now: Any,
    ) -> list[Upload]:
        barrier.wait()
        leads = first is None or first(shown)
        if not leads:
            assert first_done.wait(BARRIER_S), "the first claim did not end"
        try:
            uploads = real(connection, owner, tokens, shown, now)
        finally:
            if leads:
                first_done.set()
        claimed.append([upload.name for upload in uploads])
        return uploads

    monkeypatch.setattr(staged_uploads, "claim", claim_together)
    return barrier, claimed


def send_at_once(client: httpx.Client, forms: list[dict[str, str]]) -> list[httpx.Response]:
    answers: list[httpx.Response | BaseException] = [RuntimeError("not sent")] * len(forms)

    def send(index: int) -> None:
        try:
            answers[index] = client.post("/tickets/new", data=forms[index])
        except BaseException as error:  # reported below, in the test's own thread
            answers[index] = error

    threads = [
        threading.Thread(target=send, args=(i,), name=f"send-{i}") for i in range(len(forms))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BARRIER_S * 3)
    done = [a for a in answers if isinstance(a, httpx.Response)]
    assert len(done) == len(forms), answers
    return done


def tickets_and_files(engine: Engine) -> tuple[list[int], list[tuple[int, str]]]:
    tickets, attachments = table_of(Ticket), table_of(Attachment)
    with engine.connect() as connection:
        ids = connection.execute(select(tickets.c.id).order_by(tickets.c.id)).scalars().all()
        files = connection.execute(
            select(attachments.c.ticket_id, attachments.c.name).order_by(attachments.c.id)
        ).all()
    return list(ids), [(int(row.ticket_id), str(row.name)) for row in files]


def test_the_same_form_sent_twice_at_once_files_one_ticket_with_the_files_once(
    world: Engine, ann: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = warned_with_two_files(ann)
    before, _ = tickets_and_files(world)
    form = {
        "csrf": csrf_of(ann),
        **LIKE_INC_1,
        "duplicate_ok": "1",
        "staged_shown": " ".join(tokens),
        **{f"keep:{token}": "1" for token in tokens},
    }
    barrier, claimed = claims_meeting_at(monkeypatch, 2)

    answers = send_at_once(ann, [form, form])

    assert not barrier.broken, "the two sends did not meet at the claim"
    assert claimed == [["shot.png", "bot.log"]]  # one claim found them; the other was refused
    filed = [a for a in answers if a.url.path.startswith("/tickets/INC-")]
    refused = [a for a in answers if a.status_code == 422]
    assert len(filed) == 1 and len(refused) == 1, [(a.status_code, a.url) for a in answers]
    assert "no longer kept" in refused[0].text
    after, files = tickets_and_files(world)
    (new,) = [ticket for ticket in after if ticket not in before]  # the refused one rolled back
    assert files == [(new, "shot.png"), (new, "bot.log")]
    assert staged_rows(world) == 0
    with world.connect() as connection:
        count = select(func.count()).select_from(table_of(Attachment))
        assert connection.execute(count).scalar_one() == 2


def test_a_file_claimed_meanwhile_is_refused_even_when_the_form_lists_another(
    world: Engine, ann: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two versions of one form sent at once (two tabs, or the back button): both keep
    `shot.png`; the second also lists `bot.log`, unticked, so it deletes that file as it
    claims. Counting the rows deleted is not enough: `bot.log` would make up for
    `shot.png` already taken by the first, and `shot.png` would be attached twice.
    Each kept file must be claimed by itself."""
    shot, log = warned_with_two_files(ann)
    csrf = csrf_of(ann)
    first = {
        "csrf": csrf,
        **LIKE_INC_1,
        "duplicate_ok": "1",
        "staged_shown": shot,
        f"keep:{shot}": "1",
    }
    second = {**first, "staged_shown": f"{shot} {log}"}
    # The first form's claim is done (its transaction open) before the second's starts.
    barrier, claimed = claims_meeting_at(monkeypatch, 2, first=lambda shown: log not in shown)

    answers = send_at_once(ann, [first, second])

    assert not barrier.broken
    assert claimed == [["shot.png"]], claimed
    assert [a.status_code for a in answers] == [200, 422], [a.url for a in answers]
    assert "no longer kept" in answers[1].text
    _, files = tickets_and_files(world)
    assert [name for _, name in files] == ["shot.png"]
    # The refused send's form is shown again without `shot.png` (taken) and, as its
    # sender unticked `bot.log`, that one is forgotten: nothing is left behind.
    assert "shot.png" not in answers[1].text and staged_rows(world) == 0
