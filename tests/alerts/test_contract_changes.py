"""A partner changes its answer: the incident carries the diff against the learned
contract (checks.contract, integrations.contracts). Real partner on 127.0.0.1,
real probe engine, both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine, select

from alerts.intake import ingest
from alerts.models import Incident
from alerts.policy import Policy
from checks.engine import ProbeSettings
from checks.loop import EngineThread
from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.apply import apply
from integrations.config import IntegrationSpec
from integrations.contracts import change_evidence, learned
from integrations.loader import load_text
from integrations.registry import load_specs
from tests.conftest import Partner

BEFORE = b'{"status": "ok", "id": 1}'
AFTER = b'{"state": "ok", "id": "1"}'


@pytest.fixture
def probes() -> Iterator[EngineThread]:
    # The default sampling: only the first passing answer of each check is shaped
    # (one engine per test: the sampler remembers checks by name).
    thread = EngineThread(ProbeSettings(event_loop="asyncio"))
    yield thread
    thread.close()


HEALTH = """{name: health, path: /health, expect: {json: ['$.status == "ok"']}}"""
# An unauthenticated probe: the partner must refuse it with a Bearer challenge.
CHALLENGE = """{name: health, path: /health, expect: {status: [401],
                headers: {WWW-Authenticate: '^Bearer '}}}"""


def register(engine: Engine, partner: Partner, check: str = HEALTH) -> dict[str, IntegrationSpec]:
    apply(
        engine,
        load_text(
            f"""version: 1
integrations:
  - id: broker
    name: Broker
    kind: broker
    client: acme
    base_url: {partner.url}
    checks: [{check}]
