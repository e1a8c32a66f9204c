"""Prometheus metrics every stage writes, correct across many worker processes.

With `PROMETHEUS_MULTIPROC_DIR` set (production: many dramatiq processes, maybe in
several containers sharing one volume), each process writes its samples to
files there and `intmon metrics` aggregates them (`intmon.metrics`). Files are
named by host and pid so containers whose processes share pid numbers do not
collide. Without it (embedded mode, tests) the default in-process registry is used.

This is the foundation's half: the metric objects and the value class. The
collectors that read the database when scraped sit on top (`intmon.metrics`),
and the check metrics a batch of results updates are `checks.metrics`.

Labels are bounded: integration and check ids come from the config file;
never a URL, a lead id or free text.
"""

from __future__ import annotations

import os
import re
import socket

from prometheus_client import values
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


# prometheus-client splits file names on "_", so the identifier must not contain one.
_HOST = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())


def _identify() -> str:
    return f"{_HOST}-{os.getpid()}"


_identifier = _identify()


def _reidentify_after_fork() -> None:
    global _identifier
    _identifier = _identify()


# prometheus-client asks for the identifier on every sample write, to notice a
# fork; os.getpid() is a system call, so it is computed once and again in a child.
os.register_at_fork(after_in_child=_reidentify_after_fork)


def process_identifier(pid: int | None = None) -> str:
    return _identifier if pid is None else f"{_HOST}-{pid}"


# Chosen once, at import: prometheus-client's value class, and `checks.metrics`'s
# per-integration series, must agree for the life of the process.
MULTIPROCESS = bool(os.environ.get(MULTIPROC_ENV))

if MULTIPROCESS:
    values.ValueClass = values.MultiProcessValue(process_identifier)

from prometheus_client import (  # noqa: E402  (after choosing the value class)
    Counter,
    Gauge,
    Histogram,
    multiprocess,
)

# In multiprocess mode every series costs a Python object and an mmap entry that
# repeats the help text; at 10,000 integrations the duration histogram is most of a
# worker's memory, so its buckets and the per-series metrics' help are kept short.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

check_duration = Histogram(
    "intmon_check_duration_seconds",
    "Check duration.",
    ["integration", "check", "outcome"],
    buckets=DURATION_BUCKETS,
)
check_results = Counter(
    "intmon_check_results",
    "Check results.",
    ["integration", "check", "outcome"],
)
integration_up = Gauge(
    "intmon_integration_up",
    "1 if all checks last ended ok or slow.",
    ["integration"],
    multiprocess_mode="mostrecent",
)
schedule_lag = Histogram(
    "intmon_schedule_lag_seconds",
    "How late a check started compared to when it was due.",
    buckets=LAG_BUCKETS,
)
checks_scheduled = Counter(
    "intmon_checks_scheduled",
    "Checks claimed and sent to workers by the scheduler.",
)
checks_skipped = Counter(
    "intmon_checks_skipped",
    "Due checks not run: in_flight (previous run not finished), behind (scheduler "
    "was paused), stale (claim expired before a worker started it), removed, budget "
    "(the partner's request budget left no room for checks).",
    ["reason"],
)
certificate_expiry = Gauge(
    "intmon_tls_certificate_expiry_timestamp_seconds",
    "TLS certificate expiry (Unix time).",
    ["integration"],
    multiprocess_mode="mostrecent",
)
scheduler_leader = Gauge(
    "intmon_scheduler_leader",
    "1 while this scheduler process holds the leader lock.",
    multiprocess_mode="livemax",
)

api_requests_limited = Counter(
    "intmon_api_requests_limited",
    "API requests refused with 429 by a limit (INTMON_LIMIT_*, INTMON_E2E_API_CONCURRENCY).",
    ["action"],
)

leads_total = Counter(
    "intmon_leads",
    "Lead ledger entries by outcome and liable party.",
    ["integration", "outcome", "liability"],
)
lead_acceptance = Gauge(
    "intmon_lead_acceptance_ratio",
    "Leads the broker accepted / answered in the last lead-flow window (lead_flow).",
    ["integration"],
    multiprocess_mode="mostrecent",
)
lead_acceptance_usual = Gauge(
    "intmon_lead_acceptance_usual_ratio",
    "The same ratio over the same hours of the past weeks (the lead-flow baseline).",
    ["integration"],
    multiprocess_mode="mostrecent",
)
retention_deleted = Counter(
    "intmon_retention_deleted",
    "Raw check results removed by retention, by how: partition (a dropped day's "
    "partition, PostgreSQL's row estimate) or delete (deleted rows).",
    ["how"],
)


PROCESS_METRICS: tuple[Collector, ...] = (
    check_duration,
    check_results,
    integration_up,
    schedule_lag,
    checks_scheduled,
    checks_skipped,
    certificate_expiry,
    scheduler_leader,
    leads_total,
    lead_acceptance,
    lead_acceptance_usual,
    retention_deleted,
)


def mark_process_dead(pid: int) -> None:
    """Drop a finished process's live gauges (the scheduler calls it on exit)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(process_identifier(pid))
