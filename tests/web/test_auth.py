"""Logging in and out, the session cookie, CSRF, and guessing passwords."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from pydantic import SecretStr
from sqlalchemy import Engine

from alerts.queries import ticket_detail
from core.settings import Settings
from intmon.app import create_app
from intmon.web.errors import WebConfigError
from intmon.web.session import SESSION_COOKIE, session_secret
from intmon.web.users import disable_user, hash_password, verify_password
from tests.web.conftest import CSRF, NOW, PASSWORD, settings


def test_pages_need_a_login_and_come_back_after_it(browser: Any) -> None:
    anonymous = browser()
    for path in (
        "/",
        "/board",
        "/tickets",
        "/tickets/new",
        "/tickets/INC-000001",
        "/integrations/a",
    ):
        response = anonymous.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login"), path
    assert anonymous.get("/tickets/INC-000001", follow_redirects=False).headers["location"] == (
        "/login?next=/tickets/INC-000001"
    )
    anonymous.get("/login?next=/tickets/INC-000001")
    response = anonymous.post(
        "/login",
        {"username": "ann", "password": PASSWORD, "next": "/tickets/INC-000001"},
        follow_redirects=False,
    )
    assert (response.status_code, response.headers["location"]) == (303, "/tickets/INC-000001")


def test_each_role_starts_on_its_own_page(browser: Any) -> None:
    support, client = browser("sup"), browser("ann")
    assert support.get("/", follow_redirects=False).headers["location"] == "/board"
    assert client.get("/", follow_redirects=False).headers["location"] == "/tickets"
    assert "Status board" in support.get("/").text
    assert "Help: tickets" in client.get("/").text


def test_a_next_that_leaves_the_site_is_ignored(browser: Any) -> None:
    someone = browser()
    someone.get("/login")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = someone.post(
            "/login",
            {"username": "sup", "password": PASSWORD, "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/board", target
        someone.post("/logout")


def test_a_failed_login_says_the_same_whatever_was_wrong(browser: Any, engine: Engine) -> None:
    disable_user(engine, "oli", NOW)
    answers = []
    for username, password in (("sup", "wrong password"), ("nobody", PASSWORD), ("oli", PASSWORD)):
        response = browser().login(username, password)
        assert response.status_code == 401
        assert "Wrong username or password." in response.text
        assert 'id="login-error"' in response.text
        answers.append(CSRF.sub("", response.text).replace(username, "USER"))
    assert answers[0] == answers[1] == answers[2]


def test_the_session_cookie_is_httponly_lax_and_signed(browser: Any, app: FastAPI) -> None:
    someone = browser()
    someone.get("/login")
    response = someone.post(
        "/login", {"username": "SUP", "password": PASSWORD}, follow_redirects=False
    )
    assert response.headers["location"] == "/board"  # usernames are not case-sensitive
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert PASSWORD not in cookie
    # A cookie signed with another key is no session at all.
    forged = TimestampSigner("some-other-key-that-is-long-enough-000000").sign(
        base64.b64encode(json.dumps({"user": 1}).encode())
    )
    with TestClient(app, base_url="https://console.test") as client:
        client.cookies.set(SESSION_COOKIE, forged.decode())
        assert client.get("/board", follow_redirects=False).status_code == 303


def test_logout_needs_its_csrf_token_and_ends_the_session(browser: Any) -> None:
    support = browser("sup")
    assert support.post("/logout", csrf="forged").status_code == 403
    assert support.get("/board", follow_redirects=False).status_code == 200
    assert support.post("/logout").url.path == "/login"
    assert support.get("/board", follow_redirects=False).status_code == 303


def test_a_post_without_the_sessions_csrf_token_is_refused(
    browser: Any, engine: Engine, app: FastAPI
) -> None:
    client = browser("ann")
    other = browser("oli")  # a valid token, but of another session
    for token in ("", "forged", other.token):
        response = client.post("/tickets/INC-000001/comments", {"body": "hello"}, csrf=token)
        assert response.status_code == 403
        assert "did not come from this site" in response.text
    json_post = client.client.post("/tickets/INC-000001/comments", json={"body": "hello"})
    assert json_post.status_code == 415
    assert ticket_detail(engine, 1).comments == []
    anonymous = browser()
    anonymous.get("/login")
    login = anonymous.post("/login", {"username": "ann", "password": PASSWORD}, csrf="x")
    assert login.status_code == 403


def test_a_disabled_user_loses_the_session_at_the_next_request(
    browser: Any, engine: Engine
) -> None:
    client = browser("ann")
    assert client.get("/tickets", follow_redirects=False).status_code == 200
    disable_user(engine, "ann", NOW)
    response = client.get("/tickets", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login?next=/tickets")
    assert client.post("/tickets/INC-000001/comments", {"body": "x"}).url.path == "/login"
    assert client.login("ann").status_code == 401


# --- passwords and the session key ------------------------------------------------------


def test_passwords_are_salted_scrypt_hashes() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert PASSWORD not in first
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password("wrong", first)
    assert not verify_password(PASSWORD, "not-a-hash")
    assert not verify_password(PASSWORD, first.replace("scrypt$", "md5$"))


def test_the_session_secret_comes_from_the_settings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    inline = "x" * 40
    assert session_secret(Settings(session_secret=SecretStr(inline))) == inline
    secret_file = tmp_path / "session.key"
    secret_file.write_text("y" * 40 + "\n")
    assert session_secret(Settings(session_secret_file=secret_file)) == "y" * 40
    with pytest.raises(WebConfigError, match="INTMON_SESSION_SECRET: must be at least 32"):
        session_secret(Settings(session_secret=SecretStr("short")))
    with pytest.raises(WebConfigError, match="INTMON_SESSION_SECRET_FILE: cannot read it"):
        session_secret(Settings(session_secret_file=tmp_path / "missing"))
    with pytest.raises(WebConfigError, match="not both"):
        session_secret(Settings(session_secret=SecretStr(inline), session_secret_file=secret_file))
    with caplog.at_level(logging.WARNING, logger="intmon.web"):
        first, second = session_secret(Settings()), session_secret(Settings())
    assert first != second and len(first) >= 32
    assert "will not survive a restart nor be shared between API processes" in caplog.text


def test_sessions_are_shared_by_processes_with_the_same_secret(
    engine: Engine, app: FastAPI
) -> None:
    """Two API processes with one INTMON_SESSION_SECRET accept each other's sessions."""
    twin = create_app(engine, settings())
    https = "https://console.test"
    with TestClient(app, base_url=https) as first, TestClient(twin, base_url=https) as second:
        page = first.get("/login").text
        token = page.split('name="csrf" value="')[1].split('"')[0]
        first.post("/login", data={"csrf": token, "username": "sup", "password": PASSWORD})
        second.cookies.set(SESSION_COOKIE, first.cookies[SESSION_COOKIE])
        assert second.get("/board", follow_redirects=False).status_code == 200
