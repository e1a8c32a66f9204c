"""What retention costs: dropping a day's partition on PostgreSQL, batched deletes on SQLite.

  drop a day     a fresh PostgreSQL database; a day partition filled with --rows
                 results (one INSERT … SELECT from generate_series, then ANALYZE),
                 then the retention pass (`integrations.retention.prune`) run at a
                 time when that day has expired: the time of the whole pass, which
                 detaches and drops the partition. Target: under a second, whatever
                 the day's size. Median of --repeat days.
  SQLite delete  a fresh SQLite file with --rows old results and the pass's batches
                 (5,000 rows per DELETE, each its own transaction) until none is
                 left: rows/s, and the longest batch (how long the write lock is
                 held at most).

Prints a rich table (and JSON with --json).
"""

from __future__ import annotations

import argparse
import json
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

from bench.checks import database
from core.db import make_engine
from integrations import partitions
from integrations.apply import apply
from integrations.loader import load_text
from integrations.retention import Retention, prune
from intmon.migrations import upgrade

DAY = timedelta(days=1)
# A day far from today, so the migration's own partitions are not in the way.
FIRST_DAY = datetime(2030, 1, 1, tzinfo=UTC)
KEEP = Retention(days=14)
CONFIG = """version: 1
integrations:
  - {id: bench, name: Bench, kind: broker, client: c, base_url: 'http://127.0.0.1:9',
     checks: [{name: health, path: /health}]}
"""
# One check every 30 s from `rows` checks spread over the day; a typical detail.
FILL = """
INSERT INTO check_results (integration_id, check_name, scheduled_at, started_at,
    duration_s, http_status, outcome, detail, response_excerpt, warnings,
    maintenance, inhibited)
SELECT 'bench', 'c' || (n % 1000), ts, ts, 0.05, 200, 'ok', 'HTTP 200 in 50 ms',
    '{"status": "ok"}', '[]', false, false
FROM (SELECT n, CAST(:day AS timestamptz) + (n % 86400) * interval '1 second' AS ts
      FROM generate_series(1, :rows) AS n) AS s
"""


def drop_a_day(rows: int, repeat: int) -> dict[str, Any]:
    with database() as url:
        engine = make_engine(url)
        upgrade(engine)
        apply(engine, load_text(CONFIG))
        timings, sizes = [], []
        for n in range(repeat):
            day = FIRST_DAY + n * DAY
            with engine.begin() as connection:
                partitions.ensure_day(connection, day)
                connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
                connection.execute(_text(FILL), {"day": day, "rows": rows})
            with engine.begin() as connection:
                connection.exec_driver_sql(f"ANALYZE {partitions.name_of(day)}")
                sizes.append(
                    connection.exec_driver_sql(
                        f"SELECT pg_total_relation_size('{partitions.name_of(day)}')"
                    ).scalar()
                )
            # The partitions ahead of the timed pass exist already, as they would
            # (housekeeping runs every few seconds): what is timed is the drop.
            prune(engine, Retention(days=14, ahead_days=4), day + 14 * DAY)
            # The pass on the day this one expires (14 days after its end).
            start = time.perf_counter()
            report = prune(engine, KEEP, day + 15 * DAY)
            timings.append(time.perf_counter() - start)
            assert report.partitions_dropped == [partitions.name_of(day)], report
            assert not report.partitions_created, report
        engine.dispose()
    return {
        "rows_per_day": rows,
        "day_size_mb": round(statistics.median(sizes) / 1e6, 1),
        "drop_pass_s": round(statistics.median(timings), 4),
        "drop_pass_max_s": round(max(timings), 4),
    }


def sqlite_deletes(rows: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(f"sqlite:///{directory}/bench.db")
        upgrade(engine)
        apply(engine, load_text(CONFIG))
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                "INSERT INTO check_results (integration_id, check_name, scheduled_at, "
                "started_at, duration_s, http_status, outcome, detail, response_excerpt, "
                "warnings, maintenance, inhibited) "
                "SELECT 'bench', 'c' || (i % 1000), '2030-01-01 00:00:00.000000', "
                "'2030-01-01 00:00:00.000000', 0.05, 200, 'ok', 'HTTP 200 in 50 ms', "
                "'{\"status\": \"ok\"}', '[]', 0, 0 FROM n",
                (rows,),
            )
        one_batch = Retention(days=14, max_batches=1)
        batches, deleted = [], 0
        start = time.perf_counter()
        while True:
            began = time.perf_counter()
            report = prune(engine, one_batch, FIRST_DAY + 20 * DAY)
            batches.append(time.perf_counter() - began)
            deleted += report.rows_deleted
            if not report.backlog:
                break
        elapsed = time.perf_counter() - start
        engine.dispose()
    assert deleted == rows, (deleted, rows)
    return {
        "rows": rows,
        "delete_rows_per_s": round(rows / elapsed),
        "batch_median_s": round(statistics.median(batches), 4),
        "batch_max_s": round(max(batches), 4),
    }


def _text(sql: str) -> Any:
    from sqlalchemy import text

    return text(sql)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows in one day")
    parser.add_argument("--repeat", type=int, default=3, help="days dropped (median)")
    parser.add_argument("--quick", action="store_true", help="200,000 rows, CI's smoke mode")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    rows = 200_000 if args.quick else args.rows
    figures = {"postgresql": drop_a_day(rows, args.repeat), "sqlite": sqlite_deletes(rows)}
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    table = Table(title=f"Retention, {rows:,} results in a day")
    table.add_column("what")
    table.add_column("figure", justify="right")
    pg, lite = figures["postgresql"], figures["sqlite"]
    table.add_row(
        f"PostgreSQL: the pass that drops a day ({pg['day_size_mb']} MB), median",
        f"{pg['drop_pass_s'] * 1000:.1f} ms",
    )
    table.add_row("PostgreSQL: slowest of those passes", f"{pg['drop_pass_max_s'] * 1000:.1f} ms")
    table.add_row("SQLite: batched delete rate", f"{lite['delete_rows_per_s']:,} rows/s")
    table.add_row(
        "SQLite: one batch of 5,000 (write lock held), median / max",
        f"{lite['batch_median_s'] * 1000:.0f} / {lite['batch_max_s'] * 1000:.0f} ms",
    )
    Console().print(table)


if __name__ == "__main__":
    main()
