"""A batch of results through intake equals the same results ingested one by one.

The worker stores a batch of up to 200 checks of many integrations in one
`ingest` (one open-incident lookup for all of them with one array parameter on
PostgreSQL, the streaks of the failing ones in one query). Whatever the batching,
the incidents must come out as if each result had been ingested on its own:
thresholds of N in a row, every failing check waited for, flapping, a family
changing, healthy integrations untouched. Both backends.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select

from alerts.incidents import Transitions
from alerts.intake import ingest
from alerts.models import Incident, Ticket
from alerts.policy import Policy
from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.apply import apply
from integrations.loader import load_text
from integrations.registry import load_specs
from tests.alerts.helpers import T0, result

OK, AUTH, DOWN, SLOW = Outcome.OK, Outcome.AUTH_FAILURE, Outcome.CONNECTION_REFUSED, Outcome.SLOW
POLICY = Policy(flap_window_s=600, flap_threshold=3)
MINUTES = 24

# Integration → check → outcome per minute (the last one repeats).
SCRIPT: dict[str, dict[str, list[Outcome]]] = {
    # Opens on the third failure in a row, resolves after two passes.
    "a": {"health": [OK, AUTH, AUTH, AUTH, AUTH, OK, OK], "leads": [OK]},
    # Waits for every check that failed in it.
    "b": {
        "health": [DOWN, DOWN, DOWN, OK, OK],
        "leads": [OK, OK, OK, DOWN, DOWN, DOWN, OK, OK, OK],
    },
    # Thresholds of one: flaps, then resolves once quiet for a whole flap window.
    "c": {"health": [DOWN, OK] * 6 + [OK], "leads": [OK]},
    # The family changes under the threshold and over it.
    "d": {"health": [AUTH, AUTH, DOWN, DOWN, DOWN, SLOW, SLOW, SLOW, SLOW, OK], "leads": [OK]},
    # Failures that never reach the threshold.
    "e": {"health": [DOWN, OK, DOWN, DOWN, OK], "leads": [OK, AUTH, OK]},
    # Healthy throughout.
    "f": {"health": [OK], "leads": [SLOW, OK]},
}
THRESHOLDS = {"c": "    thresholds: {failure_threshold: 1, success_threshold: 1}\n"}


def config(prefix: str) -> str:
    rows = [
        f"  - id: {prefix}{name}\n"
        f"    name: {prefix.title()}{name} Broker\n"
        "    kind: broker\n"
        "    client: acme\n"
        "    base_url: http://127.0.0.1:9\n"
        "    interval_s: 60\n"
        "    checks: [{name: health, path: /h}, {name: leads, path: /l}]\n"
        + THRESHOLDS.get(name, "")
        for name in SCRIPT
    ]
    return "version: 1\nintegrations:\n" + "".join(rows)


def minute_of(prefix: str, minute: int) -> list[CheckResult]:
    return [
        result(outcomes[min(minute, len(outcomes) - 1)], minute, prefix + name, check)
        for name, checks in SCRIPT.items()
        for check, outcomes in checks.items()
    ]


def snapshot(engine: Engine, prefix: str) -> list[tuple[Any, ...]]:
    """The incidents of one run, without ids, and their tickets' state."""
    with engine.connect() as c:
        incidents = c.execute(
            select(Incident).where(Incident.integration_id.startswith(prefix))
        ).all()
        tickets = {t.id: t.status for t in c.execute(select(Ticket.id, Ticket.status)).all()}
    return sorted(
        (
            i.integration_id.removeprefix(prefix),
            i.family,
            i.state,
            i.failures,
            tuple(i.checks),
            i.opened_at,
            i.first_seen,
            i.last_seen,
            i.resolved_at,
            i.last_outcome,
            i.reopened,
            i.flapping,
            tickets.get(i.ticket_id),
        )
        for i in incidents
    )


def counted(total: dict[str, int], done: Transitions) -> None:
    for name in ("opened", "reopened", "resolved", "tickets_opened"):
        total[name] += len(getattr(done, name))


def test_a_batch_equals_its_results_one_by_one(db_engine: Engine) -> None:
    apply(db_engine, load_text(config("x") + config("y").split("integrations:\n", 1)[1]))
    specs = {i: r.spec for i, r in load_specs(db_engine).items()}
    batched = dict.fromkeys(("opened", "reopened", "resolved", "tickets_opened"), 0)
    alone = dict(batched)
    for minute in range(MINUTES):
        now = T0 + timedelta(minutes=minute, seconds=30)
        counted(batched, ingest(db_engine, minute_of("x", minute), specs, POLICY, now))
        for one in minute_of("y", minute):
            counted(alone, ingest(db_engine, [one], specs, POLICY, now))

    assert batched == alone
    assert snapshot(db_engine, "x") == snapshot(db_engine, "y")
    # The script does reach every rule it is meant to pin.
    rows = snapshot(db_engine, "x")
    assert {(r[0], r[1]) for r in rows} >= {
        ("a", "auth"),
        ("b", "connectivity"),
        ("c", "connectivity"),
        ("d", "degraded"),
    }
    assert any(r[0] == "c" and r[11] and r[2] == "resolved" for r in rows)  # flapped, then quiet
    assert not [r for r in rows if r[0] in ("e", "f")]
    assert batched["resolved"] >= 3 and batched["reopened"] >= 2
