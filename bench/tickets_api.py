"""The ticket list API with 100,000 tickets in PostgreSQL: latency of filtered and deep pages.

  data     a fresh PostgreSQL database on 127.0.0.1 (created and dropped here),
           migrated; 500 integrations of 50 clients; 100,000 tickets over a year
           (10% active: open, in progress, waiting; 90% closed or rejected),
           loaded with COPY, then ANALYZE.
  client   the real API (`intmon.app.create_app`) served by uvicorn on
           127.0.0.1, called over HTTP/1.1 keep-alive with httpx, one request at a
           time, with a support token or a client token: authentication, the keyset
           query, SLA derivation and JSON, everything a caller waits for.
  queries  filtered first pages (status, section, integration, creation range,
           a client token), and deep keyset pages: a cursor 5,000 tickets into the
           active run and 50,000 into the finished run. Filter values rotate
           between requests (integrations, date ranges), and the queries take turns
           request by request, so load from elsewhere on the machine hits all alike.

Prints p50/p90/p99 per query as a rich table (and JSON with --json) against the
target: p99 < 100 ms. With --repeat N, each figure is the median over N runs,
each on a freshly loaded database.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.checks import database
from core.db import make_engine
from integrations.apply import apply
from integrations.loader import load_text
from intmon.api.auth import create_token
from intmon.migrations import upgrade

console = Console(stderr=True)
TARGET_P99_MS = 100.0
PAGE = 50
T0 = datetime(2025, 11, 23, tzinfo=UTC)
YEAR_S = 365 * 86400
ACTIVE = (("open", 60), ("in_progress", 20), ("waiting_for_reply", 20))
FINISHED = (("closed", 850), ("rejected", 50))
SECTIONS = ("system_errors", "app_help", "documents_finance")
FAMILIES = ("auth", "connectivity", "server", "contract", "rate_limit", "degraded")
COLUMNS = [
    "origin",
    "client",
    "integration_id",
    "family",
    "tier",
    "section",
    "subtype",
    "topic",
    "status",
    "form",
    "created_at",
    "updated_at",
    "first_response_due_at",
    "first_responded_at",
    "closed_at",
    "close_reason",
    "reopened",
]


def config_yaml(integrations: int, clients: int) -> str:
    rows = [
        f"  - {{id: p{i:04d}, name: P{i}, kind: broker, client: c{i % clients:02d}, "
        f"base_url: 'http://127.0.0.1:9', checks: [{{name: health, path: /health}}]}}"
        for i in range(integrations)
    ]
    return "version: 1\nintegrations:\n" + "\n".join(rows) + "\n"


def ticket_rows(count: int, integrations: int, clients: int) -> Iterator[tuple[Any, ...]]:
    """Tickets in creation order; active ones are manual (the partial unique index
    allows one active incident ticket per integration and family)."""
    rng = random.Random(6)
    statuses = [s for s, weight in ACTIVE + FINISHED for _ in range(weight)]
    for i in range(count):
        created = T0 + timedelta(seconds=YEAR_S * i / count)
        status = rng.choice(statuses)
        active = status in dict(ACTIVE)
        integration = rng.randrange(integrations)
        manual = active or rng.random() < 0.3
        section = SECTIONS[0] if not manual else rng.choice(SECTIONS)
        due = created + timedelta(hours=rng.choice((3, 24, 24, 24)))
        answered = None if status == "open" else created + timedelta(minutes=rng.randrange(600))
        closed = None if active else created + timedelta(hours=rng.randrange(1, 72))
        yield (
            "manual" if manual else "incident",
            f"c{integration % clients:02d}",
            f"p{integration:04d}",
            None if manual else rng.choice(FAMILIES),
            "standard",
            section,
            "invoice" if section == "documents_finance" else None,
            f"ticket {i}",
            status,
            "{}",
            created,
            closed or created,
            due,
            answered,
            closed,
            None if active else ("resolved" if status == "closed" else "rejected"),
            0,
        )


def load(engine: Engine, count: int, integrations: int, clients: int) -> float:
    """COPY `count` tickets in; seconds taken (ANALYZE included)."""
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cursor: Any = raw.cursor()  # psycopg's, with COPY support
        with cursor.copy(f"COPY tickets ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in ticket_rows(count, integrations, clients):
                copy.write_row(row)
        cursor.execute("ANALYZE tickets")
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


@contextmanager
def serve(engine: Engine) -> Iterator[str]:
    """The API on a free port of 127.0.0.1, in a thread; yields its base URL."""
    import uvicorn

    from core.settings import Settings
    from intmon.app import create_app

    app = create_app(engine, Settings(redis_url=None))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


Params = Callable[[int], dict[str, str]]


def scenarios(integrations: int, deep: dict[str, str]) -> list[tuple[str, str, Params]]:
    """(name, token role, request number → query parameters)."""

    def week(n: int) -> dict[str, str]:
        start = T0 + timedelta(days=(n * 7) % 350)
        return {"created_from": start.isoformat(), "created_to": (start + timedelta(7)).isoformat()}

    return [
        ("queue, first page", "support", lambda n: {}),
        ("status=open", "support", lambda n: {"status": "open"}),
        ("status=closed", "support", lambda n: {"status": "closed"}),
        ("section=app_help", "support", lambda n: {"section": "app_help"}),
        ("integration=…", "support", lambda n: {"integration": f"p{n % integrations:04d}"}),
        ("created in one week", "support", week),
        (
            "closed, one integration, one week",
            "support",
            lambda n: {"status": "closed", "integration": f"p{n % integrations:04d}", **week(n)},
        ),
        ("client token: its queue", "client", lambda n: {}),
        ("client token: status=closed", "client", lambda n: {"status": "closed"}),
        *(
            (f"deep: {name}", "support", lambda n, c=cursor: {"cursor": c})
            for name, cursor in deep.items()
        ),
    ]


def cursor_after(http: httpx.Client, headers: dict[str, str], skip: int) -> str:
    """Walk the queue `skip` tickets deep with big pages; the cursor found there."""
    cursor: str | None = None
    page = min(1000, skip)
    for _ in range(skip // page):
        params = {"limit": str(page), **({"cursor": cursor} if cursor else {})}
        response = http.get("/api/tickets", params=params, headers=headers)
        response.raise_for_status()
        cursor = response.headers["x-next-cursor"]
    assert cursor is not None
    return cursor


def measure(url: str, tokens: dict[str, str], args: argparse.Namespace) -> dict[str, list[float]]:
    """Milliseconds per request, per scenario."""
    headers = {role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()}
    with httpx.Client(base_url=url, timeout=30) as http:
        # 5% and 50% into the queue: inside the active run (10%), and far into the
        # finished run.
        depths = {"active run": args.tickets // 20, "finished run": args.tickets // 2}
        deep = {
            f"{depth:,} tickets in ({run})": cursor_after(http, headers["support"], depth)
            for run, depth in depths.items()
        }
        queries = scenarios(args.integrations, deep)
        out: dict[str, list[float]] = {name: [] for name, _, _ in queries}
        # Round-robin over the queries, so that a burst of load on the machine
        # falls on all of them alike instead of on whichever ran at that moment.
        for n in range(args.warmup + args.requests):
            for name, role, params in queries:
                query = {"limit": str(PAGE), **params(n)}
                started = time.perf_counter()
                response = http.get("/api/tickets", params=query, headers=headers[role])
                elapsed = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                if n >= args.warmup:
                    out[name].append(elapsed)
    return out


def percentiles(times: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return {"p50": cuts[49], "p90": cuts[89], "p99": cuts[98], "max": max(times)}


def one_run(args: argparse.Namespace) -> tuple[dict[str, dict[str, float]], float]:
    with database() as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            apply(engine, load_text(config_yaml(args.integrations, args.clients)))
            seconds = load(engine, args.tickets, args.integrations, args.clients)
            tokens = {
                "support": create_token(engine, role="support", now=T0)[1],
                "client": create_token(engine, role="client", client="c07", now=T0)[1],
            }
            with serve(engine) as api:
                times = measure(api, tokens, args)
        finally:
            engine.dispose()
    return {name: percentiles(values) for name, values in times.items()}, seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--integrations", type=int, default=500)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=300, help="measured, per query")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3, help="runs, each on a fresh database")
    parser.add_argument("--quick", action="store_true", help="CI smoke: 10,000 tickets, once")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.tickets, args.requests, args.warmup, args.repeat = 10_000, 30, 3, 1
    runs = []
    for run in range(args.repeat):
        console.print(f"run {run + 1}/{args.repeat}: loading {args.tickets:,} tickets…")
        runs.append(one_run(args))
    report(args, runs)


def report(args: argparse.Namespace, runs: list[tuple[dict[str, dict[str, float]], float]]) -> None:
    names = list(runs[0][0])
    figures = {
        name: {
            key: round(statistics.median(run[name][key] for run, _ in runs), 1)
            for key in ("p50", "p90", "p99", "max")
        }
        for name in names
    }
    passed = all(f["p99"] < TARGET_P99_MS for f in figures.values())
    out = {
        "tickets": args.tickets,
        "page": PAGE,
        "requests_per_query": args.requests,
        "runs": args.repeat,
        "load_s": round(statistics.median(seconds for _, seconds in runs), 1),
        "target_p99_ms": TARGET_P99_MS,
        "passed": passed,
        "queries_ms": figures,
    }
    title = (
        f"GET /api/tickets, {args.tickets:,} tickets in PostgreSQL, pages of {PAGE} "
        f"(ms; median of {args.repeat} run(s) × {args.requests} requests)"
    )
    table = Table(title=title)
    for column in ("query", "p50", "p90", "p99", "max", f"p99 < {TARGET_P99_MS:.0f} ms"):
        table.add_column(column, justify="left" if column == "query" else "right")
    for name, f in figures.items():
        ok = "[green]pass[/green]" if f["p99"] < TARGET_P99_MS else "[red]FAIL[/red]"
        table.add_row(name, *(f"{f[k]:.1f}" for k in ("p50", "p90", "p99", "max")), ok)
    Console().print(table)
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
