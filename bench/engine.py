"""The probe alone: CPU per check of `ProbeEngine.run_batch` on each transport.

One process per measurement (a fresh interpreter: no transport warms another's
caches), the engine on uvloop as a worker runs it, batches of `--batch` checks
of distinct integrations against a loopback nginx (bench/checks.py's target),
`--in-flight` per host. CPU is the process's user + system time (getrusage)
over the measured batches, after a warm-up; transports are interleaved round by
round and the median of the rounds is reported.

    python bench/engine.py --transports native,curl --rounds 3
    python bench/engine.py --bare   # the transport alone: no engine around it
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a tree: its own checks package
os.environ.setdefault("INTMON_EGRESS_ALLOW", "127.0.0.0/8")


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(args: argparse.Namespace) -> dict[str, float]:
    if args.bare:
        return await measure_bare(args)
    from checks.engine import ProbeEngine, ProbeSettings
    from integrations.config import IntegrationSpec

    specs = [
        IntegrationSpec.model_validate(
            {
                "id": f"p{i:04d}",
                "name": f"Partner {i}",
                "kind": "shop",
                "client": "bench",
                "base_url": args.url,
                "timeout_s": 5,
                "checks": [
                    {"name": "health", "path": "/health", "expect": {"json": ['$.status == "ok"']}}
                ],
            }
        )
        for i in range(args.batch)
    ]
    batch = [(spec, spec.checks[0], None) for spec in specs]
    settings = ProbeSettings(
        transport=args.child,
        keepalive=args.keepalive,
        max_connections_per_host=args.in_flight,
    )
    engine = ProbeEngine(settings)
    try:
        for _ in range(args.warmup_batches):
            await engine.run_batch(batch)
        started, cpu_started = time.perf_counter(), cpu_s()
        failed, durations = 0, []
        for _ in range(args.batches):
            results = await engine.run_batch(batch)
            failed += sum(1 for r in results if r.outcome != "ok")
            durations += [r.duration_s for r in results]
        wall, cpu = time.perf_counter() - started, cpu_s() - cpu_started
    finally:
        await engine.aclose()
    checks = args.batch * args.batches
    durations.sort()
    return {
        "cpu_us_per_check": cpu / checks * 1e6,
        "checks_per_s": checks / wall,
        "failed": failed,
        # A check's own duration (its wait for a connection slot excluded).
        "duration_p50_ms": durations[len(durations) // 2] * 1000,
        "duration_max_ms": durations[-1] * 1000,
    }


async def measure_bare(args: argparse.Namespace) -> dict[str, float]:
    """The transport alone: the same prebuilt request `--batch` at a time, the body read."""
    import httpx

    from checks.clients import ClientPool
    from checks.engine import ProbeSettings
    from integrations.config import TLSSettings

    settings = ProbeSettings(transport=args.child, keepalive=args.keepalive)
    pool = ClientPool(settings)
    transport = pool.transport(TLSSettings())
    request = httpx.Request("GET", args.url, extensions={"timeout": {"connect": 5, "read": 5}})
    slots = asyncio.Semaphore(args.in_flight)

    async def one() -> bool:
        async with slots:
            response = await transport.handle_async_request(request)
            try:
                async for _ in response.aiter_raw():
                    pass
            finally:
                await response.aclose()
            return response.status_code == 200

    async def batch() -> int:
        return sum(not ok for ok in await asyncio.gather(*(one() for _ in range(args.batch))))

    try:
        for _ in range(args.warmup_batches):
            await batch()
        started, cpu_started = time.perf_counter(), cpu_s()
        failed = sum([await batch() for _ in range(args.batches)])
        wall, cpu = time.perf_counter() - started, cpu_s() - cpu_started
    finally:
        await pool.aclose()
    checks = args.batch * args.batches
    return {"cpu_us_per_check": cpu / checks * 1e6, "checks_per_s": checks / wall, "failed": failed}


def busy_python(stop: threading.Event) -> None:
    """Python work on another thread, as a worker's pipeline threads do beside the
    probe loop (results, state, metrics): it holds the GIL between switches."""
    while not stop.is_set():
        sum(i * i for i in range(2000))


def child(args: argparse.Namespace) -> None:
    import uvloop

    stop = threading.Event()
    if args.busy_thread:
        threading.Thread(target=busy_python, args=(stop,), daemon=True).start()
    try:
        print(json.dumps(uvloop.run(measure(args))))
    finally:
        stop.set()


def run_child(args: argparse.Namespace, transport: str, url: str) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--child",
        transport,
        "--url",
        url,
        "--batch",
        str(args.batch),
        "--batches",
        str(args.batches),
        "--warmup-batches",
        str(args.warmup_batches),
        "--in-flight",
        str(args.in_flight),
        "--keepalive" if args.keepalive else "--no-keepalive",
        *(["--bare"] if args.bare else []),
        *(["--busy-thread"] if args.busy_thread else []),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    figures: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transports", default="native,curl")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=200, help="checks per run_batch")
    parser.add_argument("--batches", type=int, default=40, help="measured batches")
    parser.add_argument("--warmup-batches", type=int, default=5)
    parser.add_argument("--in-flight", type=int, default=64, help="connections per host")
    parser.add_argument("--keepalive", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument(
        "--bare", action="store_true", help="the transport alone, without the engine"
    )
    parser.add_argument(
        "--busy-thread",
        action="store_true",
        help="a thread running Python beside the probe loop, as in a worker; its CPU "
        "counts too, so compare checks/s and durations, not CPU",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    spec = importlib.util.spec_from_file_location("bench_checks", HERE / "checks.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_checks"] = bench
    spec.loader.exec_module(bench)

    transports = args.transports.split(",")
    rounds: dict[str, list[dict[str, float]]] = {t: [] for t in transports}
    workdir = tempfile.TemporaryDirectory(prefix="intmon-engine-bench-")
    with workdir, bench.target(Path(workdir.name)) as (url, kind):
        for number in range(args.rounds):
            for transport in transports:
                figures = run_child(args, transport, url + "/health")
                rounds[transport].append(figures)
                print(
                    f"round {number + 1} {transport}: {figures['cpu_us_per_check']:.0f} µs "
                    f"CPU/check, {figures['checks_per_s']:.0f} checks/s, "
                    f"{figures['failed']:.0f} failed ({kind} target)"
                    + (
                        f", check duration p50 {figures['duration_p50_ms']:.1f} ms, "
                        f"max {figures['duration_max_ms']:.0f} ms"
                        if "duration_max_ms" in figures
                        else ""
                    ),
                    file=sys.stderr,
                )
    summary = {
        transport: {
            "cpu_us_per_check": statistics.median(r["cpu_us_per_check"] for r in results),
            "checks_per_s": statistics.median(r["checks_per_s"] for r in results),
            "duration_p50_ms": statistics.median(r.get("duration_p50_ms", 0) for r in results),
            "rounds_cpu_us": [round(r["cpu_us_per_check"]) for r in results],
        }
        for transport, results in rounds.items()
    }
    mode = "keep-alive" if args.keepalive else "new connection per check"
    mode += ", transport alone" if args.bare else ", ProbeEngine.run_batch"
    mode += ", a busy Python thread beside it" if args.busy_thread else ""
    print(f"median of {args.rounds}, {mode}, batches of {args.batch}, {args.in_flight} in flight:")
    for transport, medians in summary.items():
        print(
            f"  {transport:8} {medians['cpu_us_per_check']:6.0f} µs CPU/check "
            f"{medians['checks_per_s']:7.0f} checks/s, check duration p50 "
            f"{medians['duration_p50_ms']:.1f} ms, rounds {medians['rounds_cpu_us']}"
        )
    if args.json:
        print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
