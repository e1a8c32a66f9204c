"""Hostile partners: each one classified right, in time, in bounded memory, harmlessly.

One row per misbehaviour: which server (tests/hostile/servers.py), what the
check expects, and the outcome intmon promises for it. Every row runs through
`ProbeEngine.run_batch` on the shipped aiohttp transport, as a worker runs it:
the hostile check three times over plus one normal check in the same batch.
Then, per row:

- every hostile result has the row's outcome (and a detail saying why);
- the batch returned within the check's own limit plus a small margin;
- the normal check was not held up: ok, and quick;
- the process's peak memory (VmHWM, reset before the batch) grew by less than
  `PEAK_BOUND`, and what stays afterwards by less than `RETAINED_BOUND`: a body
  cap that fails shows up as tens of megabytes (the bombs as a gigabyte).

The batch runs once to warm up (pools, parsers) before it is measured.
"""

from __future__ import annotations

import gc
import json
import re
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from checks.engine import ProbeEngine
from core.vocabulary.outcomes import Outcome
from integrations.config import IntegrationSpec
from tests.hostile.servers import HostileServers

pytestmark = pytest.mark.anyio

REPEATS = 3
TIMEOUT_S = 1.0
MARGIN_S = 1.0
MiB = 1024 * 1024
PEAK_BOUND = 8 * MiB  # measured: under 0.5 MiB per case
RETAINED_BOUND = 4 * MiB
PARTNER_KEY = "hostile-partner-key-93f1"


@dataclass(frozen=True)
class Case:
    name: str
    server: str  # a behaviour of tests/hostile/servers.py
    outcome: Outcome
    expect: dict[str, Any] = field(default_factory=dict)
    detail: str = ""  # a fragment the detail must contain
    https: bool = False


JSON_STATUS = {"json": ["$.status exists"]}

CASES = [
    # The body is read up to the 64 KiB cap, then the connection is dropped.
    Case("10 MB body", "big", Outcome.OK),
    Case("10 MB body, JSON asserted", "big", Outcome.CONTRACT_VIOLATION, JSON_STATUS, "read limit"),
    Case("endless chunked body", "endless", Outcome.OK),
    # No complete answer within timeout_s, however much keeps trickling in.
    Case("slow-loris head: a byte a second", "loris_headers", Outcome.TIMEOUT, detail="timed out"),
    Case("slow-loris body: a byte a second", "loris_body", Outcome.TIMEOUT, detail="timed out"),
    Case(
        "invalid UTF-8, JSON asserted",
        "invalid_utf8",
        Outcome.CONTRACT_VIOLATION,
        JSON_STATUS,
        "not JSON",
    ),
    # Inflated up to the cap only: 64 KiB of the gigabyte.
    Case("gzip bomb (1 GB inflated)", "gzip_bomb", Outcome.OK),
    Case(
        "gzip bomb, JSON asserted",
        "gzip_bomb",
        Outcome.CONTRACT_VIOLATION,
        JSON_STATUS,
        "read limit",
    ),
    Case("gzip bomb inside gzip", "stacked_gzip_bomb", Outcome.OK),
    # An encoding intmon does not decode is kept as it came (here: 1 MB, over the cap).
    Case(
        "gzip bomb labelled gzip, br; JSON asserted",
        "unknown_encoding_bomb",
        Outcome.CONTRACT_VIOLATION,
        JSON_STATUS,
        "read limit",
    ),
    Case("redirect loop", "redirect_loop", Outcome.CONTRACT_VIOLATION, detail="redirect loop"),
    Case("redirect to another host:port", "redirect_away", Outcome.OK, JSON_STATUS),
    Case("redirect with an endless body", "redirect_endless_body", Outcome.OK, JSON_STATUS),
    # The body decides whether it is JSON; the content type only when asserted.
    Case(
        "HTML where JSON is asserted", "html", Outcome.CONTRACT_VIOLATION, JSON_STATUS, "not JSON"
    ),
    Case("JSON labelled text/plain", "json_as_text", Outcome.OK, JSON_STATUS),
    Case(
        "JSON labelled text/plain, content type asserted",
        "json_as_text",
        Outcome.CONTRACT_VIOLATION,
        {"headers": {"Content-Type": "json"}},
        "does not match",
    ),
    # A handshake that never completes is no answer: a timeout, not a TLS verdict.
    Case(
        "TLS port that never answers the ClientHello",
        "silent",
        Outcome.TIMEOUT,
        https=True,
        detail="timed out",
    ),
    Case("reset mid-body", "reset_mid_body", Outcome.SERVER_ERROR, detail="reset"),
    # The parser takes at most 128 header lines of 8 KiB each: within that, an answer.
    Case("one 70 KiB header line", "huge_header", Outcome.SERVER_ERROR, detail="broken HTTP"),
    Case("70 KiB of headers in 1 KiB lines", "many_headers", Outcome.OK),
    Case("header lines without end", "header_flood", Outcome.SERVER_ERROR, detail="broken HTTP"),
]


