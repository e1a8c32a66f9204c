"""The postback monitor's rule as a table (one row per case), the window on a moved
clock against the real ledger, and the `postbacks:` block's errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from core.vocabulary.outcomes import Outcome
from integrations.apply import apply
from integrations.leads.delivery import LeadOutcome
from integrations.leads.ledger import AttemptIn, record
from integrations.loader import load_text
from integrations.postbacks.monitor import (
    MonitorState,
    WindowCounts,
    detect,
    judge,
    monitor_views,
    windows_counts,
)
from integrations.postbacks.store import PostbackIn, record_postback
from integrations.registry import load_specs
from integrations.specs.postbacks import PostbackSpec
from tests.alerts.helpers import T0
from tests.postbacks.test_postbacks import CONFIG

SPEC = PostbackSpec(secret="${S}", window_s=7200, min_ratio=0.5, min_leads=5)
SILENCE_ONLY = PostbackSpec(secret="${S}", window_s=3600, min_ratio=0, min_leads=1)


@pytest.mark.parametrize(
    ("name", "spec", "leads", "with_postback", "state", "detail"),
    [
        ("no leads", SPEC, 0, 0, MonitorState.TOO_FEW_LEADS, "0 lead(s) accepted in the last 2 h"),
        ("under min_leads", SPEC, 4, 0, MonitorState.TOO_FEW_LEADS, "fewer than min_leads 5"),
        ("silence", SPEC, 5, 0, MonitorState.MISSED, "no postback for any of the 5 leads"),
        ("under the ratio", SPEC, 10, 4, MonitorState.MISSED, "4 of 10 leads accepted in the "),
        ("at the ratio", SPEC, 10, 5, MonitorState.OK, "5 of 10 leads accepted in the last 2 h"),
        ("all", SPEC, 7, 7, MonitorState.OK, "(100%)"),
        ("min_ratio 0: silence", SILENCE_ONLY, 1, 0, MonitorState.MISSED, "last 1 h"),
        ("min_ratio 0: one is enough", SILENCE_ONLY, 9, 1, MonitorState.OK, "1 of 9"),
    ],
)
def test_judge(
    name: str,
    spec: PostbackSpec,
    leads: int,
    with_postback: int,
    state: MonitorState,
    detail: str,
) -> None:
    verdict = judge(WindowCounts(leads, with_postback, with_postback, None), spec)
    assert verdict.state == state, name
    assert detail in verdict.detail, (name, verdict.detail)


def test_the_window_moves_with_the_clock(db_engine: Engine) -> None:
    """Leads count while they are inside (now - window_s, now]; postbacks count once
    received by `now`, whenever that is."""
    apply(db_engine, load_text(CONFIG), T0)
    specs = {k: r.spec for k, r in load_specs(db_engine).items() if r.spec.postbacks}
    record(
        db_engine,
        [
            AttemptIn(
                lead_id=f"L-{n}",
                integration="broker",
                attempt=1,
                at=T0 + timedelta(minutes=n),
                outcome=LeadOutcome.DELIVERED if n != 5 else LeadOutcome.REJECTED,
                broker_lead_id=f"B-{n}",
            )
            for n in range(1, 7)
        ],
        {"broker"},
    )
    for n in (1, 2):
        postback = PostbackIn(event_id=f"E-{n}", lead_id=f"B-{n}", status="accepted")
        record_postback(db_engine, "broker", postback, T0 + timedelta(minutes=30))

    def outcome_at(now: timedelta) -> tuple[Outcome, str] | None:
        results = detect(db_engine, specs, T0 + now)
        return (results[0].outcome, results[0].detail) if results else None

    # Before any lead, and at +3 min (three leads, min_leads is 4): nothing to judge.
    assert outcome_at(timedelta(0)) is None
    assert outcome_at(timedelta(minutes=3)) is None
    # +10 min: five accepted (L-5 was rejected), no postback received yet.
    assert outcome_at(timedelta(minutes=10)) == (
        Outcome.MISSED_POSTBACKS,
        "no postback for any of the 5 leads accepted in the last 2 h",
    )
    # +30 min: two of five, 40 %, under 50 %.
    missed, detail = outcome_at(timedelta(minutes=30)) or (None, "")
    assert missed is Outcome.MISSED_POSTBACKS and "2 of 5" in detail
    # +2 h 2 min: L-1 and L-2 have left the window; L-3, L-4, L-6 remain, too few.
    assert outcome_at(timedelta(hours=2, minutes=2)) is None
    record_postback(
        db_engine,
        "broker",
        PostbackIn(event_id="E-3", lead_id="B-3", status="converted"),
        T0 + timedelta(minutes=40),
    )
    # +50 min: three of five with a postback: 60 %, ok.
    assert outcome_at(timedelta(minutes=50)) == (
        Outcome.OK,
        "postbacks for 3 of 5 leads accepted in the last 2 h (60%)",
    )


@pytest.mark.parametrize(
    ("block", "field", "message"),
    [
        ("{secret: plain-text}", "postbacks.secret", "never inline"),
        ("{}", "postbacks.secret", "required field is missing"),
        ('{secret: "${S}", window_s: 10}', "postbacks.window_s", "greater than or equal to 60"),
        ('{secret: "${S}", min_ratio: 1.5}', "postbacks.min_ratio", "less than or equal to 1"),
        ('{secret: "${S}", min_leads: 0}', "postbacks.min_leads", "greater than or equal to 1"),
        ('{secret: "${S}", ratio: 0.5}', "postbacks.ratio", "unknown field"),
    ],
)
def test_bad_postbacks_block_names_the_field(block: str, field: str, message: str) -> None:
    from integrations.errors import ConfigError

    good = 'postbacks: {secret: "${BROKER_POSTBACK_SECRET}", window_s: 7200, min_ratio: 0.5, '
    line = next(line for line in CONFIG.splitlines() if good in line)
    text = CONFIG.replace(line, f"    postbacks: {block}")
    with pytest.raises(ConfigError) as raised:
        load_text(text, "pb.yaml")
    [problem] = raised.value.problems
    assert problem.field.endswith(field), problem
    assert message in problem.message, problem
    assert problem.line == 9


def test_a_disabled_integration_is_not_judged(db_engine: Engine) -> None:
    disabled = CONFIG.replace(
        "    kind: broker\n    client: acme\n",
        "    kind: broker\n    client: acme\n    enabled: false\n",
        1,
    )
    assert "enabled: false" in disabled
    apply(db_engine, load_text(disabled), T0)
    specs = {k: r.spec for k, r in load_specs(db_engine).items()}
    record(
        db_engine,
        [
            AttemptIn(
                lead_id=f"L-{n}",
                integration="broker",
                attempt=1,
                at=T0,
                outcome=LeadOutcome.DELIVERED,
            )
            for n in range(10)
        ],
        {"broker"},
    )
    assert detect(db_engine, specs, T0 + timedelta(minutes=5)) == []


TWO_BROKERS = CONFIG.replace(
    "  - id: quiet",
    """  - id: second
    name: Second
    kind: broker
    client: orbit
    base_url: http://127.0.0.1:9
    checks: [{name: health, path: /health}]
    postbacks: {secret: "${S}", window_s: 7200, min_ratio: 0.5, min_leads: 1}
  - id: quiet""",
)


def test_many_integrations_are_counted_at_once(db_engine: Engine) -> None:
    """The board reads a page of monitors in one go: each integration's own leads
    and postbacks, none of another's, and zeros for one with neither."""
    apply(db_engine, load_text(TWO_BROKERS), T0)
    leads = [("broker", n) for n in range(1, 5)] + [("second", n) for n in range(1, 3)]
    record(
        db_engine,
        [
            AttemptIn(
                lead_id=f"{integration}-L-{n}",
                integration=integration,
                attempt=1,
                at=T0 + timedelta(minutes=n),
                outcome=LeadOutcome.DELIVERED,
                # The same broker lead ids at both brokers: matched per integration.
                broker_lead_id=f"B-{n}",
            )
            for integration, n in leads
        ],
        {"broker", "second"},
    )
    postback = PostbackIn(event_id="E-1", lead_id="B-1", status="accepted")
    record_postback(db_engine, "second", postback, T0 + timedelta(minutes=20))
    now = T0 + timedelta(minutes=30)
    with db_engine.connect() as connection:
        counted = windows_counts(connection, ["broker", "second", "quiet"], 7200, now)
    assert counted == {
        "broker": WindowCounts(leads=4, with_postback=0, received=0, last_received_at=None),
        "second": WindowCounts(
            leads=2, with_postback=1, received=1, last_received_at=T0 + timedelta(minutes=20)
        ),
        "quiet": WindowCounts(leads=0, with_postback=0, received=0, last_received_at=None),
    }
    specs = [r.spec for r in load_specs(db_engine).values()]
    views = {view.integration_id: view for view in monitor_views(db_engine, specs, now)}
    assert sorted(views) == ["broker", "second"]
    assert (views["broker"].state, views["second"].state) == ("missed", "ok")
    assert views["second"].ratio == 0.5
