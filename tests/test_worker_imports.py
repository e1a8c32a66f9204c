"""A worker process holds only the libraries it uses: the probe transports it is
not configured with and the e2e listener's server are imported when used, not by
`import worker.actors` (each imported module stays resident in every worker
process; docs/benchmarks.md, worker memory)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Packages and intmon modules a worker on the default (native) transport never uses.
NOT_IN_A_WORKER = (
    "aiohttp",  # the "aiohttp" transport and the e2e callback listener
    "httpx_aiohttp",
    "pycurl",  # the "curl" transport
    "core.egress_aiohttp",
    "checks.curl_transport",
    "checks.scenarios.listener",
)


def modules_after(code: str) -> set[str]:
    """`sys.modules` of a fresh interpreter once `code` ran (this test process has
    imported most of these already)."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    child = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(child.stdout.strip().splitlines()[-1]))


def under(modules: set[str], name: str) -> set[str]:
    return {m for m in modules if m == name or m.startswith(name + ".")}


def test_a_worker_imports_no_transport_it_is_not_configured_with() -> None:
    loaded = modules_after("import worker.actors")
    assert "checks.engine" in loaded and "checks.transport" in loaded  # it did load the probe
    for name in NOT_IN_A_WORKER:
        assert not under(loaded, name), f"import worker.actors imports {name}"


@pytest.mark.parametrize(
    ("transport", "imports"),
    [("aiohttp", "aiohttp"), ("curl", "pycurl"), ("native", None), ("httpx", None)],
)
def test_a_transport_imports_its_library_when_it_is_built(
    transport: str, imports: str | None
) -> None:
    loaded = modules_after(
        "import asyncio\n"
        "from checks.clients import ClientPool\n"
        "from checks.engine import ProbeSettings\n"
        "from integrations.config import TLSSettings\n"
        f"pool = ClientPool(ProbeSettings(transport={transport!r}))\n"
        "async def build():\n"
        "    pool.transport(TLSSettings())\n"
        "    await pool.aclose()\n"
        "asyncio.run(build())"
    )
    for name in ("aiohttp", "pycurl"):
        assert bool(under(loaded, name)) == (name == imports), name


# classify reads aiohttp's classes from `sys.modules`: loaded after classify, they
# must still be recognised (a cache of "no aiohttp" taken before would miss them).
_LATE_AIOHTTP = """
import socket
from types import SimpleNamespace

import httpx
from checks.classify import diagnose_exception

first = diagnose_exception(httpx.ConnectError("x"))

import aiohttp

key = SimpleNamespace(host="partner.example", port=443, ssl=True)
wrapped = httpx.ConnectTimeout("x")
wrapped.__cause__ = aiohttp.ClientConnectorDNSError(key, socket.gaierror(-2, "Name unknown"))
print(json.dumps([first.outcome, diagnose_exception(wrapped).outcome]))
"""


def test_aiohttp_errors_are_classified_when_aiohttp_is_loaded_after_classify() -> None:
    probe = "import json\n" + _LATE_AIOHTTP
    child = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    first, late = json.loads(child.stdout.strip().splitlines()[-1])
    assert first == "connection_refused"
    # Without aiohttp's classes this is httpx's ConnectTimeout: a timeout, wrongly.
    assert late == "dns_failure"