def spec(base_url: str, expect: dict[str, Any] | None = None, **fields: Any) -> IntegrationSpec:
    document: dict[str, Any] = {
        "id": "hostile",
        "name": "Hostile Partner",
        "kind": "broker",
        "client": "acme",
        "base_url": base_url,
        "timeout_s": TIMEOUT_S,
        "auth": {"type": "header", "header": "X-Api-Key", "value": "${HOSTILE_KEY}"},
        "checks": [{"name": "probe", "path": "/probe", "expect": expect or {}}],
        **fields,
    }
    return IntegrationSpec.model_validate(document)


# --- memory ------------------------------------------------------------------


def rss() -> int:
    """Resident set size now, in bytes."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize()


def reset_peak() -> None:
    """Start VmHWM (the peak RSS) afresh from the current RSS (Linux ≥ 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def peak() -> int:
    found = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())
    assert found is not None
    return int(found.group(1)) * 1024


# --- the table ---------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_hostile_partner(case: Case, hostile: HostileServers, engine: ProbeEngine) -> None:
    base = hostile.urls[case.server]
    if case.https:
        base = base.replace("http://", "https://")
    check = spec(base, case.expect)
    normal = spec(hostile.urls["ok"], JSON_STATUS, id="normal", timeout_s=5)
    batch = [(check, check.checks[0], None)] * REPEATS + [(normal, normal.checks[0], None)]
    environ = {"HOSTILE_KEY": PARTNER_KEY}
    await engine.run_batch(batch, environ=environ)  # warm-up
    gc.collect()
    before = rss()
    reset_peak()

    started = time.perf_counter()
    results = await engine.run_batch(batch, environ=environ)
    elapsed = time.perf_counter() - started

    gc.collect()
    grown, retained = peak() - before, rss() - before
    *hostile_results, normal_result = results
    for result in hostile_results:
        assert result.outcome is case.outcome, result.detail
        assert case.detail in result.detail
        assert PARTNER_KEY not in result.detail + result.response_excerpt
    limit = check.timeout_s * (check.retries + 1) + MARGIN_S
    assert elapsed < limit
    assert normal_result.outcome is Outcome.OK, normal_result.detail
    assert normal_result.duration_s < 0.5
    assert grown < PEAK_BOUND, f"peak memory grew by {grown / MiB:.0f} MiB"
    assert retained < RETAINED_BOUND, f"{retained / MiB:.0f} MiB stayed after the batch"


async def test_bomb_is_inflated_only_up_to_the_cap(
    hostile: HostileServers, engine: ProbeEngine
) -> None:
    for server in ("gzip_bomb", "stacked_gzip_bomb"):
        check = spec(hostile.urls[server])

        result = await engine.run_check(check, check.checks[0], environ={"HOSTILE_KEY": "k"})

        assert result.outcome is Outcome.OK, result.detail
        assert result.response_excerpt == "\0" * engine.settings.excerpt_bytes


@pytest.mark.parametrize(
    "auth",
    [
        {"type": "header", "header": "X-Api-Key", "value": "${HOSTILE_KEY}"},
        {"type": "bearer", "token": "${HOSTILE_KEY}"},
        {"type": "basic", "username": "intmon", "password": "${HOSTILE_KEY}"},
    ],
    ids=["header", "bearer", "basic"],
)
async def test_redirect_to_another_origin_carries_no_credentials(
    auth: dict[str, Any], hostile: HostileServers, engine: ProbeEngine
) -> None:
    check = spec(hostile.urls["redirect_away"], JSON_STATUS, auth=auth)

    result = await engine.run_check(check, check.checks[0], environ={"HOSTILE_KEY": PARTNER_KEY})

    assert result.outcome is Outcome.OK, result.detail
    landed = [r for r in hostile.requests if r["server"] == "echo"][-1]
    assert landed["target"] == "/landed"
    assert PARTNER_KEY not in json.dumps(landed)
    assert "authorization" not in landed["headers"]


async def test_secret_body_is_not_sent_to_another_origin(
    hostile: HostileServers, engine: ProbeEngine
) -> None:
    """A 307 re-sends the body; one holding a secret stays home, the 307 is the answer."""
    check = spec(
        hostile.urls["redirect_away_307"],
        auth={"type": "none"},
        checks=[{"name": "post", "method": "POST", "path": "/", "json": {"key": "${HOSTILE_KEY}"}}],
    )
    landings = len([r for r in hostile.requests if r["server"] == "echo"])

    result = await engine.run_check(check, check.checks[0], environ={"HOSTILE_KEY": PARTNER_KEY})

    assert result.outcome is Outcome.CONTRACT_VIOLATION, result.detail
    assert "HTTP 307" in result.detail
    assert len([r for r in hostile.requests if r["server"] == "echo"]) == landings


async def test_redirect_within_the_origin_keeps_credentials(
    hostile: HostileServers, engine: ProbeEngine
) -> None:
    check = spec(hostile.urls["redirect_same_origin"], JSON_STATUS)

    result = await engine.run_check(check, check.checks[0], environ={"HOSTILE_KEY": PARTNER_KEY})

    assert result.outcome is Outcome.OK, result.detail
    landed = [r for r in hostile.requests if r["server"] == "redirect_same_origin"][-1]
    assert landed["target"] == "/landed"
    assert landed["headers"]["x-api-key"] == PARTNER_KEY
