"""History on PostgreSQL: uptime, the monthly report and a rollup pass at scale.

Generates, in SQL (`generate_series`), N integrations × one check every
`--interval` seconds × `--days` of raw results (a few percent failing, some in
maintenance), plus hourly and daily rollups for the `--rollup-days` before
them (as earlier passes would have left); then rolls the raw results up with the
real pass, and prints medians of `--repeat` runs of:

  uptime_30d_all       `integrations.uptime.availability` over the last 30 days
                       for every integration (what `intmon uptime` and the
                       metrics scrape read)
  monthly_report       `alerts.monthly_report` for one client (its share of
                       integrations, incidents, maintenance and the lead report)
  rollup_pass          one steady-state pass: the newest complete hour plus the
                       two before it again, and their day
  rollup_catch_up_48h  one catch-up pass of 48 hours (the most a pass takes)
  board_page           GET /board as support through the whole app (the first page
                       of 100 rows, each with its 50-result bar and 24 h uptime),
                       `--page-requests` times: median, p99 and worst
  integration_page     GET /integrations/{id} as support (uptime 24 h / 7 d / 30 d,
                       the latency chart, the newest results), the same way

Each integration's check state is made from its newest result (what workers
would have left), so the board sorts and shows them as it would in production.

Targets (issue 23): 1,000 integrations at 60 s with 14 days raw and 90 days of
hourly rollups: board and integration page p99 < 200 ms, 30-day uptime for all
< 1 s, monthly report < 2 s.
`--quick` is a smoke run of a few seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.monthly_report import monthly_report
from bench.checks import database
from core.db import make_engine
from integrations.apply import apply
from integrations.loader import load_text
from integrations.models import RollupWatermark
from integrations.rollup_buckets import DAY, HOUR, floor_to
from integrations.rollups import last_complete_hour, roll_up, watermark
from integrations.uptime import availability
from intmon.migrations import upgrade

console = Console(stderr=True)
CLIENTS = 50


def config_yaml(count: int, interval: int) -> str:
    rows = [
        f"  - {{id: p{i:05d}, name: Partner {i}, kind: broker, client: c{i % CLIENTS:02d}, "
        f"base_url: 'https://p{i}.example.com', interval_s: {interval}, "
        "checks: [{name: health, path: /health}]}"
        for i in range(count)
    ]
    return "version: 1\nintegrations:\n" + "\n".join(rows) + "\n"


RAW = """
INSERT INTO check_results (integration_id, check_name, started_at, duration_s, outcome,
                           detail, response_excerpt, warnings, maintenance, inhibited)
SELECT i.id, 'health', ts + (random() * :interval) * interval '1 second',
       0.02 + random() * random() * 2,
       CASE WHEN random() < 0.03 THEN 'timeout' WHEN random() < 0.05 THEN 'slow' ELSE 'ok' END,
       '', '', '[]', random() < 0.01, false
FROM integrations i,
     generate_series(CAST(:start AS timestamptz), CAST(:until AS timestamptz) - interval '1 second',
                     :interval * interval '1 second') ts
"""

# Earlier passes' rows: per hour an 'ok' row and, for a few hours, a 'timeout' row.
HOURS = """
INSERT INTO check_rollups
SELECT 'hour', i.id, 'health', h, o.outcome,
       CASE o.outcome WHEN 'ok' THEN :per_hour ELSE 2 END, 0, 0, :per_hour * 0.2,
       0, :per_hour / 2, :per_hour - :per_hour / 2, 0, 0, 0, 0,
       CASE o.outcome WHEN 'ok' THEN 0 ELSE 2 END
FROM integrations i,
     generate_series(CAST(:start AS timestamptz), CAST(:until AS timestamptz) - interval '1 hour',
                     interval '1 hour') h,
     (VALUES ('ok'), ('timeout')) o(outcome)
WHERE o.outcome = 'ok' OR extract(hour FROM h AT TIME ZONE 'UTC') = 3
"""


def generate(
    engine: Engine, integrations: int, interval: int, days: int, rollup_days: int, now: datetime
) -> int:
    apply(engine, load_text(config_yaml(integrations, interval)), now - timedelta(days=400))
    raw_start = floor_to(now, DAY) - timedelta(days=days)
    old_start = raw_start - timedelta(days=rollup_days)
    per_hour = max(1, 3600 // interval)
    with engine.begin() as connection:
        connection.execute(text(RAW), {"start": raw_start, "until": now, "interval": interval})
        connection.execute(
            text(HOURS), {"start": old_start, "until": raw_start, "per_hour": per_hour}
        )
    with engine.begin() as connection:
        from integrations.rollups import _ensure_watermarks, rewrite_days  # the pass's own SQL

        rewrite_days(connection, old_start, raw_start)
    _ensure_watermarks(engine)
    with engine.begin() as connection:
        for grain in ("hour", "day"):
            connection.execute(
                update(RollupWatermark)
                .where(RollupWatermark.grain == grain)
                .values(rolled_until=raw_start)
            )
        connection.execute(text("ANALYZE"))
    while watermark(engine) != last_complete_hour(now):
        roll_up(engine, now)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
        return int(connection.execute(text("SELECT count(*) FROM check_results")).scalar_one())


# What workers leave behind: each check's newest result as its state.
STATES = """
INSERT INTO check_state (integration_id, check_name, outcome, up, streak, since, started_at,
                         duration_s, http_status, detail, family_streak, in_maintenance,
                         inhibited)
