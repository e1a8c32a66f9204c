"""Where a saturated worker's CPU goes, by pipeline component, from py-spy samples.

`bench/checks.py --profile` records every worker process with py-spy during the
measured window (`py-spy record --format raw`: one line per distinct stack, frames
root first, then how many samples) and prints this breakdown: the share of the
worker's samples, and the CPU µs per stored check that share stands for.

A sample belongs to the innermost frame of intmon's own code on its stack (a
psycopg call made by the state upsert counts as the state upsert); samples with no
intmon frame (dramatiq's consumer and worker threads, the interpreter) by their
library. Threads that only wait are not sampled (py-spy skips idle threads).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

# (path inside the tree, function or "" for any) → component; first match wins, so
# the specific rules come before their module's catch-all.
RULES: tuple[tuple[str, str, str], ...] = (
    ("integrations/results.py", "", "results COPY + check_state upsert"),
    ("alerts/incidents.py", "", "incident intake"),
    ("alerts/incident_tickets.py", "", "incident intake"),
    ("integrations/maintenance.py", "", "maintenance windows"),
    ("integrations/contracts.py", "", "contract learning"),
    ("alerts/", "", "intake: transaction, outages"),
    ("core/series.py", "", "metrics"),
    ("checks/metrics.py", "", "metrics"),
    ("core/metrics.py", "", "metrics"),
    ("worker/middleware/metrics.py", "", "metrics"),
    ("worker/coordination/", "", "claims (Redis)"),
    ("worker/middleware/claims.py", "", "claims (Redis)"),
    ("integrations/registry.py", "", "spec loading"),
    ("integrations/leads/budget.py", "", "partner budgets"),
    ("integrations/", "", "intake: transaction, outages"),
    ("checks/", "", "probing (engine, transport, classify)"),
    ("worker/pipeline.py", "", "batch handling"),
    ("worker/late.py", "", "batch handling"),
    ("worker/", "", "batch handling"),
    ("core/", "", "core (settings, db, logs)"),
)
LIBRARIES: tuple[tuple[str, str], ...] = (
    ("dramatiq/", "dramatiq (consume, ack, Redis consumer)"),
    ("redis/", "dramatiq (consume, ack, Redis consumer)"),
    ("prometheus_client/", "metrics"),
    ("sqlalchemy/", "database client, other"),
    ("psycopg/", "database client, other"),
    ("asyncio/", "probing (engine, transport, classify)"),
    ("uvloop/", "probing (engine, transport, classify)"),
)
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def component(frames: list[str], root: str) -> str:
    """The component of one stack (frames root first, as py-spy writes them)."""
    for frame in reversed(frames):
        match = _FRAME.match(frame)
        if match is None:
            continue
        file = match["file"]
        if file.startswith(root):
            relative = file[len(root) :].lstrip("/")
            for prefix, function, name in RULES:
                if relative.startswith(prefix) and function in ("", match["function"]):
                    return name
    for frame in reversed(frames):
        for marker, name in LIBRARIES:
            if marker in frame:
                return name
    return "other (interpreter, GC, threads)"


def breakdown(lines: Iterable[str], root: str) -> Counter[str]:
    """Component → samples, from py-spy's raw (collapsed) output."""
    counts: Counter[str] = Counter()
    for line in lines:
        stack, _, samples = line.rstrip("\n").rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        counts[component(stack.split(";"), root)] += int(samples)
    return counts


def table(counts: Counter[str], cpu_us_per_check: float) -> list[tuple[str, float, float]]:
    """(component, share %, CPU µs per stored check), biggest first."""
    total = sum(counts.values()) or 1
    return [
        (name, 100 * n / total, cpu_us_per_check * n / total) for name, n in counts.most_common()
    ]
