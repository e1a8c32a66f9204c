"""The egress policy on the check path: every redirect hop judged at connect time.

A partner on 127.0.0.2 (allowed) redirects to addresses intmon must not reach:
another loopback address (where intmon's own /metrics would be), the cloud
metadata service, an IPv4-mapped IPv6 spelling of loopback, and a host name
that resolves to loopback (what DNS rebinding looks like at connect time).
Each runs on the three transports and both event loops; the internal server
counts hits, and a refused hop must leave it at zero.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import trustme

from checks.engine import ProbeEngine, ProbeSettings
from checks.errors import ProbeFailure
from checks.scenarios.http import OutgoingRequest, StepClient
from checks.tls import CertificateProbe, read_certificate_expiry
from core.egress import EgressDenied, EgressPolicy
from core.vocabulary.outcomes import Outcome
from tests.checks.conftest import make_integration
from tests.egress_servers import INTERNAL_BODY, PARTNER_ONLY, Server

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def internal() -> Iterator[Server]:
    server = Server("127.0.0.1")
    yield server
    server.close()


@pytest.fixture(scope="module")
def partner() -> Iterator[Server]:
    server = Server("127.0.0.2")
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _fresh_hits(internal: Server, partner: Server) -> None:
    internal.hits.clear()
    partner.hits.clear()


def engine_for(transport: str, policy: EgressPolicy) -> ProbeEngine:
    return ProbeEngine(ProbeSettings(transport=transport, egress=policy))  # type: ignore[arg-type]


@pytest.fixture
async def guarded(transport: str) -> AsyncIterator[ProbeEngine]:
    """A probe engine that may reach the partner (127.0.0.2) and nothing internal."""
    engine = engine_for(transport, PARTNER_ONLY)
    yield engine
    await engine.aclose()


def redirect_check(partner: Server, target: str) -> tuple[object, object]:
    spec = make_integration(
        partner.url,
        retries=0,
        checks=[{"name": "health", "path": "/go", "query": {"to": target}}],
    )
    return spec, spec.checks[0]


TARGETS = {
    "another loopback address": ("http://127.0.0.1:{port}/metrics", "127.0.0.1 is loopback"),
    "the metadata service": (
        "http://169.254.169.254/latest/meta-data/",
        "169.254.169.254 is link-local",
    ),
    "IPv4-mapped loopback": (
        "http://[::ffff:127.0.0.1]:{port}/metrics",
        "::ffff:127.0.0.1 is loopback (as 127.0.0.1)",
    ),
    "a legacy spelling of loopback": ("http://2130706433:{port}/metrics", "is loopback"),
    "a short spelling of loopback": ("http://127.1:{port}/metrics", "is loopback"),
    "a name resolving to loopback": (
        "http://localhost:{port}/metrics",
        "localhost resolved to",
    ),
}


@pytest.mark.parametrize("target", list(TARGETS), ids=list(TARGETS))
async def test_a_redirect_to_an_internal_address_is_refused_and_nothing_is_sent_there(
    guarded: ProbeEngine, partner: Server, internal: Server, target: str
) -> None:
    location, refusal = TARGETS[target]
    location = location.format(port=internal.port)
    spec, check = redirect_check(partner, location)
    result = await guarded.run_check(spec, check)  # type: ignore[arg-type]
    assert result.outcome is Outcome.EGRESS_DENIED, result.detail
    assert f"redirect 1 to {location}" in result.detail or "redirect 1 to http" in result.detail
    assert refusal in result.detail
    assert "refused by the egress policy" in result.detail
    assert internal.hits == []  # no byte was sent to the refused target
    assert INTERNAL_BODY.decode() not in result.response_excerpt + result.detail
    # The chain: the partner's hop and the refused one, in order.
    assert f"redirects: 302 {partner.url}/go?to=" in result.detail
    assert result.detail.endswith(f"no answer from {location}")


async def test_the_configured_url_refused_is_intmons_configuration_error(
    guarded: ProbeEngine, internal: Server
) -> None:
    spec = make_integration(internal.url, retries=0, checks=[{"name": "health", "path": "/x"}])
    result = await guarded.run_check(spec, spec.checks[0])
    assert result.outcome is Outcome.CONFIG_ERROR
    assert result.detail.startswith(f"{internal.url}/x → 127.0.0.1 is loopback")
    assert "INTMON_EGRESS_ALLOW (e.g. 127.0.0.1/32)" in result.detail
    assert internal.hits == []


async def test_by_default_every_internal_address_is_refused(
    transport: str, partner: Server
) -> None:
    engine = engine_for(transport, EgressPolicy())
    try:
        spec = make_integration(partner.url, checks=[{"name": "health", "path": "/ok"}])
        result = await engine.run_check(spec, spec.checks[0])
    finally:
        await engine.aclose()
    assert result.outcome is Outcome.CONFIG_ERROR
    assert "127.0.0.2 is loopback" in result.detail
    assert partner.hits == []


async def test_an_allow_listed_range_is_reached(transport: str, internal: Server) -> None:
    engine = engine_for(transport, EgressPolicy.parse("127.0.0.0/8"))
    try:
        spec = make_integration(internal.url, checks=[{"name": "health", "path": "/ok"}])
        result = await engine.run_check(spec, spec.checks[0])
    finally:
        await engine.aclose()
    assert result.outcome is Outcome.OK, result.detail
    assert internal.hits == ["/ok"]


async def test_an_allowed_redirect_chain_is_shown_hop_by_hop(
    guarded: ProbeEngine, partner: Server
) -> None:
    spec, check = redirect_check(partner, f"{partner.url}/ok")
    result = await guarded.run_check(spec, check)  # type: ignore[arg-type]
    assert result.outcome is Outcome.OK, result.detail
    to = quote(f"{partner.url}/ok", safe="")
    chain = f"302 {partner.url}/go?to={to} → 200 {partner.url}/ok"
    assert result.detail == f"HTTP 200; redirects: {chain}"


async def test_a_refused_hop_after_an_allowed_one_names_its_number(
    guarded: ProbeEngine, partner: Server, internal: Server
) -> None:
    inner = f"{partner.url}/go?to=" + quote(f"http://127.0.0.1:{internal.port}/metrics", safe="")
    spec, check = redirect_check(partner, inner)
    result = await guarded.run_check(spec, check)  # type: ignore[arg-type]
    assert result.outcome is Outcome.EGRESS_DENIED
    assert f"redirect 2 to http://127.0.0.1:{internal.port}/metrics → 127.0.0.1" in result.detail
    assert result.detail.count("302 http") == 2  # both of the partner's hops are shown
    assert internal.hits == []


async def test_a_scenario_step_redirected_inside_is_refused(
    transport: str, partner: Server, internal: Server
) -> None:
    client = StepClient(ProbeSettings(transport=transport, egress=PARTNER_ONLY))  # type: ignore[arg-type]
    spec = make_integration(partner.url, retries=0)
    target = quote(f"http://127.0.0.1:{internal.port}/metrics", safe="")
    request = OutgoingRequest(method="GET", url=f"{partner.url}/go?to={target}")
    try:
        with pytest.raises(ProbeFailure) as failure:
            await client.send(spec, request, set())
    finally:
        await client.aclose()
    assert failure.value.outcome is Outcome.EGRESS_DENIED
    assert failure.value.detail.startswith(f"redirect 1 to http://127.0.0.1:{internal.port}/")
    assert internal.hits == []


async def test_the_certificate_side_probe_obeys_the_policy(partners: Any) -> None:
    port = int(partners.https_trusted.rsplit(":", 1)[1])
    with pytest.raises(EgressDenied, match=r"127\.0\.0\.1 is loopback"):
        await read_certificate_expiry("127.0.0.1", port, timeout_s=2, egress=PARTNER_ONLY)
    with pytest.raises(EgressDenied, match="localhost resolved to"):
        await read_certificate_expiry("localhost", port, timeout_s=2, egress=PARTNER_ONLY)
    probe = CertificateProbe(egress=PARTNER_ONLY)
    try:
        assert await probe.expires_at("127.0.0.1", port, timeout_s=2) is None  # unknown
    finally:
        await probe.aclose()
    allowed = EgressPolicy.parse("127.0.0.1/32")
    assert await read_certificate_expiry("127.0.0.1", port, timeout_s=2, egress=allowed) > 0


async def test_tls_is_verified_against_the_host_name_not_the_address_connected_to(
    transport: str, tmp_path: Path
) -> None:
    """The connection goes to the judged address; the certificate (issued for the name
    only) must still be checked against the name, and SNI must carry it."""
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    server = Server("127.0.0.1", tls=context)
    engine = engine_for(transport, EgressPolicy.parse("127.0.0.0/8"))
    try:
        spec = make_integration(
            f"https://localhost:{server.port}",
            tls={"ca_file": str(ca_file)},
            checks=[{"name": "health", "path": "/ok"}],
        )
        result = await engine.run_check(spec, spec.checks[0])
    finally:
        await engine.aclose()
        server.close()
    assert result.outcome is Outcome.OK, result.detail
    assert server.hits == ["/ok"]
