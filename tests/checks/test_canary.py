"""Canaries: against real servers on 127.0.0.1, and a resolver that hangs."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from typing import Any

import pytest

from checks import canary
from checks.canary import run_canaries
from checks.canary_spec import CanarySpec
from core.vocabulary.outcomes import Outcome
from tests.conftest import Partner


def test_any_answer_passes_and_a_closed_port_is_refused() -> None:
    with Partner(status=500) as server:
        spec = CanarySpec(name="edge", url=server.url + "/ping", timeout_s=2)
        (answered,) = asyncio.run(run_canaries([spec], []))
    assert answered.ok and answered.detail == "HTTP 500"
    (refused,) = asyncio.run(run_canaries([spec], []))  # the server is gone
    assert (refused.kind, refused.outcome) == ("canary", Outcome.CONNECTION_REFUSED)


def test_localhost_resolves() -> None:
    (resolved,) = asyncio.run(run_canaries([], ["localhost"]))
    assert resolved.ok and resolved.kind == "dns"


def test_a_hanging_resolver_is_a_dns_failure_and_does_not_hold_the_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    released = threading.Event()

    def hanging(*args: Any, **kwargs: Any) -> Any:
        released.wait(10)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(canary, "DNS_TIMEOUT_S", 0.2)
    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    started = time.monotonic()
    try:
        (result,) = asyncio.run(run_canaries([], ["partner.example"]))
        elapsed = time.monotonic() - started
    finally:
        released.set()
    assert result.outcome is Outcome.DNS_FAILURE and "timed out" in result.detail
    assert elapsed < 5, elapsed  # not the resolver's 10 s


@pytest.mark.parametrize(
    ("url", "problem"),
    [("ftp://example.com", "http(s) URL"), ("https://", "http(s) URL")],
)
def test_a_canary_url_must_be_http(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        CanarySpec(name="edge", url=url)


def test_a_canary_obeys_the_egress_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The metadata service is link-local: refused before anything is sent."""
    monkeypatch.delenv("INTMON_EGRESS_ALLOW", raising=False)
    spec = CanarySpec(name="meta", url="http://169.254.169.254/latest/", timeout_s=2)
    (refused,) = asyncio.run(run_canaries([spec], []))
    assert not refused.ok and "egress policy" in refused.detail
