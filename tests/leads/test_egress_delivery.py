"""Lead deliveries and the egress policy: nothing reaches an internal address.

A delivery never follows a redirect (the answer is the broker's: a contract
violation), and a delivery whose configured address is internal and not
allow-listed is intmon's configuration error (held and retried, the lead is
not lost), with nothing sent there either way."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import Engine, select

from alerts.lead_holds import open_incident_holds
from checks.engine import ProbeSettings
from checks.loop import EngineThread
from integrations.apply import apply
from integrations.leads.dispatch import dispatch
from integrations.leads.ledger import ATTEMPTS, LeadIn, submit
from integrations.loader import load_text
from integrations.partner_budget import MemoryBudget
from integrations.registry import load_specs
from tests.alerts.helpers import T0
from tests.egress_servers import PARTNER_ONLY, Server, internal_server, outside_partner  # noqa: F401  (fixtures)


def config(outside: Server, internal: Server) -> str:
    target = quote(f"http://127.0.0.1:{internal.port}/admin/leads", safe="")
    return f"""version: 1
integrations:
  - id: bx
    name: Broker X
    kind: broker
    client: acme
    base_url: {outside.url}
    interval_s: 60
    retries: 0
    checks: [{{name: health, path: /ok}}]
    delivery:
      path: "/go?to={target}"
      body: {{email: "{{{{ lead.email }}}}"}}
      required_fields: [email]
  - id: by
    name: Broker Y
    kind: broker
    client: acme
    base_url: {internal.url}
    interval_s: 60
    retries: 0
    checks: [{{name: health, path: /ok}}]
    delivery:
      path: /leads
      body: {{email: "{{{{ lead.email }}}}"}}
      required_fields: [email]
"""


def test_no_delivery_reaches_an_internal_address(
    sqlite_engine: Engine, outside: Server, internal: Server
) -> None:
    apply(sqlite_engine, load_text(config(outside, internal)), now=T0)
    specs = {i: r.spec for i, r in load_specs(sqlite_engine).items()}
    leads = [LeadIn(id=f"L-{i}", integration=i, fields={"email": "a@b.c"}) for i in specs]
    submit(sqlite_engine, leads, specs, T0)
    probes = EngineThread(ProbeSettings(egress=PARTNER_ONLY))
    try:
        report = dispatch(
            sqlite_engine, probes.run_batch, MemoryBudget(), lambda: T0, hold=open_incident_holds
        )
    finally:
        probes.close()
    assert report.outcomes == {"failed_contract": 1, "failed_config": 1}
    with sqlite_engine.connect() as connection:
        attempts = {row.integration_id: row for row in connection.execute(select(ATTEMPTS)).all()}
    assert attempts["bx"].check_outcome == "contract_violation"  # the redirect is the answer
    assert attempts["by"].check_outcome == "config_error"
    assert "INTMON_EGRESS_ALLOW" in attempts["by"].detail
    assert internal.hits == []  # no lead reached the internal address
    assert len(outside.hits) == 1
