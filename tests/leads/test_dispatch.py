"""The delivery queue against a real (fake) broker on 127.0.0.1, on SQLite and PostgreSQL:
delivery, idempotent submission, refusal of bad leads, holds and replay in arrival
order, retries, the duplicate answer after a lost one, expiry, the partner budget."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Connection, Engine, func, select, update

from alerts.lead_holds import INCIDENTS, open_incident_holds
from alerts.lead_metrics import publish_leads
from checks.loop import EngineThread
from integrations.apply import apply
from integrations.leads.dispatch import dispatch
from integrations.leads.expiry import send_expired
from integrations.leads.ledger import ATTEMPTS, LEADS, LeadError, LeadIn, parse, submit
from integrations.loader import load_text
from integrations.maintenance import add_window
from integrations.partner_budget import MemoryBudget
from integrations.registry import load_specs
from tests.alerts.helpers import T0, open_auth_incident
from tests.leads.broker import FakeBroker, broker, delivery_config

TOKEN = "partner-token-value-9"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture(scope="module")
def probes() -> Iterator[EngineThread]:
    thread = EngineThread()
    yield thread
    thread.close()


@pytest.fixture
def world(
    db_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Engine, FakeBroker, Any]]:
    monkeypatch.setenv("PARTNER_TOKEN", TOKEN)
    with broker() as (fake, url):
        apply(db_engine, load_text(delivery_config(url)), now=T0)
        yield db_engine, fake, {i: r.spec for i, r in load_specs(db_engine).items()}


def leads(*ids: str, **fields: Any) -> list[LeadIn]:
    base = {"email": "a@example.com", "first": "Ann", "last": "Lee", "age": 33}
    return [LeadIn(id=i, integration="bx", fields={**base, **fields}) for i in ids]


def run(engine: Engine, probes: EngineThread, clock: Clock, **kwargs: Any) -> Any:
    """A dispatch pass with intmon's own hold rule unless the test gives `hold`."""
    kwargs.setdefault("hold", open_incident_holds)
    return dispatch(engine, probes.run_batch, kwargs.pop("budget", MemoryBudget()), clock, **kwargs)


def ledger(engine: Engine, lead_id: str | None = None) -> list[tuple[str, str, int]]:
    query = select(ATTEMPTS.c.lead_id, ATTEMPTS.c.outcome, ATTEMPTS.c.attempt).order_by(
        ATTEMPTS.c.id
    )
    if lead_id:
        query = query.where(ATTEMPTS.c.lead_id == lead_id)
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]  # type: ignore[misc]