SELECT DISTINCT ON (integration_id, check_name)
       integration_id, check_name, outcome, outcome IN ('ok', 'slow'), 1, started_at,
       started_at, duration_s, http_status, '', 0, maintenance, false
FROM check_results
WHERE started_at >= CAST(:since AS timestamptz)
ORDER BY integration_id, check_name, started_at DESC
"""
PASSWORD = "bench password of the history run"


def timed(action: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def page_times(engine: Engine, now: datetime, requests: int) -> dict[str, dict[str, float]]:
    """GET /board and one integration's page as support, `requests` times each."""
    from pydantic import SecretStr

    from bench.board import logged_in
    from core import db
    from core.gc_tuning import tune_gc
    from core.settings import Settings
    from intmon.app import create_app
    from intmon.web.users import create_user

    with engine.begin() as connection:
        connection.execute(text(STATES), {"since": now - timedelta(hours=2)})
    db.utcnow = lambda: now  # the console's clock: the generated results end now
    create_user(engine, "sup", role="support", client=None, password=PASSWORD, now=now)
    settings = Settings(redis_url=None, session_secret=SecretStr("h" * 40))
    app = create_app(engine, settings)
    tune_gc()  # as each `intmon api` process does (intmon.serve)
    figures = {}
    with logged_in(app, "sup", PASSWORD) as client:
        for name, path in (("board_page", "/board"), ("integration_page", "/integrations/p00001")):
            assert client.get(path).status_code == 200  # and warm
            samples = []
            for _ in range(requests):
                began = time.perf_counter()
                response = client.get(path)
                samples.append(time.perf_counter() - began)
                assert response.status_code == 200
            samples.sort()
            figures[name] = {
                "median_s": statistics.median(samples),
                "p99_s": samples[min(len(samples) - 1, math.ceil(len(samples) * 0.99) - 1)],
                "max_s": samples[-1],
            }
    return figures


def steady_pass(engine: Engine, now: datetime, hours_back: int) -> None:
    """Move the watermark back and run the pass that writes those hours again."""
    with engine.begin() as connection:
        connection.execute(
            update(RollupWatermark)
            .where(RollupWatermark.grain == "hour")
            .values(rolled_until=last_complete_hour(now) - hours_back * HOUR)
        )
    roll_up(engine, now)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--integrations", type=int, default=1000)
    parser.add_argument("--interval", type=int, default=60, help="seconds between results")
    parser.add_argument("--days", type=int, default=14, help="days of raw results")
    parser.add_argument("--rollup-days", type=int, default=76, help="days of rollups before")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--page-requests", type=int, default=100, help="requests of each console page"
    )
    parser.add_argument("--quick", action="store_true", help="smoke: a few seconds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.integrations, args.interval, args.days, args.rollup_days, args.repeat = (
            40,
            300,
            2,
            30,
            3,
        )
        args.page_requests = 10
    now = datetime.now(UTC).replace(microsecond=0)
    with database() as url:
        engine = make_engine(url)
        upgrade(engine)
        began = time.perf_counter()
        rows = generate(engine, args.integrations, args.interval, args.days, args.rollup_days, now)
        console.print(f"generated {rows:,} raw results in {time.perf_counter() - began:.1f} s")
        month = f"{(now - timedelta(days=1)):%Y-%m}"
        out: dict[str, Any] = {
            "integrations": args.integrations,
            "interval_s": args.interval,
            "raw_days": args.days,
            "rollup_days": args.rollup_days + args.days,
            "raw_results": rows,
            "median_s": {
                "uptime_30d_all": timed(
                    lambda: availability(engine, now - timedelta(days=30), now), args.repeat
                ),
                "monthly_report": timed(
                    lambda: monthly_report(engine, "c00", month, now), args.repeat
                ),
                "rollup_pass": timed(lambda: steady_pass(engine, now, 1), args.repeat),
                "rollup_catch_up_48h": timed(lambda: steady_pass(engine, now, 48), args.repeat),
            },
        }
        out["pages"] = page_times(engine, now, args.page_requests)
        engine.dispose()
    table = Table(
        title=f"history: {args.integrations} integrations every {args.interval} s, "
        f"{args.days} d raw, {out['rollup_days']} d rollups, PostgreSQL"
    )
    table.add_column("operation")
    table.add_column("median", justify="right")
    for name, seconds in out["median_s"].items():
        table.add_row(name, f"{seconds * 1000:,.0f} ms")
    Console().print(table)
    pages = Table(title=f"console pages as support, {args.page_requests} requests each")
    for column in ("page", "median", "p99", "worst"):
        pages.add_column(column, justify="left" if column == "page" else "right")
    for name, found in out["pages"].items():
        pages.add_row(
            name, *(f"{found[key] * 1000:,.0f} ms" for key in ("median_s", "p99_s", "max_s"))
        )
    Console().print(pages)
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
