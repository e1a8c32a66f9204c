"""The lead ledger's speed: recorded attempts into PostgreSQL, and deliveries end to end.

  ledger ingest  `integrations.leads.ledger.record` (the `POST /api/lead-deliveries`
                 and `intmon leads record` path): batches of --batch attempts, one
                 multi-row INSERT … ON CONFLICT DO NOTHING per 1,000 rows, into a
                 fresh PostgreSQL database. Target: at least 5,000 records/s.
  delivery       --leads leads submitted, then delivered by `dispatch.drain` in this
                 process with the workers' probe engine to a fake broker on
                 127.0.0.1 (aiohttp, deduplicating on Idempotency-Key), concurrency
                 8 per integration over 4 integrations: leads/s from first send to
                 last ledger row.
  through Redis  the same, end to end through the production processes: an
                 `intmon scheduler` (its lead tick wakes the workers through Redis)
                 and `intmon worker` (2 processes × 4 threads); leads/s from submission
                 until the last lead is delivered.

Prints a rich table (and JSON with --json); medians of --repeat runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.lead_holds import open_incident_holds
from bench.checks import database
from checks.loop import EngineThread
from core.db import make_engine, utcnow
from integrations.apply import apply
from integrations.leads.dispatch import drain, pending_count
from integrations.leads.ledger import AttemptIn, LeadIn, record, submit
from integrations.loader import load_text
from integrations.partner_budget import MemoryBudget
from integrations.registry import load_specs
from intmon.migrations import upgrade
from tests.conftest import REDIS_URL
from tests.leads.broker import broker
from tests.test_production_pipeline import Processes

T0 = datetime(2026, 11, 23, tzinfo=UTC)
INTEGRATIONS = 4


def config(url: str) -> str:
    rows = [
        f"""  - id: b{i}
    name: Broker {i}
    kind: broker
    client: c
    base_url: {url}
    checks: [{{name: health, path: /health}}]
    delivery:
      path: /leads
      body: {{email: "{{{{ lead.email }}}}", n: "{{{{ lead.n }}}}"}}
      lead_id_path: $.lead_id
      concurrency: 8"""
        for i in range(INTEGRATIONS)
    ]
    return "version: 1\nintegrations:\n" + "\n".join(rows) + "\n"


def ingest(url: str, count: int, batch: int) -> float:
    engine = make_engine(url)
    attempts = [
        AttemptIn(
            lead_id=f"L{n}",
            integration=f"b{n % INTEGRATIONS}",
            attempt=1,
            at=T0 + timedelta(milliseconds=n),
            outcome="delivered" if n % 10 else "failed_server",  # type: ignore[arg-type]
            http_status=201 if n % 10 else 503,
            duration_s=0.05,
            broker_lead_id=f"B{n}",
            request={"method": "POST", "headers": {"Authorization": "Bearer x"}, "body": {"n": n}},
            response_excerpt=json.dumps({"lead_id": f"B{n}"}),
        )
        for n in range(count)
    ]
    known = set(load_specs(engine))
    started = time.perf_counter()
    for start in range(0, count, batch):
        record(engine, attempts[start : start + batch], known)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return count / elapsed


def deliver(url: str, count: int) -> float:
    engine = make_engine(url)
    specs = {i: r.spec for i, r in load_specs(engine).items()}
    leads = [
        LeadIn(
            id=f"D{n}-{time.monotonic_ns()}",
            integration=f"b{n % INTEGRATIONS}",
            fields={"email": f"{n}@x", "n": n},
        )
        for n in range(count)
    ]
    submit(engine, leads, specs, utcnow())
    probes = EngineThread()
    try:
        started = time.perf_counter()
        report = drain(
            engine,
            probes.run_batch,
            MemoryBudget(),
            utcnow,
            hold=open_incident_holds,
            budget_s=600,
        )
        elapsed = time.perf_counter() - started
    finally:
        probes.close()
        engine.dispose()
    assert report.outcomes.get("delivered") == count, report.outcomes
    return count / elapsed


def through_redis(url: str, count: int, workdir: Path) -> float:
    """Leads/s end to end through the production processes and Redis."""
    engine = make_engine(url)
    specs = {i: r.spec for i, r in load_specs(engine).items()}
    env = {
        **os.environ,
        "INTMON_DATABASE_URL": url,
        "INTMON_REDIS_URL": REDIS_URL,
        "INTMON_NAMESPACE": f"intmon-bench-{time.monotonic_ns()}",
        "INTMON_LEAD_DISPATCH_INTERVAL_S": "0.2",
        "PROMETHEUS_MULTIPROC_DIR": str(workdir),
    }
    processes = Processes(env, workdir)
    try:
        processes.start("scheduler", "scheduler")
        processes.start("worker", "worker", "--processes", "2", "--threads", "4")
        time.sleep(3)  # both up and consuming before the clock starts
        leads = [
            LeadIn(
                id=f"R{n}-{time.monotonic_ns()}",
                integration=f"b{n % INTEGRATIONS}",
                fields={"email": f"{n}@x", "n": n},
            )
            for n in range(count)
        ]
        started = time.perf_counter()
        submit(engine, leads, specs, utcnow())
        deadline = started + 600
        while pending_count(engine) and time.perf_counter() < deadline:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        if pending_count(engine):
            raise SystemExit("leads still waiting after 600 s:\n" + processes.log("worker")[-2000:])
    finally:
        processes.stop_all()
        engine.dispose()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--leads", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="CI smoke: small and once")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.records, args.leads, args.repeat = 5_000, 200, 1
    ingest_rates, delivery_rates, redis_rates = [], [], []
    with broker() as (fake, target), tempfile.TemporaryDirectory() as workdir:
        for _ in range(args.repeat):
            with database() as url:
                upgrade(make_engine(url))
                apply(make_engine(url), load_text(config(target)), T0)
                ingest_rates.append(ingest(url, args.records, args.batch))
                delivery_rates.append(deliver(url, args.leads))
                redis_rates.append(through_redis(url, args.leads, Path(workdir)))
        accepted = len(fake.accepted)
    out: dict[str, Any] = {
        "records": args.records,
        "batch": args.batch,
        "ledger_records_per_s": round(statistics.median(ingest_rates)),
        "ledger_target_per_s": 5000,
        "leads": args.leads,
        "deliveries_per_s": round(statistics.median(delivery_rates)),
        "deliveries_through_redis_per_s": round(statistics.median(redis_rates)),
        "accepted_by_broker": accepted,
    }
    table = Table(title=f"lead ledger, PostgreSQL, medians of {args.repeat}")
    table.add_column("what")
    table.add_column("figure", justify="right")
    table.add_row(
        f"ledger ingest, batches of {args.batch:,}",
        f"{out['ledger_records_per_s']:,} records/s (target ≥ 5,000)",
    )
    table.add_row(
        f"delivery, {args.leads:,} leads, {INTEGRATIONS} integrations × 8 in flight",
        f"{out['deliveries_per_s']:,} leads/s",
    )
    table.add_row(
        "delivery through Redis: scheduler + worker (2 × 4 threads)",
        f"{out['deliveries_through_redis_per_s']:,} leads/s",
    )
    Console().print(table)
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
