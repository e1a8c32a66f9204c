"""End-to-end check throughput and schedule lag of the real production pipeline.

scheduler process → Redis → `intmon worker` processes → classification →
PostgreSQL → metrics, against a loopback target (nginx when installed, else a
small aiohttp server, which competes for the same two cores and is reported).

Scenarios:
  throughput  many integrations at a 1 s interval: offered load above capacity,
              measured checks/s stored end to end
  scale       10,000 integrations at 30 s: p50/p99 schedule lag, worker RSS
  embedded    `--embedded`: `intmon run` alone (SQLite, in-process broker, no
              Redis or PostgreSQL), 1,000 integrations at 30 s over two
              intervals: p50/p99 schedule lag, process RSS (target p99 < 1 s)

Figures come from the stored rows (started_at − scheduled_at for lag), so they
are what a user would see, not what a client thinks it sent. Prints a rich
table and, with --json, JSON. `--quick` is the CI smoke mode (figures not asserted).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import redis
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, create_engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent))  # also when imported (bench/peer.py)

import worker_profile  # bench/worker_profile.py, beside this script

from core.db import make_engine
from integrations.apply import apply
from integrations.loader import load_text
from integrations.models import CheckResultRow
from intmon.migrations import upgrade

PG_ADMIN_URL = os.environ.get(
    "INTMON_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("INTMON_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
# Every bench target (nginx, fake partners, receivers) listens on 127.0.0.1, which
# the egress policy refuses by default: the benches allow loopback explicitly, for
# themselves and the intmon processes they start (the other benches import this).
os.environ.setdefault("INTMON_EGRESS_ALLOW", "127.0.0.0/8")
console = Console(stderr=True)


@dataclass
class Figures:
    scenario: str
    integrations: int
    interval_s: float
    offered_per_s: float
    measured_s: float
    checks_per_s: float
    lag_p50_s: float
    lag_p99_s: float
    non_ok: int
    worker_rss_max_mb: float
    # CPU time of the worker processes in the window per stored check: less
    # sensitive than checks/s to other work on a shared machine.
    worker_cpu_ms_per_check: float
    target: str
    keepalive: bool
    batch_size: int
    # CPU time of the PostgreSQL backends serving the bench's database in the window
    # per stored check (backends that exited during the window are not counted);
    # 0 without PostgreSQL. Much of the cost of a state upsert is spent there.
    db_cpu_ms_per_check: float = 0.0
    # The other processes in the window, per stored check: the scheduler, the Redis
    # server (shared with whatever else uses it: an upper bound on a shared machine)
    # and the loopback target (nginx master and worker).
    scheduler_cpu_ms_per_check: float = 0.0
    redis_cpu_ms_per_check: float = 0.0
    target_cpu_ms_per_check: float = 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


LAG = "extract(epoch FROM started_at - scheduled_at)"
LAG_QUERY = (
    f"SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY {LAG}), "
    f"percentile_cont(0.99) WITHIN GROUP (ORDER BY {LAG}), "
    "count(*) FILTER (WHERE outcome <> 'ok') FROM check_results "
    "WHERE started_at >= to_timestamp(:a) AND started_at < to_timestamp(:b)"
)

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  keepalive_requests 100000;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{ default_type application/json; return 200 '{{"status": "ok", "items": []}}'; }}
  }}
}}
"""


@contextmanager
def target(workdir: Path) -> Iterator[tuple[str, str]]:
    """A loopback partner answering a small JSON body; yields (url, kind)."""
    port = free_port()
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx:
        conf = workdir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=workdir, port=port))
        process = subprocess.Popen(
            [nginx, "-c", str(conf), "-p", str(workdir)], stderr=subprocess.DEVNULL
        )
        kind = "nginx"
    else:
        console.print(
            "[yellow]nginx not installed (Debian package nginx-light): using an aiohttp "
            "target, which takes CPU from intmon on this machine[/yellow]"
        )
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "target.py"), str(port)]
        )
        kind = "aiohttp"
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}", kind
    finally:
        process.terminate()
        process.wait(timeout=10)


