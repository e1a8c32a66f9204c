"""Sessions the server can end: logout, a new password, a disabled user, and the
two clocks (absolute lifetime, idle timeout) that a renewed cookie cannot stretch."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from intmon.web.session import SESSION_COOKIE
from intmon.web.session_store import SESSIONS
from intmon.web.users import disable_user, set_password
from tests.web.conftest import NOW, PASSWORD


def stolen(app: FastAPI, cookie: str) -> TestClient:
    """Someone else's client holding a copy of a session cookie."""
    thief = TestClient(app, base_url="https://console.test")
    thief.cookies.set(SESSION_COOKIE, cookie)
    return thief


def test_a_cookie_kept_from_before_logout_is_no_session(browser: Any, app: FastAPI) -> None:
    support = browser("sup")
    kept = support.client.cookies[SESSION_COOKIE]
    with stolen(app, kept) as thief:
        assert thief.get("/tickets", follow_redirects=False).status_code == 200
        assert support.post("/logout").url.path == "/login"
        response = thief.get("/tickets", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login?next=/tickets")


def test_a_session_ends_at_its_absolute_lifetime_however_busy(
    browser: Any, clock: list[datetime]
) -> None:
    support = browser("sup")
    for _click in range(14):  # every 50 minutes, within the idle timeout, up to 11h40
        clock[0] += timedelta(minutes=50)
        assert support.get("/board", follow_redirects=False).status_code == 200
    clock[0] = NOW + timedelta(hours=12)
    assert support.get("/board", follow_redirects=False).status_code == 303
    assert support.login("sup").status_code == 200  # a new login is a new session


def test_a_session_ends_after_an_hour_without_a_request(
    browser: Any, clock: list[datetime]
) -> None:
    support, client = browser("sup"), browser("ann")
    clock[0] += timedelta(minutes=59)
    assert support.get("/board", follow_redirects=False).status_code == 200
    clock[0] += timedelta(minutes=59)
    assert support.get("/board", follow_redirects=False).status_code == 200
    assert client.get("/tickets", follow_redirects=False).status_code == 303  # idle 118 min


def test_a_new_password_ends_every_session_of_that_user(browser: Any, engine: Engine) -> None:
    laptop, phone, other = browser("sup"), browser("sup", address="10.0.0.2"), browser("ann")
    assert set_password(engine, "sup", "a brand new password") == 2
    assert laptop.get("/board", follow_redirects=False).status_code == 303
    assert phone.get("/board", follow_redirects=False).status_code == 303
    assert other.get("/tickets", follow_redirects=False).status_code == 200
    assert browser().login("sup", PASSWORD).status_code == 401
    assert browser().login("sup", "a brand new password").status_code == 200


def test_disabling_a_user_deletes_their_sessions(browser: Any, engine: Engine) -> None:
    browser("ann"), browser("ann"), browser("sup")
    disable_user(engine, "ann", NOW)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(SESSIONS)).scalar() == 1


def test_the_cookie_holds_a_session_key_not_the_user(browser: Any, engine: Engine) -> None:
    support = browser("sup")
    with engine.connect() as connection:
        (row,) = connection.execute(select(SESSIONS)).all()
    cookie = support.client.cookies[SESSION_COOKIE]
    assert row.key_hash not in cookie  # only the hash is stored, only the key is sent
