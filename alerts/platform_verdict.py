"""Is it them or us? The pure decision behind platform outages.

    platform_verdict(canary_results, correlation_counts, now, rule) -> Verdict
        whether intmon's own network or resolver is failing right now, and why
    next_step(open_outage, verdict) -> Step
        what to do with the outage record: open one, keep it, count a good
        evaluation towards clearing it, or end it

Three causes, first match wins:

1. `canary`     every operator-named canary fails (one of several failing is that
                target's problem, not ours);
2. `dns`        every name in `dns_names` fails to resolve;
3. `correlated` at least `min_integrations` distinct partner endpoints, and at
                least `share` of the endpoints checked in the last `window_s`,
                have the same connectivity outcome (dns_failure,
                connection_refused, timeout, tls_error): unrelated partners do
                not all fail the same way at the same moment.

Endpoints, not integrations, are counted: twenty clients' integrations of one
partner host failing together is that partner down, not us. An outage ends after
`CLEAR_AFTER` evaluations in a row that find nothing failing, so one lucky pass in
the middle of a network flap does not release a wave of partner incidents.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field

from core.vocabulary.outcomes import Outcome
from integrations.strict import Strict

if TYPE_CHECKING:
    from checks.canary import CanaryResult

CONNECTIVITY_OUTCOMES: tuple[Outcome, ...] = (
    Outcome.DNS_FAILURE,
    Outcome.CONNECTION_REFUSED,
    Outcome.TIMEOUT,
    Outcome.TLS_ERROR,
)
# Good evaluations in a row that end an outage.
CLEAR_AFTER = 2
# Integrations named in an outage's evidence, at most (the counts say the rest).
EXAMPLES = 10


class CorrelationRule(Strict):
    """`self_check.correlated`: on by default."""

    enabled: bool = True
    min_integrations: int = Field(default=5, ge=2)
    share: float = Field(default=0.5, gt=0, le=1)
    window_s: float = Field(default=60.0, gt=0, le=3600)


@dataclass(frozen=True, slots=True)
class CorrelationCounts:
    """What the latest results of the last `window_s` say, per partner endpoint."""

    checked: int = 0  # distinct endpoints with a result in the window
    failing: Mapping[Outcome, int] = field(default_factory=dict)  # endpoints per outcome
    # The earliest of those failing results, per outcome: where the outage began.
    since: Mapping[Outcome, datetime] = field(default_factory=dict)
    examples: Mapping[Outcome, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verdict:
    failing: bool
    cause: str | None = None  # canary | dns | correlated
    outcome: Outcome | None = None
    detail: str = ""
    started_at: datetime | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


WELL = Verdict(failing=False)


def platform_verdict(
    canary_results: Sequence[CanaryResult],
    correlation_counts: CorrelationCounts,
    now: datetime,
    rule: CorrelationRule | None = None,
) -> Verdict:
    rule = rule or CorrelationRule()
    for kind in ("canary", "dns"):
        verdict = _all_failing(kind, [r for r in canary_results if r.kind == kind], now)
        if verdict is not None:
            return verdict
    if rule.enabled:
        return _correlated(correlation_counts, rule)
    return WELL


def _all_failing(kind: str, results: Sequence[CanaryResult], now: datetime) -> Verdict | None:
    if not results or any(r.ok for r in results):
        return None
    outcome = Counter(r.outcome for r in results).most_common(1)[0][0]
    assert outcome is not None  # every result failed
    first = results[0]
    what = "canary" if kind == "canary" else "DNS name"
    detail = (
        f"every {what} fails ({len(results)}): {first.name}: {first.detail}"
        if len(results) > 1
        else f"{what} {first.name} fails: {first.detail}"
    )
    evidence = {kind: {r.name: f"{r.outcome}: {r.detail}" for r in results}}
    return Verdict(True, kind, outcome, detail, now, evidence)


def _correlated(counts: CorrelationCounts, rule: CorrelationRule) -> Verdict:
    if counts.checked == 0:
        return WELL
    holding = [
        (counts.failing.get(outcome, 0), outcome)
        for outcome in CONNECTIVITY_OUTCOMES
        if counts.failing.get(outcome, 0) >= rule.min_integrations
        and counts.failing.get(outcome, 0) / counts.checked >= rule.share
    ]
    if not holding:
        return WELL
    failing, outcome = max(holding, key=lambda pair: pair[0])
    detail = (
        f"{failing} of {counts.checked} partner endpoints checked in the last "
        f"{rule.window_s:g}s fail with {outcome}"
    )
    evidence = {
        "checked": counts.checked,
        "failing": {str(o): n for o, n in sorted(counts.failing.items())},
        "examples": list(counts.examples.get(outcome, ())),
        "rule": rule.model_dump(mode="json"),
    }
    return Verdict(True, "correlated", outcome, detail, counts.since.get(outcome), evidence)


class Action(enum.StrEnum):
    NOTHING = "nothing"  # no outage, none needed
    OPEN = "open"  # begin one
    KEEP = "keep"  # still failing: the clearing count starts over
    CLEARING = "clearing"  # a good evaluation, not yet enough of them
    END = "end"


@dataclass(frozen=True, slots=True)
class OpenOutage:
    id: int
    clear_streak: int


@dataclass(frozen=True, slots=True)
class Step:
    action: Action
    clear_streak: int = 0


def next_step(open_outage: OpenOutage | None, verdict: Verdict) -> Step:
    if open_outage is None:
        return Step(Action.OPEN) if verdict.failing else Step(Action.NOTHING)
    if verdict.failing:
        return Step(Action.KEEP)
    streak = open_outage.clear_streak + 1
    return Step(Action.END, streak) if streak >= CLEAR_AFTER else Step(Action.CLEARING, streak)