class Blackhole:
    """A partner that accepts connections and never answers: every check of it
    ends in its timeout, as behind a firewall that drops the traffic."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(65535)  # never accepted: the kernel completes handshakes
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __enter__(self) -> Blackhole:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


@contextmanager
def database() -> Iterator[str]:
    name = f"intmon_bench_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def integrations_yaml(
    count: int, interval: float, url: str, hanging_url: str | None = None, hanging: float = 0.0
) -> str:
    """`hanging` of the integrations (spread evenly) point at `hanging_url` instead."""
    timeout = min(5.0, interval)
    every = round(1 / hanging) if hanging_url and hanging > 0 else 0

    def base(i: int) -> str:
        return hanging_url if every and i % every == 0 and hanging_url else url

    rows = [
        f"  - {{id: b{i:05d}, name: B{i}, kind: broker, client: c{i % 50:02d}, "
        f"base_url: '{base(i)}', "
        f"interval_s: {interval}, timeout_s: {timeout}, "
        f"checks: [{{name: health, path: /health, expect: {{json: ['$.status == \"ok\"']}}}}]}}"
        for i in range(count)
    ]
    return "version: 1\nintegrations:\n" + "\n".join(rows) + "\n"


def descendants(pid: int) -> list[int]:
    out, stack = [], [pid]
    while stack:
        current = stack.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            out.append(child)
            stack.append(child)
    return out


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes, in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def backend_cpu(engine: Engine) -> dict[int, float]:
    """PostgreSQL backend pid → its CPU seconds so far, for the backends of this
    engine's database (the server may serve other databases meanwhile)."""
    with engine.connect() as connection:
        pids = connection.execute(
            text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalars()
        return {pid: cpu_seconds([pid]) for pid in pids}


def run_scenario(
    args: argparse.Namespace, name: str, count: int, interval: float, duration: float, warmup: float
) -> Figures:
    workdir = Path(tempfile.mkdtemp(prefix="intmon-bench-"))
    namespace = f"intmon-bench-{secrets.token_hex(4)}"
    hanging = getattr(args, "hanging", 0.0)  # bench/peer.py builds its own options
    hole: AbstractContextManager[Blackhole | None] = Blackhole() if hanging > 0 else nullcontext()
    with target(workdir) as (url, kind), database() as db_url, hole as hang:
        engine = make_engine(db_url)
        upgrade(engine)
        hanging_url = hang.url if hang is not None else None
        apply(
            engine,
            load_text(integrations_yaml(count, interval, url, hanging_url, hanging)),
        )
        metrics_dir = workdir / "metrics"
        metrics_dir.mkdir()
        env = {
            **os.environ,
            "INTMON_DATABASE_URL": db_url,
            "INTMON_REDIS_URL": REDIS_URL,
            "INTMON_NAMESPACE": namespace,
            "INTMON_BATCH_SIZE": str(args.batch_size),
            "INTMON_KEEPALIVE": "true" if args.keepalive else "false",
            "INTMON_LOG_LEVEL": "WARNING",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        }
        intmon = [sys.executable, "-m", "intmon"]
        worker = subprocess.Popen(
            [*intmon, "worker", "--processes", str(args.processes), "--threads", str(args.threads)],
            env=env,
            start_new_session=True,
        )
        scheduler = subprocess.Popen(
            [*intmon, "scheduler"], env=env, start_new_session=True, stdout=subprocess.DEVNULL
        )
        rss_peak = 0.0
        cpu_at_window: float | None = None
        db_at_window: dict[int, float] = {}
        others_at_window: dict[str, float] = {}
        profiles: list[subprocess.Popen[bytes]] = []
        window_start = time.time() + warmup
        try:
            console.print(
                f"[bold]{name}[/bold]: {count} integrations every {interval:g} s "
                f"({count / interval:.0f} checks/s offered) for {warmup + duration:.0f} s"
            )
            started = time.time()
            deadline = started + warmup + duration
            while time.time() < deadline:
                time.sleep(0.5)
                workers = [worker.pid, *descendants(worker.pid)]
                rss_peak = max([rss_peak, *(rss_mb(p) for p in workers)])
                elapsed = time.time() - started
                if cpu_at_window is None and elapsed >= warmup:
                    cpu_at_window, window_start = cpu_seconds(workers), time.time()
                    db_at_window = backend_cpu(engine)
                    others_at_window = others_cpu(scheduler.pid, worker.pid)
                    if args.profile:
                        # The dramatiq worker processes (not their idle parent).
                        profiles = start_profiles(descendants(worker.pid), workdir, duration)
                console.print(f"  {elapsed:5.1f} s  worker RSS max {rss_peak:5.0f} MB", end="\r")
            window_end = time.time()
            worker_cpu = cpu_seconds([worker.pid, *descendants(worker.pid)])
            worker_cpu -= cpu_at_window or 0.0
            db_cpu = sum(
                spent - db_at_window.get(pid, 0.0) for pid, spent in backend_cpu(engine).items()
            )
            others = {
                name: spent - others_at_window.get(name, 0.0)
                for name, spent in others_cpu(scheduler.pid, worker.pid).items()
            }
            console.print()
            for profile in profiles:
                # py-spy takes duration × rate samples: on a busy machine it lags behind
                # and runs longer; interrupted, it writes what it has.
                try:
                    profile.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    profile.send_signal(signal.SIGINT)
                    profile.wait(timeout=20)
        finally:
            for process in (scheduler, worker):
                os.killpg(process.pid, signal.SIGTERM)
            for process in (scheduler, worker):
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
        with engine.connect() as connection:
            row = connection.execute(
                text(LAG_QUERY),
                {"a": window_start, "b": window_end},
            ).one()
            per_check = connection.execute(
                text(
                    "SELECT max(n), min(n) FROM (SELECT count(*) AS n FROM check_results "
                    "WHERE started_at >= to_timestamp(:a) AND started_at < to_timestamp(:b) "
                    "GROUP BY integration_id, check_name) AS runs"
                ),
                {"a": window_start, "b": window_end},
            ).one()
            timeline = connection.execute(
                text(
                    "SELECT floor((extract(epoch FROM started_at) - :s) / 10) * 10 AS t, count(*), "
                    f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {LAG}), "
                    f"percentile_cont(0.99) WITHIN GROUP (ORDER BY {LAG}) "
                    "FROM check_results GROUP BY 1 ORDER BY 1"
                ),
                {"s": started},
            ).all()
        engine.dispose()
        for segment, runs, p50, p99 in timeline:
            console.print(
                f"  t={segment:4.0f}s  {runs:6d} checks  lag p50 {p50:6.3f}  p99 {p99:6.3f}"
            )
        console.print(
            f"  runs per check in the {window_end - window_start:.1f} s window: "
            f"min {per_check[1]}, max {per_check[0]} (interval {interval:g} s)"
        )
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{namespace}*"):
            client.delete(key)
        client.close()
    stored = max(1, row[0])
    worker_cpu_us = 1e6 * worker_cpu / stored
    if profiles:
        print_profile(workdir, worker_cpu_us, args.profile_raw)
    shutil.rmtree(workdir, ignore_errors=True)
    measured = window_end - window_start
    return Figures(
        scenario=name,
        integrations=count,
        interval_s=interval,
        offered_per_s=count / interval,
        measured_s=round(measured, 1),
        checks_per_s=round(row[0] / measured, 1),
        lag_p50_s=round(float(row[1] or 0), 4),
        lag_p99_s=round(float(row[2] or 0), 4),
        non_ok=int(row[3]),
        worker_rss_max_mb=round(rss_peak, 1),
        worker_cpu_ms_per_check=round(1000 * worker_cpu / max(1, row[0]), 3),
        target=kind,
        keepalive=args.keepalive,
        batch_size=args.batch_size,
        db_cpu_ms_per_check=round(1000 * db_cpu / max(1, row[0]), 3),
        scheduler_cpu_ms_per_check=round(1000 * others.get("scheduler", 0.0) / stored, 3),
        redis_cpu_ms_per_check=round(1000 * others.get("redis", 0.0) / stored, 3),
        target_cpu_ms_per_check=round(1000 * others.get("target", 0.0) / stored, 3),
    )