"""
        ),
    )
    return {i: r.spec for i, r in load_specs(engine).items()}


def run(
    engine: Engine, probes: EngineThread, specs: dict[str, IntegrationSpec], times: int
) -> list[CheckResult]:
    spec = specs["broker"]
    results = []
    for _ in range(times):
        (result,) = probes.run_batch([(spec, spec.checks[0], None)])
        ingest(engine, [result], specs, Policy())
        results.append(result)
    return results


def the_incident(engine: Engine) -> dict:  # type: ignore[type-arg]
    with engine.connect() as connection:
        (row,) = connection.execute(select(Incident)).all()
    return dict(row._mapping)


@pytest.mark.parametrize("failing_status", [422, 200], ids=["422", "200 failing the assertion"])
def test_a_renamed_and_retyped_field_is_on_the_incident(
    db_engine: Engine, partner: Partner, probes: EngineThread, failing_status: int
) -> None:
    specs = register(db_engine, partner)
    partner.body = BEFORE
    passed = run(db_engine, probes, specs, 3)
    assert [r.outcome for r in passed] == [Outcome.OK] * 3
    # Only the first passing answer was shaped, and it is what was learned.
    assert [r.shape is not None for r in passed] == [True, False, False]
    with db_engine.connect() as connection:
        contract = learned(connection, "broker", "health")
    assert contract is not None and contract.since == passed[0].started_at

    partner.status, partner.body = failing_status, AFTER
    failed = run(db_engine, probes, specs, 3)
    assert {r.outcome for r in failed} <= {Outcome.CLIENT_ERROR, Outcome.CONTRACT_VIOLATION}

    incident = the_incident(db_engine)
    assert incident["family"] == "contract"
    summary = incident["contract_diff"]["summary"]
    assert "`$.status` removed, `$.state` added, `$.id` number → string" in summary
    assert summary.startswith("status 200 → 422, ") == (failing_status == 422)

    evidence = change_evidence(incident)
    assert evidence is not None and evidence.shape_changed
    assert evidence.check == "health"
    assert evidence.last_passing_at == passed[-1].started_at
    assert evidence.observed_at == failed[-1].started_at
    assert [c.kind for c in evidence.changes][-3:] == ["removed", "added", "type"]


def test_a_401_with_a_new_challenge_is_on_the_incident(
    db_engine: Engine, partner: Partner, probes: EngineThread
) -> None:
    specs = register(db_engine, partner)
    partner.body = BEFORE
    passed = run(db_engine, probes, specs, 2)

    partner.status = 401
    partner.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    failed = run(db_engine, probes, specs, 3)
    assert {r.outcome for r in failed} == {Outcome.AUTH_FAILURE}

    incident = the_incident(db_engine)
    assert incident["family"] == "auth"
    assert [c["text"] for c in incident["contract_diff"]["changes"]] == [
        "status 200 → 401",
        '401 now with `WWW-Authenticate: Bearer error="invalid_token"`',
    ]
    evidence = change_evidence(incident)
    assert evidence is not None and evidence.shape_changed
    assert isinstance(evidence.last_passing_at, datetime)
    assert evidence.last_passing_at == passed[-1].started_at


def test_a_401_whose_challenge_changed_is_on_the_incident(
    db_engine: Engine, partner: Partner, probes: EngineThread
) -> None:
    specs = register(db_engine, partner, CHALLENGE)
    partner.status, partner.body = 401, b'{"error": "unauthorized"}'
    partner.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    assert {r.outcome for r in run(db_engine, probes, specs, 2)} == {Outcome.OK}

    partner.headers["WWW-Authenticate"] = 'Basic realm="api"'
    failed = run(db_engine, probes, specs, 3)
    assert {r.outcome for r in failed} == {Outcome.CONTRACT_VIOLATION}

    incident = the_incident(db_engine)
    assert incident["family"] == "contract"
    assert incident["contract_diff"]["summary"] == (
        '401 now with `WWW-Authenticate: Basic realm="api"` (was `Bearer realm="api"`)'
    )


def test_no_evidence_without_a_learned_contract_or_for_other_families(
    db_engine: Engine, partner: Partner, probes: EngineThread
) -> None:
    specs = register(db_engine, partner)
    partner.status = 401  # never passed: nothing was learned to compare with
    run(db_engine, probes, specs, 3)
    incident = the_incident(db_engine)
    assert incident["family"] == "auth"
    assert incident["contract_diff"] is None and change_evidence(incident) is None


def verdict_for_a_lead_lost_now(engine: Engine) -> tuple[str, str, list[str]]:
    """A lead refused with the same failure, just now, with no change notice."""
    from alerts.lead_report import judge_lead
    from core.db import utcnow
    from integrations.leads.ledger import AttemptIn, record

    record(
        engine,
        [
            AttemptIn(
                lead_id="L1",
                integration="broker",
                attempt=1,
                at=utcnow(),
                outcome="failed_contract",  # type: ignore[arg-type]
            )
        ],
        {"broker"},
    )
    with engine.connect() as connection:
        liability = judge_lead(connection, "broker", "L1")
    assert liability is not None
    return liability.party.value, liability.reason, liability.evidence


def test_a_changed_answer_without_notice_makes_the_lost_lead_the_brokers(
    db_engine: Engine, partner: Partner, probes: EngineThread
) -> None:
    specs = register(db_engine, partner)
    partner.body = BEFORE
    run(db_engine, probes, specs, 2)
    partner.status, partner.body = 422, AFTER
    run(db_engine, probes, specs, 3)
    party, reason, evidence = verdict_for_a_lead_lost_now(db_engine)
    assert party == "broker", reason
    assert "unannounced broker change" in reason and "`$.status` removed" in reason
    incident_id = the_incident(db_engine)["id"]
    assert f"contract-diff:incident:{incident_id}" in evidence


def test_an_answer_that_only_changed_its_status_proves_no_broker_change(
    db_engine: Engine, partner: Partner, probes: EngineThread
) -> None:
    """200 → 401 with the same body: our own credential may have expired."""
    specs = register(db_engine, partner)
    partner.body = BEFORE
    run(db_engine, probes, specs, 2)
    partner.status = 401
    run(db_engine, probes, specs, 3)
    assert the_incident(db_engine)["contract_diff"]["summary"] == "status 200 → 401"
    party, reason, _ = verdict_for_a_lead_lost_now(db_engine)
    assert party == "undetermined", reason
    assert "no evidence the broker changed anything" in reason