def states(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        return dict(connection.execute(select(LEADS.c.lead_id, LEADS.c.state)).all())  # type: ignore[arg-type]


def test_a_lead_is_delivered_once_with_the_broker_id_and_a_clean_ledger(world, probes) -> None:  # type: ignore[no-untyped-def]
    engine, fake, specs = world
    clock = Clock()
    done = submit(engine, leads("L1"), specs, clock())
    assert done.stored == ["L1"]
    assert submit(engine, leads("L1"), specs, clock()).duplicates == ["L1"]  # idempotent
    report = run(engine, probes, clock)
    assert report.outcomes == {"delivered": 1}
    assert fake.accepted == ["L1"]
    assert fake.requests[0]["body"] == {
        "email": "a@example.com",
        "name": "Ann Lee",
        "age": 33,
        "source": "platform",
    }
    assert fake.requests[0]["auth"] == f"Bearer {TOKEN}"
    with engine.connect() as connection:
        row = connection.execute(select(ATTEMPTS)).one()
        lead = connection.execute(select(LEADS)).one()
    assert (row.outcome, row.attempt, row.http_status, row.broker_lead_id) == (
        "delivered",
        1,
        201,
        "B-1",
    )
    assert lead.state == "delivered" and lead.broker_lead_id == "B-1"
    assert TOKEN not in str(row.request) and TOKEN not in row.response_excerpt
    assert row.request["body"]["email"] == "a@example.com"
    assert run(engine, probes, clock).sent == 0  # nothing left


def test_bad_leads_are_refused_as_a_batch_naming_the_field(world) -> None:  # type: ignore[no-untyped-def]
    engine, _fake, specs = world
    with pytest.raises(LeadError) as refused:
        submit(
            engine,
            [
                *leads("ok-1"),
                LeadIn(id="L2", integration="bx", fields={"first": "A", "last": "B", "age": 1}),
                LeadIn(id="L3", integration="bx", fields={"email": "x@y", "first": "A", "age": 1}),
                LeadIn(id="L4", integration="nope", fields={}),
            ],
            specs,
            T0,
        )
    text = str(refused.value)
    assert "lead 1: fields.email: required" in text
    assert "lead 2: fields: 'dict object' has no attribute 'last'" in text
    assert "lead 3: integration: 'nope' unknown integration" in text
    assert states(engine) == {}  # nothing half-written
    with pytest.raises(LeadError, match="lead 0: id: String should match pattern"):
        parse(LeadIn, [{"id": "bad id with spaces", "integration": "bx", "fields": {}}])


def test_leads_are_held_in_maintenance_and_replayed_in_arrival_order(world, probes) -> None:  # type: ignore[no-untyped-def]
    engine, fake, specs = world
    clock = Clock()
    add_window(
        engine,
        "bx",
        {
            "id": "upgrade",
            "starts_at": T0.isoformat(),
            "ends_at": (T0 + timedelta(minutes=10)).isoformat(),
        },
        T0,
    )
    for index in range(5):
        submit(engine, leads(f"L{index}"), specs, clock())
        clock.advance(seconds=1)
    report = run(engine, probes, clock)
    assert report.held == 5 and fake.requests == []
    clock.advance(seconds=30)
    assert run(engine, probes, clock).held == 0  # still held, not noted twice
    assert [row[1] for row in ledger(engine)] == ["held"] * 5
    clock.advance(minutes=10)
    report = run(engine, probes, clock)
    assert report.outcomes == {"delivered": 5}
    assert fake.accepted == [f"L{i}" for i in range(5)]


def test_an_open_auth_incident_holds_leads_until_it_resolves(world, probes) -> None:  # type: ignore[no-untyped-def]
    engine, fake, specs = world
    clock = Clock()
    incident_id = open_auth_incident(engine, "bx")
    submit(engine, leads("A", "B"), specs, clock())
    assert run(engine, probes, clock).held == 2
    with engine.begin() as connection:
        connection.execute(
            update(INCIDENTS)
            .where(INCIDENTS.c.id == incident_id)
            .values(state="resolved", resolved_at=clock())
        )
    clock.advance(seconds=6)
    assert run(engine, probes, clock).outcomes == {"delivered": 2}
    assert fake.accepted == ["A", "B"]


def test_the_hold_rule_given_in_decides_which_integrations_wait(world, probes) -> None:  # type: ignore[no-untyped-def]
    engine, fake, specs = world
    clock = Clock()
    asked: list[tuple[list[str], datetime]] = []

    def paused_by_the_platform(
        connection: Connection, integration_ids: Collection[str], now: datetime
    ) -> dict[str, str]:
        asked.append((list(integration_ids), now))
        return {"bx": "paused by the platform"}

    submit(engine, leads("P1"), specs, clock())
    assert run(engine, probes, clock, hold=paused_by_the_platform).held == 1
    assert asked == [(["bx"], T0)]
    with engine.connect() as connection:
        assert connection.execute(select(ATTEMPTS.c.detail)).scalar_one() == (
            "paused by the platform"
        )
    assert fake.requests == []
    # A rule that holds nothing is obeyed too: the open auth incident that intmon's
    # own rule would hold for is not read behind the caller's back.
    open_auth_incident(engine, "bx")
    with engine.connect() as connection:
        assert open_incident_holds(connection, ["bx"], clock()) != {}
    clock.advance(seconds=6)
    assert run(engine, probes, clock, hold=lambda *_: {}).outcomes == {"delivered": 1}
    assert fake.accepted == ["P1"]


def test_failures_are_retried_with_backoff_and_a_duplicate_answer_confirms_a_lost_one(
    world, probes
) -> None:  # type: ignore[no-untyped-def]
    engine, fake, specs = world
    clock = Clock()
    submit(engine, leads("R1"), specs, clock())
    fake.mode = "503"
    assert run(engine, probes, clock).outcomes == {"failed_server": 1}
    assert run(engine, probes, clock).sent == 0  # backing off
    fake.mode = "ok"
    clock.advance(seconds=3)
    assert run(engine, probes, clock).outcomes == {"delivered": 1}
    assert ledger(engine, "R1") == [("R1", "failed_server", 1), ("R1", "delivered", 2)]
    # A lead whose first answer was lost (its worker died after sending): the broker
    # already has it, answers "duplicate", and that counts as its delivery.
    fake.accepted.append("R2")
    submit(engine, leads("R2"), specs, clock())
    with engine.begin() as connection:
        connection.execute(update(LEADS).where(LEADS.c.lead_id == "R2").values(sends=1))
    assert run(engine, probes, clock).outcomes == {"delivered": 1}
    assert ledger(engine, "R2") == [("R2", "delivered", 2)]
    # The same answer to a first send is the broker refusing a lead it got elsewhere.
    fake.accepted.append("R3")
    submit(engine, leads("R3"), specs, clock())
    rejected = run(engine, probes, clock)
    assert rejected.outcomes == {"rejected": 1}
    labels = {"integration": "bx", "outcome": "rejected", "liability": "undetermined"}
    before = REGISTRY.get_sample_value("intmon_leads_total", labels) or 0.0
    publish_leads(engine, rejected)
    assert REGISTRY.get_sample_value("intmon_leads_total", labels) == before + 1


def test_a_lead_held_past_its_limit_expires_and_the_platform_is_told(world, probes) -> None:  # type: ignore[no-untyped-def]
    engine, fake, specs = world
    clock = Clock()
    add_window(
        engine,
        "bx",
        {
            "id": "long",
            "starts_at": T0.isoformat(),
            "ends_at": (T0 + timedelta(hours=3)).isoformat(),
        },
        T0,
    )
    submit(engine, leads("E1"), specs, clock())
    run(engine, probes, clock)
    clock.advance(hours=1, seconds=1)
    report = run(engine, probes, clock)
    assert report.expired == 1
    assert [row[1] for row in ledger(engine)] == ["held", "expired"]
    # Held in declared maintenance: the broker's, also on the metric.
    labels = {"integration": "bx", "outcome": "expired", "liability": "broker"}
    before = REGISTRY.get_sample_value("intmon_leads_total", labels) or 0.0
    publish_leads(engine, report)
    assert REGISTRY.get_sample_value("intmon_leads_total", labels) == before + 1
    assert states(engine) == {"E1": "expired"}
    assert send_expired(engine, clock()) == 1
    assert fake.expired[0]["lead_id"] == "E1" and fake.expired[0]["event"] == "lead.expired"
    assert send_expired(engine, clock()) == 0  # sent once


def test_the_partner_budget_caps_sends_per_second(world, probes) -> None:  # type: ignore[no-untyped-def]
    engine, fake, specs = world
    clock = Clock()
    spec = specs["bx"]
    limited = spec.model_copy(
        update={
            "delivery": spec.delivery.model_copy(update={"rate_limit_rps": 3.0, "concurrency": 3})
        }
    )
    submit(engine, leads(*[f"Q{i}" for i in range(7)]), specs, clock())
    budget = MemoryBudget()
    report = run(engine, probes, clock, budget=budget, specs={"bx": limited})
    assert (report.sent, report.deferred) == (3, 4)
    # Checks get only their share of what is left in the same window.
    assert budget.take("bx", 5, 3.0, 0.2, clock().timestamp()) == 0
    clock.advance(seconds=1)
    assert run(engine, probes, clock, budget=budget, specs={"bx": limited}).sent == 3
    clock.advance(seconds=1)
    assert run(engine, probes, clock, budget=budget, specs={"bx": limited}).sent == 1
    assert fake.accepted == [f"Q{i}" for i in range(7)]
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(ATTEMPTS)).scalar_one() == 7


def test_leads_of_an_integration_that_stopped_delivering_still_expire(world, probes) -> None:  # type: ignore[no-untyped-def]
    engine, fake, specs = world
    clock = Clock()
    submit(engine, leads("O1"), specs, clock())
    assert run(engine, probes, clock, specs={}).sent == 0  # no delivery block: not sent
    assert states(engine) == {"O1": "queued"}
    clock.advance(hours=1, seconds=1)
    assert run(engine, probes, clock, specs={}).expired == 1
    assert states(engine) == {"O1": "expired"} and fake.requests == []
    with engine.connect() as connection:
        detail = connection.execute(select(ATTEMPTS.c.detail)).scalar_one()
    assert detail == "its integration no longer delivers leads"