def others_cpu(scheduler_pid: int, worker_pid: int) -> dict[str, float]:
    """CPU seconds so far of the scheduler, the Redis server and the loopback target
    (this bench's children other than the worker and scheduler trees)."""
    ours = {scheduler_pid, worker_pid, *descendants(scheduler_pid), *descendants(worker_pid)}
    target_pids = [pid for pid in descendants(os.getpid()) if pid not in ours]
    try:
        client = redis.Redis.from_url(REDIS_URL)
        redis_pid = int(client.info("server")["process_id"])
        client.close()
    except (redis.RedisError, KeyError, ValueError):
        redis_pid = 0
    return {
        "scheduler": cpu_seconds([scheduler_pid, *descendants(scheduler_pid)]),
        "redis": cpu_seconds([redis_pid]) if redis_pid else 0.0,
        "target": cpu_seconds(target_pids),
    }


def start_profiles(
    workers: list[int], workdir: Path, seconds: float
) -> list[subprocess.Popen[bytes]]:
    """py-spy on every worker process for the window (`--profile`)."""
    py_spy = os.environ.get("INTMON_BENCH_PY_SPY") or shutil.which("py-spy")
    if py_spy is None:
        console.print("[yellow]--profile: py-spy not found (INTMON_BENCH_PY_SPY)[/yellow]")
        return []
    return [
        subprocess.Popen(
            [
                py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                "--rate", "50", "--format", "raw", "--full-filenames", "--gil", "--nonblocking",
                "--output", str(workdir / f"profile-{pid}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in workers
    ]  # fmt: skip


def print_profile(workdir: Path, worker_cpu_us: float, raw: str | None) -> None:
    root = str(Path(__file__).resolve().parent.parent)
    lines = [
        line for path in workdir.glob("profile-*.txt") for line in path.read_text().splitlines()
    ]
    if raw:  # the stacks themselves, e.g. for flamegraph.pl
        Path(raw).write_text("\n".join(lines) + "\n")
    counts = worker_profile.breakdown(lines, root)
    console.print(f"worker CPU by component (py-spy, {sum(counts.values())} samples):")
    for name, share, us in worker_profile.table(counts, worker_cpu_us):
        console.print(f"  {name:42} {share:5.1f} %  {us:6.0f} µs per check")


def run_embedded(
    args: argparse.Namespace, count: int, interval: float, duration: float, warmup: float
) -> Figures:
    """`intmon run FILE` as a user starts it: one process, SQLite, no services."""
    workdir = Path(tempfile.mkdtemp(prefix="intmon-bench-embedded-"))
    with target(workdir) as (url, kind):
        config = workdir / "integrations.yaml"
        config.write_text(integrations_yaml(count, interval, url))
        db_url = f"sqlite:///{workdir / 'core.db'}"
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("INTMON_REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")
        }
        env.update(
            INTMON_DATABASE_URL=db_url,
            INTMON_BATCH_SIZE=str(args.batch_size),
            INTMON_KEEPALIVE="true" if args.keepalive else "false",
            INTMON_LOG_LEVEL="WARNING",
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "intmon", "run", str(config), "--metrics-port", "0"],
            env=env,
            cwd=workdir,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
        )
        rss_peak = 0.0
        try:
            console.print(
                f"[bold]embedded[/bold]: {count} integrations every {interval:g} s "
                f"({count / interval:.0f} checks/s offered) for {warmup + duration:.0f} s"
            )
            started = time.time()
            window_start, window_end = started + warmup, started + warmup + duration
            cpu_at_window: float | None = None
            while time.time() < window_end:
                time.sleep(0.5)
                rss_peak = max(rss_peak, rss_mb(process.pid))
                if cpu_at_window is None and time.time() >= window_start:
                    cpu_at_window = cpu_seconds([process.pid])
                elapsed = time.time() - started
                console.print(f"  {elapsed:5.1f} s  RSS {rss_peak:5.0f} MB", end="\r")
            cpu = cpu_seconds([process.pid]) - (cpu_at_window or 0.0)
            console.print()
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        engine = make_engine(db_url)
        table = CheckResultRow.__table__
        first, last = (
            datetime.fromtimestamp(window_start, UTC),
            datetime.fromtimestamp(window_end, UTC),
        )
        with engine.connect() as connection:
            rows = connection.execute(
                select(table.c.scheduled_at, table.c.started_at, table.c.outcome).where(
                    table.c.started_at >= first, table.c.started_at < last
                )
            ).all()
        engine.dispose()
    shutil.rmtree(workdir, ignore_errors=True)
    lags = sorted(max(0.0, (row[1] - row[0]).total_seconds()) for row in rows if row[0])
    console.print(
        f"  {len(rows)} checks stored in the {duration:.0f} s window "
        f"(expected {count * duration / interval:.0f})"
    )
    return Figures(
        scenario="embedded",
        integrations=count,
        interval_s=interval,
        offered_per_s=count / interval,
        measured_s=round(duration, 1),
        checks_per_s=round(len(rows) / duration, 1),
        lag_p50_s=round(percentile(lags, 0.50), 4),
        lag_p99_s=round(percentile(lags, 0.99), 4),
        non_ok=sum(1 for row in rows if row[2] != "ok"),
        worker_rss_max_mb=round(rss_peak, 1),
        worker_cpu_ms_per_check=round(1000 * cpu / max(1, len(rows)), 3),
        target=kind,
        keepalive=args.keepalive,
        batch_size=args.batch_size,
    )


def percentile(ordered: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont."""
    if not ordered:
        return 0.0
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="small and short: proves the script works"
    )
    parser.add_argument("--scenario", choices=["throughput", "scale", "all"], default="all")
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="only the embedded mode (`intmon run`, SQLite, no services); "
        "median of 3 runs unless --repeat is given",
    )
    parser.add_argument(
        "--repeat", type=int, help="runs per scenario; medians are reported (default 1)"
    )
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--keepalive", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--integrations", type=int, help="override the scenario's integration count"
    )
    parser.add_argument("--interval", type=float, help="override the scenario's interval (s)")
    parser.add_argument("--duration", type=float, help="override the measured window (s)")
    parser.add_argument(
        "--warmup", type=float, help="override the time before the measured window (s)"
    )
    parser.add_argument(
        "--hanging",
        type=float,
        default=0.0,
        help="fraction of integrations whose partner never answers (each check of it "
        "times out): how the pipeline copes with dead partners",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record the workers with py-spy in the window; print CPU by component",
    )
    parser.add_argument(
        "--profile-raw", metavar="PATH", help="with --profile: write py-spy's stacks there"
    )
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    args = parser.parse_args()

    plans = {
        "throughput": ("throughput", 300, 1.0, 4.0, 2.0)
        if args.quick
        else ("throughput", 3000, 1.0, 20.0, 8.0),
        "scale": ("scale", 500, 5.0, 6.0, 3.0)
        if args.quick
        else ("scale", 10_000, 30.0, 60.0, 35.0),
    }
    chosen = list(plans) if args.scenario == "all" else [args.scenario]
    results: list[Figures] = []
    if args.embedded:
        chosen = []
        # Two whole intervals measured, after the first checks have started.
        count, interval, duration, warmup = (
            (200, 5.0, 10.0, 3.0) if args.quick else (1000, 30.0, 60.0, 5.0)
        )
        args.repeat = args.repeat or (1 if args.quick else 3)
        runs = [
            run_embedded(
                args,
                args.integrations or count,
                args.interval or interval,
                args.duration or duration,
                args.warmup or warmup,
            )
            for _ in range(args.repeat)
        ]
        results.append(median_of(runs))
    args.repeat = args.repeat or 1
    for key in chosen:
        name, count, interval, duration, warmup = plans[key]
        plan = (
            name,
            args.integrations or count,
            args.interval or interval,
            args.duration or duration,
            args.warmup or warmup,
        )
        runs = [run_scenario(args, *plan) for _ in range(args.repeat)]
        results.append(median_of(runs))

    table = Table(
        title=f"intmon end to end ({'quick' if args.quick else 'full'}; median of {args.repeat})"
    )
    for column in (
        "scenario",
        "integrations",
        "interval s",
        "offered/s",
        "checks/s",
        "lag p50 s",
        "lag p99 s",
        "non-ok",
        "worker RSS MB",
        "target",
    ):
        table.add_column(column, justify="right")
    for f in results:
        table.add_row(
            f.scenario,
            str(f.integrations),
            f"{f.interval_s:g}",
            f"{f.offered_per_s:.0f}",
            f"{f.checks_per_s:.0f}",
            f"{f.lag_p50_s:.3f}",
            f"{f.lag_p99_s:.3f}",
            str(f.non_ok),
            f"{f.worker_rss_max_mb:.0f}",
            f.target,
        )
    Console().print(table)
    if args.json:
        print(json.dumps([asdict(f) for f in results], indent=2))


def median_of(runs: list[Figures]) -> Figures:
    if len(runs) == 1:
        return runs[0]
    best = runs[0]
    fields = (
        "checks_per_s",
        "lag_p50_s",
        "lag_p99_s",
        "worker_rss_max_mb",
        "worker_cpu_ms_per_check",
        "db_cpu_ms_per_check",
        "scheduler_cpu_ms_per_check",
        "redis_cpu_ms_per_check",
        "target_cpu_ms_per_check",
    )
    return Figures(
        **{**asdict(best), **{f: statistics.median(getattr(r, f) for r in runs) for f in fields}}
    )


if __name__ == "__main__":
    main()
