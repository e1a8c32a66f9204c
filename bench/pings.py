"""The heartbeat ping endpoint under load, into PostgreSQL: pings/s and p99.

  data     a fresh PostgreSQL database on 127.0.0.1 (created and dropped here),
           migrated; 50 integrations with 100 heartbeats each (5,000 ping keys),
           each already pinged once (state `up`), as in production.
  server   `intmon api --workers 2` (`intmon.serve`: one process per core, each
           with its own socket on the port, the collector tuned; uvicorn with
           httptools and uvloop), the default
           per-key limit (INTMON_LIMIT_PINGS) in force, batched writes
           (`intmon.api.group_commit`).
  load     wrk, 2 threads, `GET /ping/<key>` with a random key of the 5,000 per
           request; 10 s (5 s with --quick) after a 2 s warm-up, twice:
           paced    128 connections, each pausing between pings so that together
                    they offer --rate pings/s (2,600 by default: wrk's connection waits
                    for each answer, so it takes a little less), as many cron
                    jobs pinging on their own clocks do. The target is read here:
                    >= 2,000 pings/s taken with p99 < 50 ms.
           flat out 64 connections that ping again as soon as answered: the
                    most the server takes, and its latency when saturated.

Prints pings/s, p50/p99 and non-2xx answers of both runs, then checks in the
database that the pings were stored (every key pinged during the runs has its
`last_ping_at` in them), and the same server's `/healthz` flat out and the load
average, for scale. Needs wrk (Debian: wrk).

Then the detector (`alerts.heartbeat_watch.watch_heartbeats`) at 10,000 heartbeats
(100 integrations x 100): one pass when none is late, and one when every one is
(10,000 missed_heartbeat results, 100 incidents and tickets). A miss is recorded
within INTMON_HEARTBEAT_CHECK_INTERVAL_S (2 s) + the pass of its grace running out;
the target is grace + 5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.heartbeat_watch import watch_heartbeats
from alerts.policy import Policy
from bench.checks import REDIS_URL, backend_cpu, cpu_seconds, database, descendants
from core.db import make_engine
from integrations.apply import apply
from integrations.heartbeats.models import Heartbeat
from integrations.heartbeats.pings import Ping, PingKind, record_pings
from integrations.heartbeats.store import list_heartbeats
from integrations.loader import load_text
from intmon.migrations import upgrade

ROOT = Path(__file__).resolve().parent.parent
console = Console(stderr=True)
TARGET_RATE = 2000.0
TARGET_P99_MS = 50.0
INTEGRATIONS, PER_INTEGRATION = 50, 100
WRK_SCRIPT = """
local keys = {}
for line in io.lines("%s") do keys[#keys + 1] = line end
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/ping/" .. keys[math.random(#keys)])
end
"""
# wrk calls `delay()` before each request of a connection: the pause in ms. Drawn
# at random around the mean (uniform on 0..2×mean): a fixed pause kept the 128
# connections in step, so pings came in bursts of 128 and queued behind each other.
PACING = "delay = function() return math.random(0, %d) end\n"
PACED_CONNECTIONS, FLAT_OUT_CONNECTIONS = 128, 64


def config_yaml(integrations: int = INTEGRATIONS) -> str:
    beats = ", ".join(
        f"{{name: job{j:03d}, period_s: 3600, grace_s: 600}}" for j in range(PER_INTEGRATION)
    )
    rows = [
        f"  - {{id: p{i:03d}, name: P{i}, kind: other, client: c{i % 10}, "
        f"base_url: 'http://127.0.0.1:9', checks: [{{name: health, path: /health}}], "
        f"heartbeats: [{beats}]}}"
        for i in range(integrations)
    ]
    return "version: 1\nintegrations:\n" + "\n".join(rows) + "\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("uvicorn exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("uvicorn did not start")


def run_wrk(
    url: str,
    script: Path,
    seconds: int,
    connections: int = FLAT_OUT_CONNECTIONS,
    midway: Callable[[], None] | None = None,
) -> dict[str, float]:
    """wrk's figures; `midway` is called half-way through the run."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
    client = subprocess.Popen([*command, url], stdout=subprocess.PIPE, text=True)
    if midway is not None:
        time.sleep(seconds / 2)
        midway()
    out, _ = client.communicate()
    if client.returncode:
        raise RuntimeError(f"wrk exited with {client.returncode}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)

    def cut(label: str) -> float:
        value, unit = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {
        "pings_per_s": rate,
        "requests": requests,
        "p50_ms": cut("50"),
        "p99_ms": cut("99"),
        "non_2xx": float(non_2xx.group(1)) if non_2xx else 0.0,
        "socket_errors": 1.0 if errors else 0.0,
    }


def _sockets(port: int, state: str) -> set[str]:
    """Inodes of the TCP sockets on local `port` in `state` (0A listening, 01 established)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                found.add(fields[9])
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    return inodes


def server_workers(server_pid: int, port: int) -> list[int]:
    """uvicorn's worker processes: those of its descendants holding the listening socket."""
    listening = _sockets(port, "0A")
    return [pid for pid in descendants(server_pid) if listening & _socket_inodes(pid)]


def connections_per_worker(workers: list[int], port: int) -> list[int]:
    """How many of the clients' connections each worker holds now: the kernel hands a
    new connection to whichever process accepts it first, so they need not be even."""
    established = _sockets(port, "01")
    return [len(established & _socket_inodes(pid)) for pid in workers]


def measured_run(
    base: str,
    script: Path,
    seconds: int,
    connections: int,
    server: subprocess.Popen[bytes],
    engine: Any,
) -> dict[str, float]:
    """A wrk run, with where its CPU went per request (wrk, each API worker,
    PostgreSQL's backends) and how the connections were spread over the workers
    mid-run: steadier than latency on a shared machine, and it says which side is short."""
    port = int(base.rstrip("/").rsplit(":", 1)[1])
    workers = server_workers(server.pid, port)
    api_before = [cpu_seconds([pid]) for pid in workers]
    db_before = backend_cpu(engine)
    client_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    spread: list[int] = []

    def midway() -> None:
        spread.extend(connections_per_worker(workers, port))

    figures = run_wrk(base, script, seconds, connections, midway)
    client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    api = [cpu_seconds([pid]) - before for pid, before in zip(workers, api_before, strict=True)]
    db = sum(cpu - db_before.get(pid, 0.0) for pid, cpu in backend_cpu(engine).items())
    client = (client_after.ru_utime - client_before.ru_utime) + (
        client_after.ru_stime - client_before.ru_stime
    )
    per = 1e6 / max(figures["requests"], 1.0)
    figures.update(api_cpu_us=sum(api) * per, db_cpu_us=db * per, client_cpu_us=client * per)
    for n, cpu in enumerate(api):
        figures[f"worker{n}_cpu_s"] = cpu
    for n, count in enumerate(spread):
        figures[f"worker{n}_connections"] = float(count)
    return figures


def spread_line(figures: dict[str, float]) -> str:
    """Each API worker's CPU seconds and the connections it held mid-run, on one line."""
    workers = sorted(name.removesuffix("_cpu_s") for name in figures if name.endswith("_cpu_s"))
    return ", ".join(
        f"{figures[f'{w}_cpu_s']:.1f} s CPU / {figures.get(f'{w}_connections', 0):.0f} connections"
        for w in workers
    )


def heartbeat_updates(engine: Any) -> dict[str, float]:
    """The heartbeats table's update counters so far: all, HOT (heap-only: no index
    entry written, the old version pruned on its page), autovacuum passes. The
    server's statistics lag by up to a second (10 s for an idle backend)."""
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT n_tup_upd, n_tup_hot_upd, autovacuum_count FROM pg_stat_user_tables "
                "WHERE relname = 'heartbeats'"
            )
        ).one()
    return {"updates": row[0], "hot_updates": row[1], "autovacuums": row[2]}


