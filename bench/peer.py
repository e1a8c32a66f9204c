"""intmon against Prometheus blackbox_exporter, side by side on the same machine.

Both probe the same loopback nginx for the same time:
  blackbox_exporter  driven by wrk (64 connections) on /probe?module=http_2xx:
                     one probe per request, a new TCP connection per probe
  intmon             the real pipeline (scheduler → Redis → worker processes →
                     classify → PostgreSQL → metrics), offered more checks than
                     it can run, with a new connection per check (fair to the
                     peer), then once more with keep-alive

Prints both figures and the ratio (median of --repeat runs) as a table and, with
--json, as JSON. Missing peer binaries are named with the Debian package that
provides them; the script never passes silently without its peer.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
console = Console(stderr=True)

PEERS = {
    "prometheus-blackbox-exporter": "prometheus-blackbox-exporter",
    "wrk": "wrk",
    "nginx": "nginx-light",
}

BLACKBOX_CONFIG = """
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      valid_status_codes: [200]
      preferred_ip_protocol: ip4
      fail_if_body_not_matches_regexp: ['"status": "ok"']
"""


def load_bench_checks() -> Any:
    """bench/checks.py, loaded under another name: its file name shadows the checks package."""
    spec = importlib.util.spec_from_file_location("bench_checks", HERE / "checks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_checks"] = module
    spec.loader.exec_module(module)
    return module


def require_peers() -> dict[str, str]:
    found = {}
    missing = []
    for binary, package in PEERS.items():
        path = shutil.which(binary) or (
            f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None
        )
        if path is None:
            missing.append(f"{binary} (Debian package {package})")
        else:
            found[binary] = path
    if missing:
        console.print(
            f"[red]missing: {', '.join(missing)}; install with apt-get install "
            f"{' '.join(PEERS[m.split()[0]] for m in missing)}[/red]"
        )
        raise SystemExit(2)
    return found


def blackbox_probes_per_s(bench, peers: dict[str, str], url: str, seconds: float) -> float:  # type: ignore[no-untyped-def]
    workdir = Path(tempfile.mkdtemp(prefix="intmon-peer-"))
    config = workdir / "blackbox.yml"
    config.write_text(BLACKBOX_CONFIG)
    port = bench.free_port()
    exporter = subprocess.Popen(
        [
            peers["prometheus-blackbox-exporter"],
            f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        bench.wait_port(port)
        probe = f"http://127.0.0.1:{port}/probe?module=http_2xx&target={url}/health"
        check = subprocess.run(["curl", "-s", probe], capture_output=True, text=True, timeout=10)
        if "probe_success 1" not in check.stdout:
            raise RuntimeError(f"blackbox_exporter's probe does not succeed: {check.stdout[-300:]}")
        out = subprocess.run(
            [peers["wrk"], "-t2", "-c64", f"-d{int(seconds)}s", probe],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
        ).stdout
        match = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if match is None:
            raise RuntimeError(f"could not read wrk's output: {out[-300:]}")
        return float(match.group(1))
    finally:
        exporter.terminate()
        exporter.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="one short round: proves the script works"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15.0, help="measuring time per side")
    parser.add_argument(
        "--integrations",
        type=int,
        default=8000,
        help="intmon's offered load per second; above what it can run, so the figure is "
        "its capacity, not the offer",
    )
    parser.add_argument("--processes", type=int, default=2, help="intmon worker processes")
    parser.add_argument("--threads", type=int, default=2, help="check threads per worker process")
    parser.add_argument("--batch-size", type=int, default=200, help="checks per message")
    parser.add_argument(
        "--warmup",
        type=float,
        default=20.0,
        help="seconds intmon runs before its window: a worker's first check of an "
        "integration loads its spec and creates its metric series, which a long-running "
        "worker has long done",
    )
    parser.add_argument(
        "--transports",
        default=os.environ.get("INTMON_HTTP_TRANSPORT", "native"),
        help="probe transports to compare (comma-separated, e.g. native,curl): each round "
        "runs intmon once per transport against the same peer figure, in turn",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.seconds, args.integrations, args.warmup = 1, 4.0, 1000, 4.0

    peers = require_peers()
    bench = load_bench_checks()
    transports = args.transports.split(",")
    rounds: dict[str, list[dict[str, float]]] = {transport: [] for transport in transports}
    for round_no in range(args.repeat):
        workdir = Path(tempfile.mkdtemp(prefix="intmon-peer-target-"))
        with bench.target(workdir) as (url, _kind):
            peer = blackbox_probes_per_s(bench, peers, url, args.seconds)
        console.print(f"round {round_no + 1}: blackbox_exporter {peer:.0f} probes/s")
        for transport in transports:
            os.environ["INTMON_HTTP_TRANSPORT"] = transport  # the workers inherit it
            rounds[transport].append(intmon_round(bench, args, peer))
            console.print(f"round {round_no + 1}, {transport}: {rounds[transport][-1]}")
        shutil.rmtree(workdir, ignore_errors=True)
        time.sleep(1)

    report = {transport: summarize(runs) for transport, runs in rounds.items()}
    table = Table(title=f"intmon vs blackbox_exporter 0.23, same target, median of {args.repeat}")
    for column in ("what", "per second", "ratio to blackbox_exporter", "worker CPU ms/check"):
        table.add_column(column, justify="right")
    first = report[transports[0]]
    table.add_row(
        "blackbox_exporter, wrk -c64, new connection per probe",
        f"{first['blackbox_probes_per_s']:.0f}",
        "1.00",
        "",
    )
    for transport, median in report.items():
        table.add_row(
            f"intmon ({transport}) end to end, new connection per check",
            f"{median['intmon_new_connection_per_s']:.0f}",
            f"{median['ratio_new_connection']:.2f}",
            f"{median['intmon_new_connection_worker_cpu_ms']:.2f}",
        )
        table.add_row(
            f"intmon ({transport}) end to end, keep-alive",
            f"{median['intmon_keepalive_per_s']:.0f}",
            f"{median['ratio_keepalive']:.2f}",
            f"{median['intmon_keepalive_worker_cpu_ms']:.2f}",
        )
    Console().print(table)
    if args.json:
        print(json.dumps({"median": report, "rounds": rounds}, indent=2))


def intmon_round(bench, args: argparse.Namespace, peer: float) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """intmon with a new connection per check, then with keep-alive, beside `peer`."""
    figures, cpu = {}, {}
    ran_all = False
    for keepalive in (False, True):
        options = argparse.Namespace(
            processes=args.processes,
            threads=args.threads,
            batch_size=args.batch_size,
            keepalive=keepalive,
            profile=False,  # bench/checks.py --profile: not in the side-by-side rounds
            profile_raw=False,
        )
        result = bench.run_scenario(
            options, "peer", args.integrations, 1.0, args.seconds, args.warmup
        )
        figures[keepalive] = result.checks_per_s
        cpu[keepalive] = result.worker_cpu_ms_per_check
        if result.checks_per_s >= 0.95 * args.integrations:
            # intmon ran all it was offered: its capacity is higher than measured.
            console.print(
                f"[yellow]intmon ran {result.checks_per_s:.0f} of {args.integrations} "
                "offered checks/s: the figure is a lower bound; raise --integrations"
            )
            ran_all = True
    return {
        "blackbox_probes_per_s": peer,
        "intmon_new_connection_per_s": figures[False],
        "intmon_keepalive_per_s": figures[True],
        "intmon_new_connection_worker_cpu_ms": cpu[False],
        "intmon_keepalive_worker_cpu_ms": cpu[True],
        "intmon_ran_all_offered": ran_all,
    }


def summarize(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Medians of the rounds, and the ratios to the peer."""
    median = {
        key: statistics.median(r[key] for r in rounds)
        for key in rounds[0]
        if key != "intmon_ran_all_offered"
    }
    median["ratio_new_connection"] = (
        median["intmon_new_connection_per_s"] / median["blackbox_probes_per_s"]
    )
    median["ratio_keepalive"] = median["intmon_keepalive_per_s"] / median["blackbox_probes_per_s"]
    return median


if __name__ == "__main__":
    main()
