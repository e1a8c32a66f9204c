"""Ticket opened → e-mail accepted by the SMTP server, in production mode.

PostgreSQL, Redis, one `intmon scheduler`, one `intmon worker` (2 processes × 4
threads) and a real SMTP server (aiosmtpd) on 127.0.0.1. `--integrations`
partners on a port nothing listens on, checked every second with
failure_threshold 1, so each opens an incident and its ticket on its first
check; each client's contact gets "a ticket was opened for you". The figure is,
per ticket, the time from the ticket row's `created_at` to the mail server
accepting that mail (median, p90, max). The target is a median under 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.models import Ticket
from alerts.tickets import ticket_number
from bench.checks import REDIS_URL, database
from core.db import make_engine
from intmon.config_file import apply_config, load_config_text
from intmon.demo.mailbox import Mailbox
from intmon.migrations import upgrade

console = Console(stderr=True)
NUMBER = re.compile(r"INC-\d{6}")


def config_yaml(count: int, refused_port: int, smtp_port: int) -> str:
    lines = [
        "version: 1",
        "channels:",
        f"  email: {{host: 127.0.0.1, port: {smtp_port}, from_address: intmon@bench.example}}",
        "clients:",
    ]
    # One client each: several tickets of one client due together would go out
    # as one digest, and this measures single messages.
    for i in range(count):
        lines += [
            f"  c{i:03d}:",
            "    contacts:",
            f"      - {{name: Desk {i}, email: desk{i}@client.example,",
            "         roles: [operational_public]}",
        ]
    lines.append("integrations:")
    for i in range(count):
        lines += [
            f"  - id: p{i:03d}",
            f"    name: Partner {i}",
            "    kind: broker",
            f"    client: c{i:03d}",
            f"    base_url: http://127.0.0.1:{refused_port}",
            "    interval_s: 1",
            "    timeout_s: 1",
            "    retries: 0",
            "    thresholds: {failure_threshold: 1}",
            "    checks: [{name: health, path: /health}]",
        ]
    return "\n".join(lines) + "\n"


def run(count: int) -> list[float]:
    workdir = Path(tempfile.mkdtemp(prefix="intmon-bench-"))
    with socket.socket() as refused, Mailbox() as mailbox, database() as db_url:
        refused.bind(("127.0.0.1", 0))  # bound, never listening
        engine = make_engine(db_url)
        upgrade(engine)
        apply_config(
            engine, load_config_text(config_yaml(count, refused.getsockname()[1], mailbox.port))
        )
        env = {
            **os.environ,
            "INTMON_DATABASE_URL": db_url,
            "INTMON_REDIS_URL": REDIS_URL,
            "INTMON_NAMESPACE": f"intmon-bench-{secrets.token_hex(4)}",
            "INTMON_LOG_LEVEL": "WARNING",
            "PROMETHEUS_MULTIPROC_DIR": str(workdir),
        }
        intmon = [sys.executable, "-m", "intmon"]
        worker = subprocess.Popen(
            [*intmon, "worker", "--processes", "2", "--threads", "4"],
            env=env,
            start_new_session=True,
        )
        scheduler = subprocess.Popen(
            [*intmon, "scheduler"], env=env, start_new_session=True, stdout=subprocess.DEVNULL
        )
        try:
            deadline = time.time() + 60
            while time.time() < deadline:
                if len({m.subject for m in mailbox.mails()}) >= count:
                    break
                time.sleep(0.2)
            with engine.connect() as connection:
                created = {
                    ticket_number(row.id): row.created_at.timestamp()
                    for row in connection.execute(select(Ticket.id, Ticket.created_at))
                }
        finally:
            for process in (scheduler, worker):
                os.killpg(process.pid, 15)
            for process in (scheduler, worker):
                process.wait(30)
            engine.dispose()
    latencies = []
    for mail in mailbox.mails():
        found = NUMBER.search(mail.subject)
        if found and found.group() in created:
            latencies.append(mail.received_at - created[found.group()])
    if len(latencies) < count:
        raise RuntimeError(f"only {len(latencies)} of {count} ticket e-mails arrived")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--integrations", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="CI smoke: 10 partners, once")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.integrations, args.repeat = 10, 1
    medians, p90s, worst = [], [], []
    for _ in range(args.repeat):
        latencies = sorted(run(args.integrations))
        medians.append(statistics.median(latencies))
        p90s.append(latencies[int(0.9 * (len(latencies) - 1))])
        worst.append(latencies[-1])
    out = {
        "integrations": args.integrations,
        "runs": args.repeat,
        "ticket_to_mail_median_s": round(statistics.median(medians), 3),
        "ticket_to_mail_p90_s": round(statistics.median(p90s), 3),
        "ticket_to_mail_max_s": round(max(worst), 3),
        "target_median_s": 2.0,
    }
    table = Table(title=f"ticket opened → e-mail accepted, {args.integrations} tickets at once")
    table.add_column("figure")
    table.add_column("seconds", justify="right")
    for key in ("ticket_to_mail_median_s", "ticket_to_mail_p90_s", "ticket_to_mail_max_s"):
        table.add_row(key, f"{out[key]:.3f}")
    table.add_row("target (median)", "< 2")
    Console().print(table)
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
