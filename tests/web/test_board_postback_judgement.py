"""One judgement for a broker's postbacks on the board: the row's place (the order's
`monitor_alarms`) and its cell (`summaries`) agree whatever the detector has
recorded so far: a broker that just stopped, one judged, one recovered before the
detector ran again, and an incident left open while too few leads come."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from alerts.policy import Policy
from alerts.postback_watch import watch_postbacks
from integrations.apply import apply
from integrations.leads.delivery import LeadOutcome
from integrations.leads.ledger import AttemptIn, record
from integrations.loader import load_text
from integrations.postbacks.store import PostbackIn, record_postback
from integrations.registry import load_specs
from integrations.results import StateView, current_states
from intmon.web.board_monitors import monitor_alarms, summaries
from tests.alerts.helpers import T0

CONFIG = """version: 1
integrations:
  - id: b
    name: Broker
    kind: broker
    client: acme
    base_url: http://127.0.0.1:9
    checks: [{name: health, path: /health}]
    postbacks: {secret: "${PB_SECRET}", window_s: 7200, min_ratio: 0.5, min_leads: 2}
"""
NOW = T0 + timedelta(hours=1)


def leads(engine: Engine) -> None:
    """Four leads the broker accepted half an hour ago."""
    attempts = [
        AttemptIn(
            lead_id=f"L-{n}",
            integration="b",
            at=NOW - timedelta(minutes=30),
            outcome=LeadOutcome.DELIVERED,
            broker_lead_id=f"B-{n}",
        )
        for n in range(4)
    ]
    record(engine, attempts, {"b"})


def called_back(engine: Engine) -> None:
    for n in range(3):
        postback = PostbackIn(event_id=f"E-{n}", lead_id=f"B-{n}", status="converted")
        record_postback(engine, "b", postback, NOW - timedelta(minutes=5))


def detector(engine: Engine, minutes: float = 0) -> None:
    watch_postbacks(engine, Policy(), NOW + timedelta(minutes=minutes))


Step = Callable[[Engine], None]
DETECTOR_SAID = "no postback for any of the 4 leads"
CASES: list[tuple[str, list[Step], float, bool, str | None]] = [
    # name, what happened, minutes after NOW the board is read, postbacks missing,
    # and how the cell's detail begins when it must be the detector's words (the
    # window alone would say otherwise)
    ("called back, not judged yet", [leads, called_back], 0, False, None),
    ("called back and judged", [leads, called_back, detector], 0, False, None),
    ("just stopped, not judged yet", [leads], 0, True, None),
    ("stopped and judged", [leads, detector], 0, True, None),
    ("recovered, not judged again", [leads, detector, called_back], 0, True, DETECTOR_SAID),
    ("recovered and judged again", [leads, detector, called_back, detector], 0, False, None),
    # The window has moved past the leads: too few to judge; the verdict stands.
    ("judged missing, now too few leads", [leads, detector], 180, True, DETECTOR_SAID),
]


@pytest.mark.parametrize(
    ("steps", "later", "missing", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_rows_place_and_its_cell_read_one_judgement(
    db_engine: Engine, steps: list[Step], later: float, missing: bool, words: str | None
) -> None:
    apply(db_engine, load_text(CONFIG), T0)
    for step in steps:
        step(db_engine)
    now = NOW + timedelta(minutes=later)
    specs = {i: registered.spec for i, registered in load_specs(db_engine).items()}
    states: dict[str, list[StateView]] = {}
    for state in current_states(db_engine):
        states.setdefault(state.integration_id, []).append(state)

    alarmed = "b" in monitor_alarms(db_engine, specs, states, now)
    cell = summaries(db_engine, list(specs.values()), now)["b"]
    assert alarmed is missing
    assert cell.alarm is missing and cell.postbacks_missing is missing
    assert cell.postbacks is not None
    assert (cell.postbacks.state == "missed") is missing
    if words is not None:
        assert cell.postbacks.detail.startswith(words), cell.postbacks.detail
