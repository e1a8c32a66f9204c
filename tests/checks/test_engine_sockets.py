"""A closed engine leaves no connection open, on every transport.

A CI run once hung on a TLS connection that a client opened and never closed
(`tests/egress_servers.py` now bounds each handshake). These tests count, after
`ProbeEngine.aclose()`, the sockets of this process still connected to the
partners: every kind of check (plain, TLS trusted, untrusted and expired, a
timeout, a refused port), with keep-alive and without. The partners' own ends
live in this process too; they are told apart by their local port.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from checks.engine import ProbeEngine, ProbeSettings
from integrations.config import IntegrationSpec

pytestmark = pytest.mark.anyio
TCP_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


def client_sockets_to(ports: set[int]) -> list[str]:
    """This process's sockets whose far end is one of `ports` (the client ends of
    connections to the partners), as `state local->remote` lines."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed while listing
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = []
    for table in TCP_TABLES:
        with open(table) as rows:
            next(rows)
            for row in rows:
                fields = row.split()
                local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
                if inode in inodes and int(remote.rsplit(":", 1)[1], 16) in ports:
                    found.append(f"{state} {local}->{remote}")
    return found


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="reads Linux's /proc")
@pytest.mark.parametrize("keepalive", [True, False], ids=["keep-alive", "new-connection"])
async def test_a_closed_engine_leaves_no_connection_open(
    transport: str,
    keepalive: bool,
    partners: Any,
    integration: Callable[..., IntegrationSpec],
) -> None:
    tls = {"ca_file": partners.ca_file}
    specs = [
        integration(base_url=partners.http, id="plain"),
        integration(base_url=partners.https_trusted, id="trusted", tls=tls),
        integration(base_url=partners.https_untrusted, id="untrusted"),
        integration(base_url=partners.https_expired, id="expired", tls=tls),
        integration(base_url=partners.stall, id="stall", timeout_s=0.3),
        integration(base_url=partners.closed, id="closed"),
    ]
    ports = {port_of(spec.base_url) for spec in specs}
    engine = ProbeEngine(ProbeSettings(transport=transport, keepalive=keepalive))  # type: ignore[arg-type]
    try:
        for _ in range(2):  # the second round reuses what keep-alive kept
            results = await engine.run_batch([(spec, spec.checks[0], None) for spec in specs])
            assert [result.outcome.value for result in results][:2] == ["ok", "ok"]
    finally:
        await engine.aclose()
    assert client_sockets_to(ports) == []


async def test_the_count_sees_an_open_connection(partners: Any) -> None:
    """The check above can fail: a connection left open is found."""
    import asyncio

    port = port_of(partners.http)
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        assert len(client_sockets_to({port})) == 1
    finally:
        writer.close()
        await writer.wait_closed()
    assert client_sockets_to({port}) == []
