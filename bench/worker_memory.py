"""What a worker process holds at a fleet's size: imports, specs, the probe engine.

A fresh process per measurement imports what a worker imports (`worker.actors`),
then does what a worker's batches do to its memory, one phase at a time:

    imports   `import worker.actors` (and the collector frozen, as TuneGC does)
    specs     `SpecCache.get_many` over every integration in batches of `--batch`
              (each worker process caches every integration sooner or later)
    probes    `ProbeEngine.run_batch` over the same batches, twice, against a
              loopback nginx (bench/checks.py's target): the engine's per-spec
              preparations, URL cache, shape sampler

Each phase is reported as the process's RSS after it and, with `--tracemalloc`
(a second process: tracing slows everything and inflates RSS), the Python
memory it added and the lines that allocated most of it. The integrations are
bench/checks.py's scale scenario (one check with a JSON assertion each), stored
in a PostgreSQL database of their own.

    python bench/worker_memory.py                       # 10,000 integrations
    python bench/worker_memory.py --tracemalloc --top 15
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a tree: its own packages
os.environ.setdefault("INTMON_EGRESS_ALLOW", "127.0.0.0/8")

from bench.peer import load_bench_checks  # noqa: E402 (the tree's path first)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Phases:
    """RSS after each phase; with tracing, the traced memory each phase added."""

    def __init__(self, trace: bool, top: int) -> None:
        self.trace, self.top = trace, top
        self.figures: list[dict[str, Any]] = []
        self._snapshot: Any = None
        if trace:
            import tracemalloc

            tracemalloc.start(1)
            self._snapshot = tracemalloc.take_snapshot()

    def mark(self, name: str) -> None:
        gc.collect()
        figure: dict[str, Any] = {"phase": name, "rss_mb": round(rss_mb(), 1)}
        if self.trace:
            import tracemalloc

            snapshot = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__)]
            )
            diff = snapshot.compare_to(self._snapshot, "lineno")
            figure["traced_added_mb"] = round(sum(d.size_diff for d in diff) / 2**20, 2)
            figure["top"] = [
                {"where": str(d.traceback), "added_kb": round(d.size_diff / 1024, 1)}
                for d in sorted(diff, key=lambda d: -d.size_diff)[: self.top]
            ]
            self._snapshot = snapshot
        self.figures.append(figure)


async def probe_all(batches: list[list[Any]], transport: str, phases: Phases) -> int:
    """Every batch twice; the phase is marked while the engine lives, as in a worker."""
    from checks.engine import ProbeEngine, ProbeSettings

    engine = ProbeEngine(ProbeSettings(transport=transport))  # type: ignore[arg-type]
    failed = 0
    try:
        for _ in range(2):
            for batch in batches:
                results = await engine.run_batch(batch)
                failed += sum(1 for result in results if result.outcome != "ok")
        phases.mark("probes")
    finally:
        await engine.aclose()
    return failed


def child(args: argparse.Namespace) -> None:
    phases = Phases(args.tracemalloc, args.top)
    import worker.actors  # noqa: F401  (what a worker process imports)

    gc.freeze()  # worker.middleware.TuneGC at boot
    phases.mark("imports")

    import uvloop

    from core.db import make_engine
    from integrations.registry import SpecCache, active_revisions

    database = make_engine(args.database_url)
    revisions = active_revisions(database)
    ids = sorted(revisions)
    cache = SpecCache(database)
    specs: dict[str, Any] = {}
    for start in range(0, len(ids), args.batch):
        chunk = ids[start : start + args.batch]
        specs.update(cache.get_many({i: revisions[i] for i in chunk}))
    phases.mark("specs")

    batches = [
        [(specs[i], specs[i].checks[0], None) for i in ids[start : start + args.batch]]
        for start in range(0, len(ids), args.batch)
    ]
    started = time.perf_counter()
    failed = uvloop.run(probe_all(batches, args.transport, phases))
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "integrations": len(specs),
                "failed": failed,
                "probe_s": round(elapsed, 1),
                "phases": phases.figures,
            }
        )
    )


def run_child(args: argparse.Namespace, database_url: str, trace: bool) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        "--database-url",
        database_url,
        "--batch",
        str(args.batch),
        "--transport",
        args.transport,
        "--top",
        str(args.top),
        *(["--tracemalloc"] if trace else []),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--integrations", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=200, help="integrations per batch")
    parser.add_argument("--transport", default="native")
    parser.add_argument("--rounds", type=int, default=1, help="RSS-only processes to run")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also a traced process: what each phase added"
    )
    parser.add_argument("--top", type=int, default=10, help="allocating lines shown per phase")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from core.db import make_engine
    from integrations.apply import apply
    from integrations.loader import load_text
    from intmon.migrations import upgrade

    bench = load_bench_checks()
    results: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="intmon-memory-bench-") as workdir,
        bench.target(Path(workdir)) as (url, _kind),
        bench.database() as database_url,
    ):
        engine = make_engine(database_url)
        upgrade(engine)
        apply(engine, load_text(bench.integrations_yaml(args.integrations, 30.0, url)))
        engine.dispose()
        for _ in range(args.rounds):
            results.append(run_child(args, database_url, trace=False))
        if args.tracemalloc:
            results.append(run_child(args, database_url, trace=True))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for result in results:
        traced = "traced" if "traced_added_mb" in result["phases"][0] else "RSS only"
        print(
            f"{result['integrations']} integrations, {result['failed']} failed checks, "
            f"probes {result['probe_s']} s ({traced}):"
        )
        for phase in result["phases"]:
            line = f"  {phase['phase']:8} RSS {phase['rss_mb']:7.1f} MB"
            if "traced_added_mb" in phase:
                line += f"   traced +{phase['traced_added_mb']:.2f} MB"
            print(line)
            for row in phase.get("top", []):
                print(f"      {row['added_kb']:9.1f} KB  {row['where']}")


if __name__ == "__main__":
    main()
