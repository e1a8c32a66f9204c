"""Files chosen on the new-ticket form survive its showing again (the duplicate
warning, a refused field): kept on the server for this login only, listed by name
with a box to untick, attached when the form is sent, deleted after.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from alerts.queries import ticket_detail
from core.db import table_of
from intmon.web.models import StagedUpload
from tests.web.conftest import NOW
from tests.web.test_pages import text_of

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
LOG = b"12:00 the bot stopped\n"
# acme's INC-000001 is on integration `a`, section system_errors: this is like it.
LIKE_INC_1 = {
    "category": "system_errors",
    "topic_id": "integration",
    "f_account_number": "42",
    "integration": "a",
    "topic": "Down?",
    "description": "Leads stuck.",
}
KEEP = re.compile(r'name="keep:([^"]+)"')
STAGED = table_of(StagedUpload)


def staged_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(STAGED)).scalar_one())


def warned_with_files(client: Any, files: list[tuple[str, bytes, str]]) -> tuple[Any, list[str]]:
    client.get("/tickets/new?category=system_errors&topic_id=integration")
    warned = client.post("/tickets/new", LIKE_INC_1, files=[("files", file) for file in files])
    assert warned.status_code == 409 and 'id="duplicate"' in warned.text
    return warned, KEEP.findall(warned.text)


def test_the_duplicate_warning_keeps_the_chosen_files_and_sending_attaches_them(
    browser: Any, engine: Engine
) -> None:
    ann = browser("ann")
    warned, tokens = warned_with_files(
        ann, [("shot.png", PNG, "image/png"), ("bot.log", LOG, "text/plain")]
    )
    listed = text_of(re.search(r'id="staged-files">(.*?)</fieldset>', warned.text, re.S)[1])
    assert "shot.png" in listed and "bot.log" in listed and len(tokens) == 2
    assert staged_rows(engine) == 2
    sent = ann.post(
        "/tickets/new",
        {**LIKE_INC_1, "duplicate_ok": "1", **{f"keep:{token}": "1" for token in tokens}},
    )
    assert sent.url.path == "/tickets/INC-000003", sent.text[-2000:]
    detail = ticket_detail(engine, "INC-000003", include_internal=False)
    assert [a.name for a in detail.attachments] == ["shot.png", "bot.log"]
    link = re.search(r'href="(/tickets/INC-000003/attachments/\d+)"', sent.text)
    assert link is not None and ann.get(link.group(1)).content == PNG
    assert staged_rows(engine) == 0  # claimed: deleted with the ticket's transaction
    # Sent again (a double click, the back button): the files are not attached twice.
    again = ann.post(
        "/tickets/new",
        {**LIKE_INC_1, "duplicate_ok": "1", **{f"keep:{token}": "1" for token in tokens}},
    )
    assert again.status_code == 422 and "no longer kept" in again.text
    assert len(ticket_detail(engine, "INC-000003").attachments) == 2


def test_an_unticked_file_is_left_out_and_new_files_join_the_kept_ones(
    browser: Any, engine: Engine
) -> None:
    ann = browser("ann")
    _, tokens = warned_with_files(
        ann, [("shot.png", PNG, "image/png"), ("bot.log", LOG, "text/plain")]
    )
    sent = ann.post(
        "/tickets/new",
        {
            **LIKE_INC_1,
            "duplicate_ok": "1",
            f"keep:{tokens[1]}": "1",
            "staged_shown": " ".join(tokens),
        },
        files=[("files", ("more.json", b'{"lead": 1}', "application/json"))],
    )
    assert sent.url.path == "/tickets/INC-000003"
    names = [a.name for a in ticket_detail(engine, "INC-000003").attachments]
    assert names == ["bot.log", "more.json"]
    assert staged_rows(engine) == 0  # the unticked one is gone too


def test_another_tabs_files_stay_and_an_unticked_file_goes_at_once(
    browser: Any, engine: Engine
) -> None:
    ann = browser("ann")
    # Two drafts in two tabs of one login, both warned.
    _, first = warned_with_files(ann, [("one.png", PNG, "image/png"), ("two.log", LOG, "t/p")])
    _, other_tab = warned_with_files(ann, [("other.png", PNG, "image/png")])
    assert f'name="staged_shown" value="{" ".join(first)}"' in ann.seen[-3]
    # The first form shown again with its second file unticked: that one is forgotten.
    again = ann.post(
        "/tickets/new",
        {**LIKE_INC_1, f"keep:{first[0]}": "1", "staged_shown": " ".join(first)},
    )
    assert again.status_code == 409 and KEEP.findall(again.text) == [first[0]]
    assert staged_rows(engine) == 2
    sent = ann.post(
        "/tickets/new",
        {**LIKE_INC_1, "duplicate_ok": "1", f"keep:{first[0]}": "1", "staged_shown": first[0]},
    )
    assert [a.name for a in ticket_detail(engine, sent.url.path.rsplit("/", 1)[1]).attachments] == [
        "one.png"
    ]
    # The other tab's file is still there for its own form.
    with engine.connect() as connection:
        assert connection.execute(select(STAGED.c.token)).scalars().all() == other_tab


def test_kept_files_count_against_the_limit(browser: Any, engine: Engine) -> None:
    ann = browser("ann")
    _, tokens = warned_with_files(
        ann, [(f"log{i}.txt", b"line %d\n" % i, "text/plain") for i in range(4)]
    )
    two = [("files", (f"more{i}.txt", b"more\n", "text/plain")) for i in range(2)]
    refused = ann.post(
        "/tickets/new",
        {**LIKE_INC_1, "duplicate_ok": "1", **{f"keep:{token}": "1" for token in tokens}},
        files=two,
    )
    assert refused.status_code == 422 and "at most 5 files per ticket" in refused.text
    # The four kept ones are still offered; the two that overflowed are not kept.
    assert KEEP.findall(refused.text) == tokens
    assert staged_rows(engine) == 4


def test_a_refused_field_keeps_the_files_too(browser: Any, engine: Engine) -> None:
    ann = browser("ann")
    ann.get("/tickets/new?category=system_errors&topic_id=integration&lang=ru")
    refused = ann.post(
        "/tickets/new",
        {**LIKE_INC_1, "f_account_number": "", "duplicate_ok": "1"},
        files=[("files", ("shot.png", PNG, "image/png"))],
    )
    assert refused.status_code == 422 and 'id="error-f_account_number"' in refused.text
    assert "сохранённые для этой формы" in refused.text and "shot.png" in refused.text
    tokens = KEEP.findall(refused.text)
    sent = ann.post("/tickets/new", {**LIKE_INC_1, "duplicate_ok": "1", f"keep:{tokens[0]}": "1"})
    assert sent.url.path == "/tickets/INC-000003"
    assert [a.name for a in ticket_detail(engine, "INC-000003").attachments] == ["shot.png"]


def test_nobody_else_can_use_a_kept_file(browser: Any, engine: Engine) -> None:
    ann = browser("ann")
    _, tokens = warned_with_files(ann, [("secret.png", PNG, "image/png")])
    keep = {f"keep:{tokens[0]}": "1"}
    # Another client, naming ann's file in its own form: as if it had expired.
    oli = browser("oli")
    oli.get("/tickets/new")
    stolen = oli.post(
        "/tickets/new", {**LIKE_INC_1, "integration": "o", "duplicate_ok": "1", **keep}
    )
    assert stolen.status_code == 422 and "no longer kept" in stolen.text
    assert "secret.png" not in stolen.text
    # Support neither; nor ann herself from another login (another session).
    sup = browser("sup")
    sup.get("/tickets/new")
    filed_by_support = sup.post("/tickets/new", {**LIKE_INC_1, "client": "acme", **keep})
    assert filed_by_support.status_code == 422 and "secret.png" not in filed_by_support.text
    other_login = browser("ann")
    other_login.get("/tickets/new")
    elsewhere = other_login.post("/tickets/new", {**LIKE_INC_1, "duplicate_ok": "1", **keep})
    assert elsewhere.status_code == 422
    assert staged_rows(engine) == 1  # still ann's, in her first session
    assert ann.post("/tickets/new", {**LIKE_INC_1, "duplicate_ok": "1", **keep}).status_code == 200


def test_kept_files_expire_and_go_with_the_session(
    browser: Any, engine: Engine, clock: list[datetime]
) -> None:
    ann = browser("ann")
    _, tokens = warned_with_files(ann, [("shot.png", PNG, "image/png")])
    clock[0] += timedelta(minutes=31)
    late = ann.post("/tickets/new", {**LIKE_INC_1, "duplicate_ok": "1", f"keep:{tokens[0]}": "1"})
    assert late.status_code == 422 and "no longer kept" in late.text
    # Staging again deletes everyone's expired files on the way.
    warned_with_files(ann, [("again.png", PNG, "image/png")])
    with engine.connect() as connection:
        assert connection.execute(select(STAGED.c.name)).scalars().all() == ["again.png"]
    ann.post("/logout")
    assert staged_rows(engine) == 0
    # Expired files go at anyone's login too, if nobody stages files any more.
    warned_with_files(browser("ann"), [("left.png", PNG, "image/png")])
    clock[0] += timedelta(minutes=31)
    browser("sup")
    assert staged_rows(engine) == 0


def test_a_disabled_users_kept_files_go_with_their_sessions(browser: Any, engine: Engine) -> None:
    from intmon.web.users import disable_user

    warned_with_files(browser("ann"), [("shot.png", PNG, "image/png")])
    sup = browser("sup")
    sup.get("/tickets/new")
    refused = sup.post(  # support is not warned; a refused field keeps the file too
        "/tickets/new",
        {**LIKE_INC_1, "client": "acme", "topic": ""},
        files=[("files", ("theirs.png", PNG, "image/png"))],
    )
    assert refused.status_code == 422 and "theirs.png" in refused.text
    disable_user(engine, "ann", NOW)
    with engine.connect() as connection:
        assert connection.execute(select(STAGED.c.name)).scalars().all() == ["theirs.png"]
