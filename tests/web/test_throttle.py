"""Login throttling that slows guessing down and cannot be turned into a lock-out."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from core.settings import Settings, parse_networks
from intmon.serve import ConsoleServer
from intmon.web.throttle import LoginThrottle, client_address
from tests.web.conftest import CSRF, PASSWORD, settings


@pytest.fixture
def moved() -> list[float]:
    return [1000.0]


@pytest.fixture
def throttled_app(app: FastAPI, moved: list[float]) -> FastAPI:
    app.state.login_throttle = LoginThrottle(clock=lambda: moved[0])
    return app


def test_a_guesser_cannot_lock_support_out(
    throttled_app: FastAPI, browser: Any, moved: list[float]
) -> None:
    guesser = browser(address="203.0.113.9")
    for attempt in range(5):
        assert guesser.login("sup", f"guess {attempt}").status_code == 401
    refused = guesser.login("sup", PASSWORD)
    assert refused.status_code == 429 and "Too many failed attempts" in refused.text
    assert refused.headers["retry-after"] == "30"
    assert browser(address="10.0.0.7").login("sup").status_code == 200  # support, elsewhere
    assert browser(address="203.0.113.9").login("ann").status_code == 200  # another user
    moved[0] += 30
    assert guesser.login("sup").status_code == 200


def test_the_pair_backs_off_doubling_up_to_a_ceiling() -> None:
    now = [0.0]
    throttle = LoginThrottle(
        free_failures=3, base_delay_s=10, max_delay_s=35, forget_s=3600, clock=lambda: now[0]
    )
    waits = []
    for _ in range(6):
        throttle.failed("sup", "a")
        waits.append(throttle.retry_after("sup", "a"))
        now[0] += waits[-1]
    assert waits == [0, 0, 10, 20, 35, 35]
    assert throttle.retry_after("sup", "b") == 0 and throttle.retry_after("ann", "a") == 0
    throttle.failed("sup", "a")
    now[0] += 3600  # an hour without a failure: forgotten
    assert throttle.retry_after("sup", "a") == 0
    throttle.failed("sup", "a")
    assert throttle.retry_after("sup", "a") == 0  # counting starts again
    throttle.succeeded("sup", "a")


def test_one_address_spraying_usernames_is_stopped_alone() -> None:
    now = [0.0]
    throttle = LoginThrottle(address_limit=3, window_s=60, clock=lambda: now[0])
    for name in ("a", "b", "c"):
        assert throttle.retry_after(name, "10.0.0.1") == 0
        throttle.failed(name, "10.0.0.1")
    assert throttle.retry_after("d", "10.0.0.1") == 60
    assert throttle.retry_after("d", "10.0.0.2") == 0
    now[0] = 61
    assert throttle.retry_after("d", "10.0.0.1") == 0


def test_over_the_global_ceiling_any_pair_that_failed_waits_and_clean_ones_do_not() -> None:
    now = [0.0]
    throttle = LoginThrottle(global_limit=4, base_delay_s=30, window_s=300, clock=lambda: now[0])
    for address in ("1.0.0.1", "1.0.0.2", "1.0.0.3", "1.0.0.4"):
        throttle.failed("sup", address)
    assert throttle.retry_after("sup", "1.0.0.1") == 0  # at the ceiling, not over it
    throttle.failed("sup", "1.0.0.5")
    assert throttle.retry_after("sup", "1.0.0.1") == 30
    assert throttle.retry_after("sup", "1.0.0.6") == 0  # a clean pair still gets in
    now[0] = 301
    assert throttle.retry_after("sup", "1.0.0.1") == 0


def test_the_tables_stay_bounded_under_a_flood_of_addresses() -> None:
    throttle = LoginThrottle(max_keys=100, clock=lambda: 0.0)
    for n in range(1000):
        throttle.failed("sup", f"10.1.{n // 256}.{n % 256}")
    assert len(throttle._pairs) <= 100 and len(throttle._addresses) <= 100


PROXIES = parse_networks("10.0.0.0/8, 192.0.2.1")


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.5", None, "203.0.113.5"),
        ("203.0.113.5", "1.1.1.1", "203.0.113.5"),  # not our proxy: its header is ignored
        ("127.0.0.1", "1.1.1.1", "127.0.0.1"),  # nor is loopback trusted by default
        ("10.1.2.3", "198.51.100.7", "198.51.100.7"),
        ("10.1.2.3", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the client wrote 6.6.6.6
        ("10.1.2.3", "198.51.100.7, 192.0.2.1", "198.51.100.7"),  # two proxies of ours
        ("10.1.2.3", "10.9.9.9", "10.9.9.9"),  # nothing but proxies: the farthest one
        ("10.1.2.3", "", "10.1.2.3"),
        (None, None, "unknown"),
    ],
)
def test_the_client_address(peer: str | None, forwarded: str | None, expected: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


def test_trusted_proxies_is_a_list_of_addresses_and_networks() -> None:
    assert Settings().trusted_proxy_networks == ()
    assert Settings(trusted_proxies="127.0.0.1, 10.0.0.0/8").trusted_proxy_networks == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
    )
    with pytest.raises(ValueError, match=r"(?s)trusted_proxies.*'nginx' is not an IP address"):
        Settings(trusted_proxies="10.0.0.1,nginx")


# --- on a real server: uvicorn must not believe X-Forwarded-For either -------------------


def login_from(base: str, username: str, password: str, forwarded_for: str) -> int:
    with httpx.Client(base_url=base) as client:
        token = CSRF.search(client.get("/login").text)
        assert token is not None
        return client.post(
            "/login",
            data={"csrf": token.group(1), "username": username, "password": password},
            headers={"X-Forwarded-For": forwarded_for},
        ).status_code


@pytest.fixture
def plain_http(engine: Engine) -> Iterator[Any]:
    def serve(**changes: Any) -> ConsoleServer:
        server = ConsoleServer(engine, settings(session_https_only=False, **changes)).start()
        started.append(server)
        return server

    started: list[ConsoleServer] = []
    yield serve
    for server in started:
        server.stop()


def test_a_rotating_forwarded_for_from_loopback_is_still_throttled(plain_http: Any) -> None:
    server = plain_http()
    answers = [
        login_from(server.url, f"user{n}", "wrong password", f"198.51.100.{n}") for n in range(21)
    ]
    assert answers == [401] * 20 + [429]


def test_a_trusted_proxy_forwards_the_real_address(plain_http: Any) -> None:
    server = plain_http(trusted_proxies="127.0.0.1")
    for attempt in range(5):
        assert login_from(server.url, "sup", f"guess {attempt}", "198.51.100.1") == 401
    assert login_from(server.url, "sup", PASSWORD, "198.51.100.1") == 429
    assert login_from(server.url, "sup", PASSWORD, "198.51.100.2") == 303  # to the board
