"""Fixtures of the hostile suite: the misbehaving partners and an engine per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from checks.engine import ProbeEngine, ProbeSettings
from tests.hostile.servers import HostileServers


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, bool]]:
    """The event loop a worker runs its engine on by default (`event_loop`)."""
    return ("asyncio", {"use_uvloop": True})


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServers]:
    with HostileServers() as servers:
        yield servers


@pytest.fixture(params=["native", "curl"])
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[ProbeEngine]:
    """The engine as a worker builds it, on uvloop with default caps, on each transport
    a worker may ship with: hostile partners must meet the same outcome on both."""
    probe = ProbeEngine(ProbeSettings(transport=request.param))
    yield probe
    await probe.aclose()
