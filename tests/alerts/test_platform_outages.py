"""Is it them or us, end to end: results through the intake, the housekeeping pass
judging them, outages opening and ending, partner incidents held back, the
operators told once, and lost leads judged the platform's; both backends.
Canaries run against a real server on 127.0.0.1."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from alerts import platform_outages
from alerts.housekeeping import housekeep
from alerts.lead_report import judge_lead
from alerts.models import Incident, PlatformOutage, Ticket
from alerts.platform_verdict import Action
from alerts.policy import Policy
from alerts.queries import alert_counts
from alerts.render import render
from core.outbox import OutboxMessage
from core.vocabulary.outcomes import Outcome
from integrations.config import IntegrationSpec
from integrations.leads.ledger import AttemptIn, record
from integrations.leads.liability import Party
from integrations.models import CheckResultRow, CheckState
from integrations.registry import load_specs
from intmon.config_file import apply_config, load_config_text
from tests.alerts.helpers import T0, config_text, feed, setup
from tests.alerts.test_channels import free_port
from tests.conftest import Partner

OK, REFUSED = Outcome.OK, Outcome.CONNECTION_REFUSED
PARTNERS = [f"p{n}" for n in range(1, 7)]
OPS = "ops@platform.example"
OWN_CONTACT = f"    contacts: [{{name: Ivan, email: {OPS}, roles: [operational_internal]}}]"


def six_partners(self_check: str = "") -> str:
    """Six partners of three clients, each on its own closed port; the same operator
    is named by every client and by p1 itself (told once all the same)."""
    integrations = "\n".join(
        f"""  - id: {name}
    name: {name.upper()} Broker
    kind: broker
    client: c{index % 3}
    base_url: http://127.0.0.1:{free_port()}
    interval_s: 60
    checks: [{{name: health, path: /health}}]
{OWN_CONTACT if index == 0 else ""}"""
        for index, name in enumerate(PARTNERS)
    )
    clients = "\n".join(
        f"  c{n}:\n    contacts:\n"
        f"      - {{name: Ivan Ops, email: {OPS}, roles: [operational_internal]}}\n"
        f"      - {{name: Client {n}, email: support@c{n}.example, roles: [operational_public]}}"
        for n in range(3)
    )
    return f"version: 1\nclients:\n{clients}\n{self_check}integrations:\n{integrations}\n"


def world(engine: Engine, self_check: str = "") -> dict[str, IntegrationSpec]:
    apply_config(engine, load_config_text(six_partners(self_check)))
    return {i: r.spec for i, r in load_specs(engine).items()}


def at(minute: float) -> Any:
    return T0 + timedelta(minutes=minute)


def feed_all(
    engine: Engine, specs: dict[str, IntegrationSpec], outcomes: list[Outcome], start: float
) -> None:
    for name in PARTNERS:
        feed(engine, specs, outcomes, start=start, integration=name)


def rows(engine: Engine, model: Any) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(select(model))]


def outbox_events(engine: Engine) -> list[tuple[str, str, str]]:
    return [
        (row["target"], row["kind"], row["payload"]["recipient"]["email"])
        for row in rows(engine, OutboxMessage)
    ]


def test_six_partners_refused_at_once_is_one_platform_outage(db_engine: Engine) -> None:
    specs = world(db_engine)
    feed_all(db_engine, specs, [REFUSED], start=0)  # everyone refused at 12:00

    report = housekeep(db_engine, Policy(), at(0.5), sync=False)
    assert report.self_check is not None and report.self_check.action is Action.OPEN
    (outage,) = rows(db_engine, PlatformOutage)
    assert (outage["state"], outage["cause"], outage["outcome"]) == (
        "open",
        "correlated",
        "connection_refused",
    )
    assert outage["started_at"] == T0  # the first failing result, not when it was noticed
    assert outage["detail"].startswith("6 of 6 partner endpoints")
    assert outage["evidence"]["examples"] == PARTNERS
    assert alert_counts(db_engine).platform_outage == 1  # intmon_platform_outage
    # The operators hear once (one address, named four times); nobody else does.
    assert outbox_events(db_engine) == [("notify:email", "incident.opened", OPS)]

    # Minutes of refusals while it is open: stored, but no incident, ticket or message.
    feed_all(db_engine, specs, [REFUSED] * 4, start=1)
    assert rows(db_engine, Incident) == [] and rows(db_engine, Ticket) == []
    assert len(outbox_events(db_engine)) == 1
    inhibited = [r for r in rows(db_engine, CheckResultRow) if r["inhibited"]]
    assert len(inhibited) == 24 and not any(r["maintenance"] for r in inhibited)
    state = {r["integration_id"]: r for r in rows(db_engine, CheckState)}
    assert state["p1"]["outcome"] == "connection_refused" and state["p1"]["inhibited"]
    assert state["p1"]["family_streak"] == 1  # the streak from before it, paused

    # A lead lost meanwhile is the platform's.
    record(
        db_engine,
        [
            AttemptIn(
                lead_id="L1", integration="p1", attempt=1, at=at(2), outcome="failed_connection"
            )
        ],  # type: ignore[arg-type]
        set(PARTNERS),
    )
    with db_engine.connect() as connection:
        liability = judge_lead(connection, "p1", "L1")
    assert liability is not None and liability.party is Party.PLATFORM
    assert liability.reason.startswith(
        f"intmon's own network was failing (platform outage #{outage['id']}: correlated: 6 of 6"
    )
    assert f"platform-outage:{outage['id']}" in liability.evidence

    # Partners answer again: it ends after two good evaluations in a row.
    feed_all(db_engine, specs, [OK], start=5)
    assert platform_outages.evaluate(db_engine, at(5.5)).action is Action.CLEARING
    assert platform_outages.evaluate(db_engine, at(5.6)).action is Action.END
    (outage,) = rows(db_engine, PlatformOutage)
    assert (outage["state"], outage["ended_at"]) == ("ended", at(5.6))
    assert outbox_events(db_engine)[-1] == ("notify:email", "incident.resolved", OPS)
    assert alert_counts(db_engine).platform_outage == 0
    for row in rows(db_engine, OutboxMessage):
        for locale in ("en", "ru"):
            message = render(row["kind"], locale, row["payload"]["context"])
            assert "#platform-outage-1" in message.subject and "connection_refused" in message.text
        english = render(row["kind"], "en", row["payload"]["context"]).text
        assert "Severity: emergency" in english or row["kind"] == "incident.resolved"
        assert "Command:      intmon status" in english

    assert platform_outages.evaluate(db_engine, at(5.7)).action is Action.NOTHING

    # After it, one partner failing alone is that partner's incident, as ever.
    feed(db_engine, specs, [REFUSED] * 3, start=6, integration="p1")
    platform_outages.evaluate(db_engine, at(8.5))
    (incident,) = rows(db_engine, Incident)
    assert (incident["integration_id"], incident["family"]) == ("p1", "connectivity")
    assert incident["first_seen"] == at(6)
    assert len(rows(db_engine, PlatformOutage)) == 1


def test_an_open_partner_incident_is_neither_resolved_nor_extended_by_an_outage(
    db_engine: Engine,
) -> None:
    specs = world(db_engine)
    feed(db_engine, specs, [REFUSED] * 3, start=0, integration="p1")
    (before,) = rows(db_engine, Incident)
    for name in PARTNERS[1:]:
        feed(db_engine, specs, [REFUSED], start=2, integration=name)
    assert platform_outages.evaluate(db_engine, at(2.5)).action is Action.OPEN
    feed(db_engine, specs, [REFUSED] * 3, start=3, integration="p1")
    (during,) = rows(db_engine, Incident)
    assert during["state"] == "open" and during["failures"] == before["failures"] == 3


def test_one_partner_host_down_for_many_clients_is_not_us(db_engine: Engine) -> None:
    """Six integrations on one endpoint are one partner down, however many clients."""
    specs = setup(db_engine, *PARTNERS)
    feed_all(db_engine, specs, [REFUSED], start=0)
    verdict = platform_outages.evaluate(db_engine, at(0.5))
    assert not verdict.verdict.failing and verdict.action is Action.NOTHING
    feed_all(db_engine, specs, [REFUSED] * 2, start=1)
    assert len(rows(db_engine, Incident)) == 6


def test_results_older_than_the_window_do_not_count(db_engine: Engine) -> None:
    specs = world(db_engine)
    feed_all(db_engine, specs, [REFUSED], start=0)
    assert platform_outages.evaluate(db_engine, at(1.5)).action is Action.NOTHING


def test_the_correlation_rule_is_configurable(db_engine: Engine) -> None:
    specs = world(db_engine, "self_check:\n  correlated: {min_integrations: 7}\n")
    feed_all(db_engine, specs, [REFUSED], start=0)
    assert platform_outages.evaluate(db_engine, at(0.5)).action is Action.NOTHING


def test_canaries_against_a_real_server(sqlite_engine: Engine) -> None:
    with Partner(status=503) as canary:
        block = (
            "self_check:\n"
            f"  canaries: [{{name: edge, url: '{canary.url}/generate_204', timeout_s: 2}}]\n"
            "  dns_names: [localhost]\n"
        )
        apply_config(sqlite_engine, load_config_text(config_text("a") + block))
        # Any answer proves the network works, even a 503.
        checked = platform_outages.evaluate(sqlite_engine, T0)
        assert checked.action is Action.NOTHING and canary.hits == 1
    # The server is gone: its port refuses.
    checked = platform_outages.evaluate(sqlite_engine, T0 + timedelta(seconds=10))
    assert checked.action is Action.OPEN
    (outage,) = rows(sqlite_engine, PlatformOutage)
    assert (outage["cause"], outage["outcome"]) == ("canary", "connection_refused")
    assert outage["detail"] == "canary edge fails: connection refused"
    assert outage["started_at"] == T0 + timedelta(seconds=10)


def test_a_resolver_that_cannot_resolve_is_an_outage(sqlite_engine: Engine) -> None:
    block = "self_check:\n  dns_names: [intmon-canary.invalid]\n"
    apply_config(sqlite_engine, load_config_text(config_text("a") + block))
    checked = platform_outages.evaluate(sqlite_engine, T0)
    assert (checked.action, checked.verdict.cause, checked.verdict.outcome) == (
        Action.OPEN,
        "dns",
        Outcome.DNS_FAILURE,
    )
    assert "intmon-canary.invalid" in checked.verdict.detail


def test_a_bad_self_check_block_names_the_field() -> None:
    import pytest

    from integrations.errors import ConfigError

    with pytest.raises(ConfigError, match=r"self_check.*canaries.*url"):
        load_config_text(
            config_text("a") + "self_check:\n  canaries: [{name: edge, url: 'ftp://x'}]\n"
        )
    with pytest.raises(ConfigError, match=r"self_check\.dns_names\[0\]"):
        load_config_text(config_text("a") + "self_check:\n  dns_names: ['no spaces.example']\n")
    with pytest.raises(ConfigError, match=r"self_check.*correlated.*share"):
        load_config_text(config_text("a") + "self_check:\n  correlated: {share: 2}\n")


def test_two_passes_at_once_open_one_outage(db_engine: Engine) -> None:
    """The partial unique index: a pass that lost the race opens nothing and tells nobody."""
    specs = world(db_engine)
    feed_all(db_engine, specs, [REFUSED], start=0)
    verdict = platform_outages.platform_verdict([], _counts(db_engine), at(0.5))
    with db_engine.begin() as connection:
        first = platform_outages._open(connection, verdict, at(0.5))
        second = platform_outages._open(connection, verdict, at(0.5))
    assert first is not None and second is None
    with db_engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(PlatformOutage)).scalar() == 1
    assert len(outbox_events(db_engine)) == 1


def _counts(engine: Engine) -> platform_outages.CorrelationCounts:
    with engine.connect() as connection:
        return platform_outages.correlation_counts(
            connection, platform_outages.CorrelationRule(), at(0.5)
        )


def test_a_scenario_step_that_cannot_connect_is_held_back_too(db_engine: Engine) -> None:
    """A scenario's family is `e2e` whatever failed, but a refused connection while
    intmon's own network fails is still us."""
    specs = world(db_engine)
    feed_all(db_engine, specs, [REFUSED], start=0)
    assert platform_outages.evaluate(db_engine, at(0.5)).action is Action.OPEN
    feed(db_engine, specs, [REFUSED] * 4, start=1, integration="p1", check="e2e:lead-flow")
    assert rows(db_engine, Incident) == []
    # A scenario failing another way proves the network works: that is the partner's.
    feed(db_engine, specs, [Outcome.SERVER_ERROR] * 3, start=5, integration="p2", check="e2e:x")
    (incident,) = rows(db_engine, Incident)
    assert (incident["integration_id"], incident["family"]) == ("p2", "e2e")
