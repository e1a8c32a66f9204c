"""Results into incidents: throughput of the alerts stage, and time to the ticket row.

  throughput  1,000 integrations on PostgreSQL; batches of 50 results go through
              `alerts.intake.ingest` (store results, move streaks, open/update/
              resolve incidents, open tickets, queue outbox rows), one transaction
              per batch as the worker does, from `--writers` threads at once.
              Phases: all healthy; an outage starting (every integration crosses
              its threshold: 1,000 incidents and tickets); the outage going on
              (incident updates); recovery (1,000 resolutions, tickets closed).
  latency     the embedded mode against a port nothing listens on, interval 1 s,
              threshold 3: seconds from the first failing check's start to the
              ticket row; the target is threshold × interval + 2 s.

Prints a rich table (and JSON with --json); medians of --repeat runs.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.intake import ingest
from alerts.models import Ticket
from alerts.policy import Policy
from bench.checks import database
from core.db import make_engine
from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.apply import apply
from integrations.loader import load_text
from integrations.registry import load_specs
from intmon.migrations import upgrade

console = Console(stderr=True)
BATCH = 50


def config_yaml(count: int, url: str, interval: float) -> str:
    lines = ["version: 1", "integrations:"]
    for i in range(count):
        lines += [
            f"  - id: p{i:05d}",
            f"    name: Partner {i}",
            "    kind: broker",
            f"    client: c{i % 50}",
            f"    base_url: {url}",
            f"    interval_s: {interval}",
            f"    timeout_s: {min(interval, 1.0)}",
            "    retries: 0",
            "    checks: [{name: health, path: /health}]",
        ]
    return "\n".join(lines) + "\n"


def results_for(ids: list[str], outcome: Outcome, at: datetime) -> list[CheckResult]:
    return [
        CheckResult(
            integration_id=i,
            check_name="health",
            outcome=outcome,
            started_at=at,
            duration_s=0.01,
            http_status=200 if outcome is Outcome.OK else 503,
            detail="" if outcome is Outcome.OK else "HTTP 503",
            response_excerpt="",
            scheduled_at=at,
        )
        for i in ids
    ]


def run_phase(
    ingest_batch: Callable[[list[CheckResult], datetime], None],
    ids: list[str],
    outcome: Outcome,
    at: datetime,
    writers: int,
) -> float:
    """Results/s for one result per integration, `writers` threads in parallel."""
    batches = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]
    cursor = iter(batches)
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                batch = next(cursor, None)
            if batch is None:
                return
            ingest_batch(results_for(batch, outcome, at), at)

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(ids) / (time.perf_counter() - started)


def throughput(count: int, writers: int) -> dict[str, float]:
    with database() as url:
        engine = make_engine(url)
        upgrade(engine)
        apply(engine, load_text(config_yaml(count, "http://127.0.0.1:9", 30)))
        specs = {i: r.spec for i, r in load_specs(engine).items()}
        ids = sorted(specs)
        policy = Policy(flap_window_s=0)
        t0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

        def ingest_batch(results: list[CheckResult], at: datetime) -> None:
            ingest(engine, results, specs, policy, now=at)

        figures: dict[str, float] = {}
        minute = 0

        def phase(name: str, outcome: Outcome, times: int) -> None:
            nonlocal minute
            rates = []
            for _ in range(times):
                at = t0 + timedelta(minutes=minute)
                minute += 1
                rates.append(run_phase(ingest_batch, ids, outcome, at, writers))
            figures[name] = rates[-1] if name != "healthy" else statistics.median(rates)

        phase("healthy", Outcome.OK, 3)
        phase("failing below threshold", Outcome.SERVER_ERROR, 2)
        phase("outage starts (incidents + tickets open)", Outcome.SERVER_ERROR, 1)
        phase("outage goes on (incident updates)", Outcome.SERVER_ERROR, 1)
        phase("first pass", Outcome.OK, 1)
        phase("recovery (resolve + close tickets)", Outcome.OK, 1)
        with engine.connect() as connection:
            tickets = connection.execute(select(Ticket.status)).scalars().all()
        assert len(tickets) == count and set(tickets) == {"closed"}, "every ticket recovered"
        engine.dispose()
        return figures


def latency(interval: float, threshold: int) -> float:
    from core.settings import Settings
    from intmon.embedded import Embedded

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connection refused
        workdir = Path(tempfile.mkdtemp(prefix="intmon-bench-"))
        text = config_yaml(1, f"http://127.0.0.1:{port}", interval).replace(
            "    retries: 0", f"    retries: 0\n    thresholds: {{failure_threshold: {threshold}}}"
        )
        settings = Settings(database_url=f"sqlite:///{workdir / 'bench.db'}", redis_url=None)
        with Embedded(settings, config=load_text(text), worker_threads=2) as embedded:
            embedded.start()
            deadline = time.monotonic() + threshold * interval + 20
            while time.monotonic() < deadline:
                with embedded.db.connect() as connection:
                    created = connection.execute(select(Ticket.created_at)).scalar()
                    first = connection.exec_driver_sql(
                        "SELECT MIN(started_at) FROM check_results"
                    ).scalar()
                if created is not None:
                    first_at = datetime.fromisoformat(str(first)).replace(tzinfo=UTC)
                    return (created - first_at).total_seconds()
                time.sleep(0.05)
    raise RuntimeError("no ticket within the deadline")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--integrations", type=int, default=1000)
    parser.add_argument("--writers", type=int, default=4, help="threads ingesting at once")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="CI smoke: small and once")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.integrations, args.repeat = 200, 1

    runs = [throughput(args.integrations, args.writers) for _ in range(args.repeat)]
    rates = {name: statistics.median(run[name] for run in runs) for name in runs[0]}
    waits = [latency(1.0, 3) for _ in range(args.repeat)]
    out: dict[str, Any] = {
        "integrations": args.integrations,
        "writers": args.writers,
        "results_per_s": {k: round(v) for k, v in rates.items()},
        "first_failure_to_ticket_s": round(statistics.median(waits), 2),
        "ticket_target_s": 3 * 1.0 + 2,
    }
    table = Table(title=f"results into incidents, {args.integrations} integrations, PostgreSQL")
    table.add_column("phase")
    table.add_column("results/s", justify="right")
    for name, rate in rates.items():
        table.add_row(name, f"{rate:,.0f}")
    table.add_row(
        "first failure → ticket row (embedded, 1 s interval, threshold 3)",
        f"{out['first_failure_to_ticket_s']} s (target ≤ 5 s)",
    )
    Console().print(table)
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
