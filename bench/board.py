"""The status board with history (issue 23) on PostgreSQL: how long support waits.

1,000 integrations (60 s interval) with `--results` results each (default 50,
one every 60 s up to now, a tenth of the integrations failing lately) and one
check state each. Measures, `--repeat` times, the median and worst wall time and
the median CPU time of this process of:

  data   `intmon.web.board.board()` as support: the states of all, incidents,
         tickets, and for the first page (`PAGE_ROWS`, 100) the 24 h uptime and the
         last 50 results of each (one window-function query);
  page   GET /board through the whole app (session, rendering the first page's
         rows with 50 marks each and their tooltips), as a logged-in support user;
  client GET /board as a client who owns 20 of the integrations;
  integration  GET /integrations/p00000 as support (uptime over 24 h / 7 d / 30 d,
         the latency chart, the newest page of results).

The process's collector is tuned once the app is built, as each `intmon api`
process does (`intmon.serve`); `data` is measured last, in that process.

With `--monitors`, every integration also has two heartbeats (one pinged 30 s
ago, a tenth of them silent for 10 min: late) and every fourth a postback
monitor with 20 accepted leads in its window, half called back: what the board's
monitors cell reads (`intmon.web.board_monitors`).

Prints a rich table (and JSON with --json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.checks import database
from core import db
from core.db import make_engine
from core.gc_tuning import tune_gc
from core.settings import Settings
from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.apply import apply
from integrations.loader import load_text
from integrations.results import record_results
from intmon.api.auth import Principal
from intmon.migrations import upgrade
from intmon.web.board import board
from intmon.web.users import create_user

console = Console(stderr=True)
# Now, so the results land in the day partitions the migrations made (as in production),
# not in the default partition a fixed past date would fill.
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
PASSWORD = "bench password of the board"


HEARTBEATS = (
    ", heartbeats: [{name: job-a, period_s: 60, grace_s: 30}, "
    "{name: job-b, period_s: 3600, grace_s: 600}]"
)
POSTBACKS = (
    ", postbacks: {secret: '${BENCH_POSTBACK_SECRET}', window_s: 7200, min_ratio: 0.5, "
    "min_leads: 5}"
)


def config_yaml(count: int, monitors: bool = False) -> str:
    def extra(i: int) -> str:
        if not monitors:
            return ""
        return HEARTBEATS + (POSTBACKS if i % 4 == 0 else "")

    rows = [
        f"  - {{id: p{i:05d}, name: Partner {i}, kind: broker, client: c{i % 50:02d}, "
        f"base_url: 'https://p{i}.example', interval_s: 60, "
        f"checks: [{{name: health, path: /health}}]{extra(i)}}}"
        for i in range(count)
    ]
    return "version: 1\nintegrations:\n" + "\n".join(rows) + "\n"


def seed_monitors(engine: Any, count: int) -> None:
    """Pings for every job-a (a tenth 10 min ago: late), leads and postbacks."""
    from integrations.heartbeats.pings import Ping, PingKind, record_pings
    from integrations.heartbeats.store import list_heartbeats
    from integrations.leads.delivery import LeadOutcome
    from integrations.leads.ledger import AttemptIn, record
    from integrations.postbacks.store import PostbackIn, record_postback

    pings = [
        Ping(
            beat.ping_key,
            PingKind.SUCCESS,
            NOW - timedelta(minutes=10 if beat.integration_id.endswith("0") else 0, seconds=30),
        )
        for beat in list_heartbeats(engine)
        if beat.name == "job-a"
    ]
    record_pings(engine, pings)
    brokers = [f"p{i:05d}" for i in range(0, count, 4)]
    attempts = [
        AttemptIn(
            lead_id=f"{broker}-L{n}",
            integration=broker,
            attempt=1,
            at=NOW - timedelta(minutes=n + 1),
            outcome=LeadOutcome.DELIVERED,
            broker_lead_id=f"B{n}",
        )
        for broker in brokers
        for n in range(20)
    ]
    record(engine, attempts, set(brokers))
    for broker in brokers:
        for n in range(0, 20, 2):
            postback = PostbackIn(event_id=f"E{n}", lead_id=f"B{n}", status="accepted")
            record_postback(engine, broker, postback, NOW - timedelta(seconds=30))


def seed(engine: Any, count: int, per_integration: int, monitors: bool = False) -> None:
    apply(engine, load_text(config_yaml(count, monitors)), NOW - timedelta(days=1))
    if monitors:
        seed_monitors(engine, count)
    for step in range(per_integration):
        at = NOW - timedelta(minutes=per_integration - step, seconds=-3)
        batch = [
            CheckResult(
                integration_id=f"p{i:05d}",
                check_name="health",
                outcome=Outcome.SERVER_ERROR
                if i % 10 == 0 and step > per_integration - 8
                else Outcome.OK,
                started_at=at,
                duration_s=0.05 + (i % 7) / 100,
                http_status=200,
            )
            for i in range(count)
        ]
        record_results(engine, batch)


@contextmanager
def logged_in(app: Any, username: str, password: str = PASSWORD) -> Iterator[Any]:
    """A test client of `app` logged in to the console as `username`."""
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="https://console.test") as client:
        page = client.get("/login").text
        csrf = page.split('name="csrf" value="')[1].split('"')[0]
        client.post("/login", data={"csrf": csrf, "username": username, "password": password})
        yield client


def timed(run: Callable[[], Any], repeat: int) -> dict[str, float]:
    run()  # warm: plans, template compilation, caches
    samples, cpu = [], []
    for _ in range(repeat):
        started, used = time.perf_counter(), time.process_time()
        run()
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    # This process's CPU is steadier than wall time on a shared machine (PostgreSQL's
    # side of the queries is not in it: compare it with the wall time).
    return {
        "median_ms": statistics.median(samples),
        "max_ms": max(samples),
        "cpu_ms": statistics.median(cpu),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--integrations", type=int, default=1000)
    parser.add_argument("--results", type=int, default=50, help="results per integration")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="5 repeats")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--monitors", action="store_true", help="heartbeats and postback monitors too"
    )
    args = parser.parse_args()
    repeat = 5 if args.quick else args.repeat

    from intmon.app import create_app

    db.utcnow = lambda: NOW  # the board's clock: the seeded results end now
    figures: dict[str, dict[str, float]] = {}
    with database() as url:
        engine = make_engine(url)
        upgrade(engine)
        started = time.perf_counter()
        seed(engine, args.integrations, args.results, args.monitors)
        console.print(
            f"seeded {args.integrations} × {args.results} results "
            f"in {time.perf_counter() - started:.1f} s"
        )
        settings = Settings(redis_url=None, session_secret=SecretStr("b" * 40))
        support = Principal("support", None, "bench")
        create_user(engine, "sup", role="support", client=None, password=PASSWORD, now=NOW)
        create_user(engine, "cli", role="client", client="c07", password=PASSWORD, now=NOW)
        app = create_app(engine, settings)
        # As each `intmon api` process does once its app is built (intmon.serve):
        # without it a full collection every few boards was the whole of the p99.
        tune_gc()
        for who, name in (("sup", "page"), ("cli", "client")):
            with logged_in(app, who) as client:
                response = client.get("/board")
                assert response.status_code == 200 and 'id="bar-p' in response.text
                figures[name] = timed(lambda client=client: client.get("/board"), repeat)
                figures[name]["kb"] = len(response.content) / 1024
                if who == "sup":
                    one = client.get("/integrations/p00000")
                    assert one.status_code == 200 and "latency" in one.text.lower()
                    figures["integration"] = timed(
                        lambda client=client: client.get("/integrations/p00000"), repeat
                    )
                    figures["integration"]["kb"] = len(one.content) / 1024
        figures["data"] = timed(lambda: board(engine, support, settings, NOW), repeat)
        engine.dispose()
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    monitors = ", with monitors" if args.monitors else ""
    table = Table(
        title=f"Board, {args.integrations} integrations × {args.results} results{monitors} (PG)"
    )
    for column in ("what", "median ms", "max ms", "CPU ms", "page KB"):
        table.add_column(column, justify="right" if column != "what" else "left")
    for name, found in figures.items():
        kb = f"{found['kb']:.0f}" if "kb" in found else "—"
        table.add_row(
            name,
            f"{found['median_ms']:.0f}",
            f"{found['max_ms']:.0f}",
            f"{found['cpu_ms']:.0f}",
            kb,
        )
    Console().print(table)


if __name__ == "__main__":
    main()
