"""What a command costs before it does anything: CPU seconds of `intmon --help` and
`intmon validate FILE`, and the modules whose own import time is largest.

Each command runs in a fresh process (as a person or a script runs it); the CPU
time is the child's user + system time, so a busy machine changes it little.
With `--check` it exits 1 when a command's median is past twice its budget (CI
runs it so; see issue 26: `--help` and `validate` should cost under 0.3 s).

    .venv/bin/python bench/cli.py [--quick] [--check] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "deploy" / "integrations.example.yaml"
# CPU seconds per command: the 0.3 s for both. `--help` meets it (about 0.14 s);
# `validate` on the example file about 0.28 s on a loaded box (docs/benchmarks.md,
# issue 26): within it, with little margin.
BUDGETS = {"--help": 0.3, "validate": 0.3}
COMMANDS = {
    "--help": ["--help"],
    "validate": ["validate", str(EXAMPLE)],
}


# Bytecode is written (PYTHONDONTWRITEBYTECODE dropped), so the warm-up run leaves the
# caches a user's second run finds; without them every run also compiles intmon's
# own modules, about 0.06 s that no user pays twice.
CHILD_ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "NO_COLOR": "1",
}


def cpu_seconds(args: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-m", "intmon", *args],
        check=False,  # validate exits 0, or 1 on warnings it is told to fail on
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=CHILD_ENV,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def heaviest_imports(args: list[str], top: int) -> list[tuple[str, float]]:
    """The modules with the largest self import time (`python -X importtime`)."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "intmon", *args],
        check=False,
        capture_output=True,
        text=True,
        env=CHILD_ENV,
    )
    own: list[tuple[str, float]] = []
    for line in run.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        own.append((name.strip(), int(self_us) / 1e6))
    return sorted(own, key=lambda item: item[1], reverse=True)[:top]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 runs per command, not 7")
    parser.add_argument("--check", action="store_true", help="exit 1 past 2x a budget")
    parser.add_argument("--json", action="store_true", help="print JSON")
    options = parser.parse_args()
    runs = 3 if options.quick else 7
    figures = {}
    for name, args in COMMANDS.items():
        cpu_seconds(args)  # warms the OS file cache and the bytecode caches: not counted
        samples = [cpu_seconds(args) for _ in range(runs)]
        figures[name] = {
            "median_cpu_s": round(statistics.median(samples), 3),
            "budget_s": BUDGETS[name],
            "runs": runs,
            "heaviest_imports": [
                {"module": module, "self_s": round(seconds, 4)}
                for module, seconds in heaviest_imports(args, 5)
            ],
        }
    over = [n for n, f in figures.items() if f["median_cpu_s"] > 2 * f["budget_s"]]
    if options.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"{'command':<10} {'CPU s (median)':>15} {'budget s':>9}  heaviest own imports")
        for name, figure in figures.items():
            heavy = ", ".join(
                f"{i['module']} {i['self_s'] * 1000:.0f} ms" for i in figure["heaviest_imports"][:3]
            )
            print(f"{name:<10} {figure['median_cpu_s']:>15.3f} {figure['budget_s']:>9.2f}  {heavy}")
    if options.check and over:
        print(f"over twice the budget: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