def script_for_healthz(tmp: Path) -> Path:
    script = tmp / "healthz.lua"
    script.write_text("")
    return script


def load_arguments(description: str, what: str) -> argparse.Namespace:
    """The options both ingest benches take; exits when wrk is missing."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--rate", type=int, default=2600, help=f"{what}/s offered by the paced run (2,600)"
    )
    parser.add_argument("--quick", action="store_true", help="5 s of load")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 5
    if shutil.which("wrk") is None:
        sys.exit(f"bench/{what}.py needs wrk (Debian: apt-get install wrk)")
    return args


def paced(script: Path, rate: int) -> Path:
    """`script` with each of the paced run's connections pausing so that together
    they offer `rate` requests a second."""
    out = script.with_name("paced-" + script.name)
    out.write_text(script.read_text() + PACING % round(2 * PACED_CONNECTIONS * 1000 / rate))
    return out


@contextmanager
def api_server(
    database_url: str, workers: int, **environment: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The API as `intmon api --workers N` runs it, on a free port, with Redis for the
    limits (the processes share them there): (its base URL, uvicorn's supervisor)."""
    port = free_port()
    env = {
        **os.environ,
        "INTMON_DATABASE_URL": database_url,
        "INTMON_REDIS_URL": REDIS_URL,
        "INTMON_NAMESPACE": f"bench-api-{os.getpid()}",
        "INTMON_SESSION_SECRET": "bench-session-secret-0123456789abcdef",
        "INTMON_LOG_LEVEL": "WARNING",
        **environment,
    }
    command = [sys.executable, "-m", "intmon", "api", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        wait_ready(port, server)
        # Each process listens once its app is built: wait for all of them.
        deadline = time.monotonic() + 60
        while len(_sockets(port, "0A")) < workers and time.monotonic() < deadline:
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/", server
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    args = load_arguments(__doc__ or "", "pings")
    with database() as url, tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(url)
        upgrade(engine)
        apply(engine, load_text(config_yaml()))
        keys = [view.ping_key for view in list_heartbeats(engine)]
        record_pings(engine, [Ping(k, PingKind.SUCCESS, datetime.now(UTC)) for k in keys])
        (Path(tmp) / "keys.txt").write_text("\n".join(keys) + "\n")
        script = Path(tmp) / "pings.lua"
        script.write_text(WRK_SCRIPT % (Path(tmp) / "keys.txt"))
        with api_server(url, args.workers) as (base, server):
            run_wrk(base, script, 2)  # warm-up: connections, caches, plans
            started = datetime.now(UTC)
            updates_before = heartbeat_updates(engine)
            paced_script = paced(script, args.rate)
            paced_run = measured_run(
                base, paced_script, args.seconds, PACED_CONNECTIONS, server, engine
            )
            figures = measured_run(base, script, args.seconds, FLAT_OUT_CONNECTIONS, server, engine)
            # The same server's ceiling on this machine, now: /healthz does no work.
            ceiling = run_wrk(base + "healthz", script_for_healthz(Path(tmp)), args.seconds)
        # Read after the /healthz run: by then every backend has flushed its counters.
        updates = heartbeat_updates(engine)
        figures.update({name: updates[name] - updates_before[name] for name in updates})
        table = Heartbeat.__table__
        with engine.connect() as connection:
            fresh = connection.execute(
                select(func.count()).select_from(table).where(table.c.last_ping_at >= started)
            ).scalar_one()
        engine.dispose()
    report(args, paced_run, figures, ceiling, int(fresh), len(keys))
    detector(args)


def detector(args: argparse.Namespace) -> None:
    """Seconds per detector pass at 10,000 heartbeats: none late, then all late."""
    with database() as url:
        engine = make_engine(url)
        upgrade(engine)
        apply(engine, load_text(config_yaml(100)))
        keys = [view.ping_key for view in list_heartbeats(engine)]
        pinged = datetime.now(UTC)
        for start in range(0, len(keys), 500):
            batch = keys[start : start + 500]
            record_pings(engine, [Ping(k, PingKind.SUCCESS, pinged) for k in batch])
        policy = Policy()
        started = time.perf_counter()
        quiet = watch_heartbeats(engine, policy, pinged)
        idle_s = time.perf_counter() - started
        late = pinged + timedelta(seconds=3600 + 600 + 1)
        started = time.perf_counter()
        opened = tickets = passes = 0
        while True:  # a pass takes at most detector.BATCH heartbeats; the next the rest
            done = watch_heartbeats(engine, policy, late)
            if not done:
                break
            passes += 1
            opened += len(done.opened)
            tickets += len(done.tickets_opened)
        all_late_s = time.perf_counter() - started
        engine.dispose()
    assert not quiet and opened == 100, opened
    Console().print(
        f"detector at {len(keys):,} heartbeats: a pass with none late {idle_s * 1000:.1f} ms; "
        f"with all late {all_late_s:.2f} s in {passes} passes ({len(keys):,} "
        f"missed_heartbeat results, {opened} incidents and {tickets} tickets opened)"
    )
    if args.json:
        print(json.dumps({"detector_idle_ms": idle_s * 1000, "detector_all_late_s": all_late_s}))


def report(
    args: argparse.Namespace,
    paced: dict[str, float],
    flat_out: dict[str, float],
    ceiling: dict[str, float],
    fresh: int,
    keys: int,
) -> None:
    passed = (
        paced["pings_per_s"] >= TARGET_RATE
        and paced["p99_ms"] < TARGET_P99_MS
        and not paced["non_2xx"] + flat_out["non_2xx"]
    )
    table = Table(
        title=f"GET /ping/<key> into PostgreSQL: `intmon api --workers {args.workers}`, "
        f"wrk -t2, {args.seconds} s a run, {keys:,} keys"
    )
    for column in ("run", "pings/s", "p50 ms", "p99 ms", "non-2xx", "target"):
        table.add_column(column, justify="right")
    table.add_row(
        f"paced: {PACED_CONNECTIONS} connections offering {args.rate:,}/s",
        f"{paced['pings_per_s']:,.0f}",
        f"{paced['p50_ms']:.1f}",
        f"{paced['p99_ms']:.1f}",
        f"{paced['non_2xx']:.0f}",
        "[green]pass[/green]" if passed else "[red]FAIL[/red]",
    )
    table.add_row(
        f"flat out: {FLAT_OUT_CONNECTIONS} connections",
        f"{flat_out['pings_per_s']:,.0f}",
        f"{flat_out['p50_ms']:.1f}",
        f"{flat_out['p99_ms']:.1f}",
        f"{flat_out['non_2xx']:.0f}",
        "",
    )
    Console().print(table)
    load = os.getloadavg()[0]
    for name, figures in (("paced", paced), ("flat out", flat_out)):
        Console().print(
            f"CPU per ping, {name}: API processes {figures['api_cpu_us']:,.0f} µs, "
            f"PostgreSQL {figures['db_cpu_us']:,.0f} µs, wrk {figures['client_cpu_us']:,.0f} µs; "
            f"API workers: {spread_line(figures)}"
        )
    hot = flat_out["hot_updates"] / max(flat_out["updates"], 1.0)
    Console().print(
        f"heartbeats updated during both runs: {flat_out['updates']:,.0f} rows, "
        f"{hot:.0%} of them HOT (n_tup_hot_upd / n_tup_upd); "
        f"{flat_out['autovacuums']:.0f} autovacuum pass(es)"
    )
    Console().print(
        f"keys stored during the runs: {fresh:,}/{keys:,}; same server, GET /healthz flat out: "
        f"{ceiling['pings_per_s']:,.0f} req/s, p99 {ceiling['p99_ms']:.1f} ms; "
        f"load average {load:.1f} on {os.cpu_count()} cores"
    )
    if args.json:
        out: dict[str, Any] = {"paced": paced, "flat_out": flat_out, "passed": passed}
        out.update(keys=keys, keys_stored=fresh, offered_rate=args.rate)
        out["healthz_per_s"] = ceiling["pings_per_s"]
        out["load_average"] = load
        print(json.dumps(out))


if __name__ == "__main__":
    main()
