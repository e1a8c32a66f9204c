"""The postback endpoint under load, into PostgreSQL: postbacks/s and p99.

  data     a fresh PostgreSQL database on 127.0.0.1 (created and dropped here),
           migrated; 50 broker integrations with a postback monitor each, and
           200 leads delivered to each (10,000 broker lead ids in the ledger), so
           every postback is linked to its lead, as in production.
  server   `intmon api --workers 2` (`intmon.serve`: a process per core, each with
           its own socket on the port), Redis for the limits, the default per-broker
           limit (INTMON_LIMIT_POSTBACKS) raised out of the way: this measures the
           endpoint, not the limit (each broker here sends ~40 postbacks/s).
  load     wrk, 2 threads, `POST /postbacks/<id>` with the shared secret as the
           `token` header (wrk cannot sign), a random broker and lead and a new
           event id per request; 10 s (5 s with --quick) after a 2 s warm-up, paced
           (128 connections offering --rate, 2,600/s by default: the target
           is read here, >= 2,000 postbacks/s with p99 < 50 ms) and flat out (64
           connections).

Then counts in the database that every postback answered 201 was stored once and
linked. Needs wrk (Debian: wrk).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.checks import database
from bench.pings import (
    FLAT_OUT_CONNECTIONS,
    PACED_CONNECTIONS,
    TARGET_P99_MS,
    TARGET_RATE,
    api_server,
    load_arguments,
    measured_run,
    paced,
    run_wrk,
    spread_line,
)
from core.db import make_engine
from integrations.apply import apply
from integrations.leads.delivery import LeadOutcome
from integrations.leads.ledger import AttemptIn, record
from integrations.loader import load_text
from integrations.postbacks.models import Postback
from intmon.migrations import upgrade

BROKERS, LEADS = 50, 200
SECRET = "bench-postback-secret-0123456789"
WRK_SCRIPT = """
local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end
local sent = 0
math.randomseed(os.time())
request = function()
  sent = sent + 1
  local broker = math.random(%(brokers)d) - 1
  local body = string.format(
    '{"event_id":"e%%d-%%d","lead_id":"B%%03d-%%d","status":"converted"}',
    id, sent, broker, math.random(%(leads)d))
  return wrk.format("POST", string.format("/postbacks/b%%03d", broker),
    {["Content-Type"] = "application/json", ["token"] = "%(secret)s"}, body)
end
"""


def config_yaml() -> str:
    rows = [
        f"  - {{id: b{i:03d}, name: B{i}, kind: broker, client: c{i % 10}, "
        f"base_url: 'http://127.0.0.1:9', checks: [{{name: health, path: /health}}], "
        f"postbacks: {{secret: '${{BENCH_POSTBACK_SECRET}}', window_s: 7200}}}}"
        for i in range(BROKERS)
    ]
    return "version: 1\nintegrations:\n" + "\n".join(rows) + "\n"


def seed_leads(engine: Any) -> None:
    at = datetime.now(UTC) - timedelta(minutes=30)
    ids = {f"b{i:03d}" for i in range(BROKERS)}
    for i in range(BROKERS):
        record(
            engine,
            [
                AttemptIn(
                    lead_id=f"L{i:03d}-{n}",
                    integration=f"b{i:03d}",
                    at=at,
                    outcome=LeadOutcome.DELIVERED,
                    broker_lead_id=f"B{i:03d}-{n}",
                )
                for n in range(1, LEADS + 1)
            ],
            ids,
        )


def main() -> None:
    args = load_arguments(__doc__ or "", "postbacks")
    with database() as url, tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(url)
        upgrade(engine)
        apply(engine, load_text(config_yaml()))
        seed_leads(engine)
        script = Path(tmp) / "postbacks.lua"
        script.write_text(WRK_SCRIPT % {"brokers": BROKERS, "leads": LEADS, "secret": SECRET})
        limits = {"INTMON_LIMIT_POSTBACKS": "100000/min", "BENCH_POSTBACK_SECRET": SECRET}
        with api_server(url, args.workers, **limits) as (base, server):
            run_wrk(base, script, 2)  # warm-up: connections, caches, plans
            paced_script = paced(script, args.rate)
            paced_run = measured_run(
                base, paced_script, args.seconds, PACED_CONNECTIONS, server, engine
            )
            flat_out = measured_run(
                base, script, args.seconds, FLAT_OUT_CONNECTIONS, server, engine
            )
        table = Postback.__table__
        with engine.connect() as connection:
            stored, linked = connection.execute(
                select(func.count(), func.count(table.c.lead_id)).select_from(table)
            ).one()
        engine.dispose()
    report(args, paced_run, flat_out, int(stored), int(linked))


def report(
    args: argparse.Namespace,
    paced: dict[str, float],
    flat_out: dict[str, float],
    stored: int,
    linked: int,
) -> None:
    passed = (
        paced["pings_per_s"] >= TARGET_RATE
        and paced["p99_ms"] < TARGET_P99_MS
        and not paced["non_2xx"] + flat_out["non_2xx"]
        and stored == linked
    )
    table = Table(
        title=f"POST /postbacks/<id> into PostgreSQL: `intmon api --workers {args.workers}`, "
        f"wrk -t2, {args.seconds} s a run, {BROKERS} brokers"
    )
    for column in ("run", "postbacks/s", "p50 ms", "p99 ms", "non-2xx", "target"):
        table.add_column(column, justify="right")
    for name, figures in (
        (f"paced: {PACED_CONNECTIONS} connections offering {args.rate:,}/s", paced),
        (f"flat out: {FLAT_OUT_CONNECTIONS} connections", flat_out),
    ):
        table.add_row(
            name,
            f"{figures['pings_per_s']:,.0f}",
            f"{figures['p50_ms']:.1f}",
            f"{figures['p99_ms']:.1f}",
            f"{figures['non_2xx']:.0f}",
            ("[green]pass[/green]" if passed else "[red]FAIL[/red]") if figures is paced else "",
        )
    Console().print(table)
    load = os.getloadavg()[0]
    for name, figures in (("paced", paced), ("flat out", flat_out)):
        Console().print(
            f"CPU per postback, {name}: API processes {figures['api_cpu_us']:,.0f} µs, "
            f"PostgreSQL {figures['db_cpu_us']:,.0f} µs, wrk {figures['client_cpu_us']:,.0f} µs; "
            f"API workers: {spread_line(figures)}"
        )
    Console().print(
        f"postbacks stored (with warm-up): {stored:,}, linked to their lead: {linked:,}; "
        f"load average {load:.1f} on {os.cpu_count()} cores"
    )
    if args.json:
        out = {"paced": paced, "flat_out": flat_out, "passed": passed}
        out.update(stored=stored, linked=linked, offered_rate=args.rate, load_average=load)
        print(json.dumps(out))


if __name__ == "__main__":
    main()
