"""Is it them or us: the pure verdict and the outage's next step, one row per case."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from alerts.platform_verdict import (
    CLEAR_AFTER,
    Action,
    CorrelationCounts,
    CorrelationRule,
    OpenOutage,
    Step,
    Verdict,
    next_step,
    platform_verdict,
)
from checks.canary import CanaryResult
from core.vocabulary.outcomes import Outcome
from tests.alerts.helpers import T0

REFUSED, TIMEOUT, DNS = Outcome.CONNECTION_REFUSED, Outcome.TIMEOUT, Outcome.DNS_FAILURE
EARLY = T0 - timedelta(seconds=40)


def canary(name: str, outcome: Outcome | None, kind: str = "canary") -> CanaryResult:
    return CanaryResult(kind, name, outcome, "HTTP 204" if outcome is None else "nope", 0.01)


def counts(checked: int, **failing: int) -> CorrelationCounts:
    by_outcome = {Outcome(name): n for name, n in failing.items()}
    return CorrelationCounts(checked, by_outcome, {o: EARLY for o in by_outcome})


NOTHING = CorrelationCounts()

# name, canary results, correlation counts, rule, expected (failing, cause, outcome)
VERDICTS: list[tuple[str, list[CanaryResult], CorrelationCounts, dict[str, Any], Any]] = [
    ("nothing configured, nothing checked", [], NOTHING, {}, (False, None, None)),
    ("the only canary answers", [canary("edge", None)], NOTHING, {}, (False, None, None)),
    ("the only canary fails", [canary("edge", TIMEOUT)], NOTHING, {}, (True, "canary", TIMEOUT)),
    (
        "one of two canaries fails: that target's problem",
        [canary("edge", TIMEOUT), canary("core", None)],
        NOTHING,
        {},
        (False, None, None),
    ),
    (
        "both canaries fail: the commoner outcome names it",
        [canary("a", REFUSED), canary("b", TIMEOUT), canary("c", TIMEOUT)],
        NOTHING,
        {},
        (True, "canary", TIMEOUT),
    ),
    (
        "every DNS name fails",
        [canary("a.example", DNS, "dns"), canary("b.example", DNS, "dns")],
        NOTHING,
        {},
        (True, "dns", DNS),
    ),
    (
        "one DNS name of two fails",
        [canary("a.example", DNS, "dns"), canary("b.example", None, "dns")],
        NOTHING,
        {},
        (False, None, None),
    ),
    (
        "canaries outrank DNS",
        [canary("edge", REFUSED), canary("a.example", DNS, "dns")],
        NOTHING,
        {},
        (True, "canary", REFUSED),
    ),
    (
        "6 of 8 endpoints refused",
        [],
        counts(8, connection_refused=6),
        {},
        (True, "correlated", REFUSED),
    ),
    ("5 of 10: exactly the share", [], counts(10, timeout=5), {}, (True, "correlated", TIMEOUT)),
    ("4 of 4: under min_integrations", [], counts(4, timeout=4), {}, (False, None, None)),
    ("5 of 11: under the share", [], counts(11, timeout=5), {}, (False, None, None)),
    (
        "6 failing, but split over two outcomes",
        [],
        counts(8, timeout=3, connection_refused=3),
        {},
        (False, None, None),
    ),
    (
        "server errors are not connectivity",
        [],
        counts(8, server_error=8),
        {},
        (False, None, None),
    ),
    (
        "two outcomes both hold: the larger wins",
        [],
        counts(10, timeout=5, dns_failure=5, tls_error=6),
        {"share": 0.5},
        (True, "correlated", Outcome.TLS_ERROR),
    ),
    (
        "correlation switched off",
        [],
        counts(8, connection_refused=8),
        {"enabled": False},
        (False, None, None),
    ),
    (
        "a stricter rule",
        [],
        counts(20, timeout=9),
        {"min_integrations": 10, "share": 0.4},
        (False, None, None),
    ),
    (
        "a looser rule",
        [],
        counts(20, timeout=9),
        {"min_integrations": 3, "share": 0.4},
        (True, "correlated", TIMEOUT),
    ),
    (
        "a passing canary does not veto a correlated failure",
        [canary("edge", None)],
        counts(6, connection_refused=6),
        {},
        (True, "correlated", REFUSED),
    ),
]


@pytest.mark.parametrize(
    ("canaries", "correlation", "rule", "expected"),
    [row[1:] for row in VERDICTS],
    ids=[row[0] for row in VERDICTS],
)
def test_platform_verdict(
    canaries: list[CanaryResult],
    correlation: CorrelationCounts,
    rule: dict[str, Any],
    expected: tuple[bool, str | None, Outcome | None],
) -> None:
    verdict = platform_verdict(canaries, correlation, T0, CorrelationRule(**rule))
    assert (verdict.failing, verdict.cause, verdict.outcome) == expected
    if verdict.failing:
        assert verdict.detail
        # A correlated outage began with its earliest failing result; a canary's now.
        assert verdict.started_at == (EARLY if verdict.cause == "correlated" else T0)


def test_a_correlated_verdict_says_what_it_saw() -> None:
    seen = CorrelationCounts(
        8, {REFUSED: 6, TIMEOUT: 1}, {REFUSED: EARLY}, {REFUSED: ("a", "b", "c")}
    )
    verdict = platform_verdict([], seen, T0)
    assert verdict.detail == (
        "6 of 8 partner endpoints checked in the last 60s fail with connection_refused"
    )
    assert verdict.evidence["failing"] == {"connection_refused": 6, "timeout": 1}
    assert verdict.evidence["examples"] == ["a", "b", "c"]


FAILING = Verdict(True, "canary", TIMEOUT, "edge fails", T0)
WELL = Verdict(False)

# name, open outage, verdict, expected step
STEPS: list[tuple[str, OpenOutage | None, Verdict, Step]] = [
    ("well and nothing open", None, WELL, Step(Action.NOTHING)),
    ("failing and nothing open", None, FAILING, Step(Action.OPEN)),
    ("still failing", OpenOutage(1, 0), FAILING, Step(Action.KEEP)),
    ("failing again while clearing", OpenOutage(1, 1), FAILING, Step(Action.KEEP)),
    ("the first good evaluation", OpenOutage(1, 0), WELL, Step(Action.CLEARING, 1)),
    ("the second good evaluation", OpenOutage(1, 1), WELL, Step(Action.END, 2)),
]


@pytest.mark.parametrize(
    ("outage", "verdict", "expected"), [row[1:] for row in STEPS], ids=[row[0] for row in STEPS]
)
def test_next_step(outage: OpenOutage | None, verdict: Verdict, expected: Step) -> None:
    assert CLEAR_AFTER == 2
    assert next_step(outage, verdict) == expected


def test_rule_bounds_name_the_field() -> None:
    with pytest.raises(ValueError, match="share"):
        CorrelationRule(share=1.5)
    with pytest.raises(ValueError, match="min_integrations"):
        CorrelationRule(min_integrations=1)
