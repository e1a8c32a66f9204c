"""CPU per check of the batch-level steps around the probe, each on its own.

The end-to-end bench (`bench/checks.py`) measures a worker whole, and on a shared
2-core machine a cut worth 20 µs per check drowns in its noise. This drives the
steps a worker runs for every stored batch, in one process, with the same code
(`PYTHONPATH` chooses the tree: run it against two checkouts, interleaved):

  state     `record_results` of a batch (COPY of the results, then the check_state
            upsert), on PostgreSQL; CPU of this process and of its backend
  windows   `windows_by_integration` for the batch's integrations, on PostgreSQL
  incidents `alerts.incidents.process` of the batch as stored (one in seven checks
            failing, below the threshold: the open incidents are looked up for
            every integration, the streaks for the failing ones), on PostgreSQL
  metrics   `observe_checks` of the batch, multiprocess mode (files in a temp dir)

Figures are CPU µs per check (user + system), for the Python process and, for
the database steps, the PostgreSQL backend serving it. Median of --repeat rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Multiprocess metrics are chosen when core.metrics is imported: set the dir first.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="intmon-parts-"))

from sqlalchemy import Engine, create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts import incidents
from alerts.policy import Policy
from checks import metrics
from core.db import make_engine
from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.apply import apply
from integrations.loader import load_text
from integrations.maintenance import windows_by_integration
from integrations.registry import SpecCache
from integrations.results import Recorded, record_results
from intmon.migrations import upgrade

PG_ADMIN_URL = os.environ.get(
    "INTMON_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
T0 = datetime(2026, 12, 7, tzinfo=UTC)


@contextmanager
def database() -> Iterator[Engine]:
    name = f"intmon_parts_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def batch_of(ids: list[str], round_: int) -> list[CheckResult]:
    started = T0 + timedelta(seconds=round_)
    return [
        CheckResult(
            integration_id=integration,
            check_name="health",
            outcome=Outcome.OK if (i + round_) % 7 else Outcome.TIMEOUT,
            started_at=started,
            scheduled_at=started - timedelta(milliseconds=30),
            duration_s=0.004 + 0.001 * (i % 9),
            http_status=200,
            detail="",
        )
        for i, integration in enumerate(ids)
    ]


def as_stored(results: list[CheckResult]) -> list[Recorded]:
    """As the worker stores them (`alerts.intake`): with their failure family."""
    return [Recorded(r, family=None if r.outcome.is_up else "connectivity") for r in results]


def measure(step: Callable[[int], None], batches: int, backend: int | None) -> tuple[float, float]:
    """(process CPU s, backend CPU s) spent by `batches` calls of `step`."""
    before, db_before = time.process_time(), cpu_of(backend) if backend else 0.0
    for n in range(batches):
        step(n)
    db = cpu_of(backend) - db_before if backend else 0.0
    return time.process_time() - before, db


def run(args: argparse.Namespace) -> dict[str, float]:
    ids = [f"p{i:05d}" for i in range(args.batch_size)]
    rows = "\n".join(
        f"  - {{id: {i}, name: {i}, kind: broker, client: c, base_url: 'http://127.0.0.1:9', "
        "interval_s: 30, checks: [{name: health, path: /health}]}"
        for i in ids
    )
    checks = args.batches * args.batch_size
    figures: dict[str, float] = {}
    with database() as engine:
        apply(engine, load_text(f"version: 1\nintegrations:\n{rows}\n"))
        with engine.connect() as connection:
            backend = int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())
            connection.commit()

            def state(n: int) -> None:
                record_results(connection, as_stored(batch_of(ids, n)))
                connection.commit()

            def windows(n: int) -> None:
                windows_by_integration(connection, ids)
                connection.commit()

            specs = SpecCache(engine).get_many(dict.fromkeys(ids, 1))
            policy = Policy()
            # The same stored batch again and again: its failing checks have a
            # streak of one, under the threshold, so every call decides nothing.
            stored = as_stored(batch_of(ids, args.batches))
            record_results(connection, stored)
            connection.commit()

            def intake(n: int) -> None:
                incidents.process(connection, stored, specs, policy, T0)
                connection.commit()

            state(-1)  # warm caches and compiled statements
            intake(0)
            steps = (("state", state), ("windows", windows), ("incidents", intake))
            for name, step in steps:
                cpu, db = measure(step, args.batches, backend)
                figures[f"{name}_us"] = round(1e6 * cpu / checks, 1)
                figures[f"{name}_db_us"] = round(1e6 * db / checks, 1)
    prepared = [batch_of(ids, n) for n in range(args.batches)]
    metrics.observe_checks(prepared[0])  # create the series first, as a running worker has
    cpu, _ = measure(lambda n: metrics.observe_checks(prepared[n]), args.batches, None)
    figures["metrics_us"] = round(1e6 * cpu / checks, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="few batches: proves it works")
    parser.add_argument("--batches", type=int, help="batches per step and round (default 300)")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    args = parser.parse_args()
    args.batches = args.batches or (20 if args.quick else 300)
    if args.quick:
        args.repeat = 1
    rounds = [run(args) for _ in range(args.repeat)]
    median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    if args.json:
        print(json.dumps({"batch_size": args.batch_size, "rounds": rounds, "median": median}))
        return
    print(f"CPU µs per check, batches of {args.batch_size}, median of {args.repeat}:")
    for key, value in median.items():
        print(f"  {key:14} {value:8.1f}")


if __name__ == "__main__":
    main()
