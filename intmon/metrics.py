"""Prometheus metrics, correct across many worker processes.

With `PROMETHEUS_MULTIPROC_DIR` set (production: many dramatiq processes, maybe in
several containers sharing one volume), each process writes its samples to
files there and `intmon metrics` aggregates them. Files are named by host and
pid so containers whose processes share pid numbers do not collide. Without
it (embedded mode, tests) the default in-process registry is used.

Labels are bounded: integration and check ids come from the config file;
never a URL, a lead id or free text.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime

from prometheus_client import values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from checks.outcomes import CheckResult

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


# prometheus-client splits file names on "_", so the identifier must not contain one.
_HOST = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())


def process_identifier(pid: int | None = None) -> str:
    # Called on every sample update (prometheus-client checks for a fork), so keep it cheap.
    return f"{_HOST}-{os.getpid() if pid is None else pid}"


if os.environ.get(MULTIPROC_ENV):
    values.ValueClass = values.MultiProcessValue(process_identifier)

from prometheus_client import (  # noqa: E402  (after choosing the value class)
    CollectorRegistry,
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
retention_deleted = Counter(
    "intmon_retention_deleted",
    "Raw check results removed by retention, by how: partition (a dropped day's "
    "partition, PostgreSQL's row estimate) or delete (deleted rows).",
    ["how"],
)


class QueueDepthCollector(Collector):
    """Reads queue depths when scraped, so the number is never stale."""

    def __init__(self, depths: Callable[[], dict[str, int]]) -> None:
        self.depths = depths

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "intmon_queue_depth", "Messages waiting in a work queue.", labels=["queue"]
        )
        try:
            for queue, depth in self.depths().items():
                family.add_metric([queue], depth)
        except Exception:
            pass
        yield family


class AlertsCollector(Collector):
    """Open incidents, tickets, SLA breaches and the outbox, read from the database
    when scraped: one process answers for the whole deployment, so these numbers
    are not summed over workers (and survive their restarts)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def describe(self) -> Iterable[GaugeMetricFamily]:
        """The families without samples: registering reads no database."""
        return self._families()

    def collect(self) -> Iterable[GaugeMetricFamily]:
        from alerts.queries import alert_counts

        incidents, tickets, breached, pending, dead, outage = self._families()
        try:
            counts = alert_counts(self.engine)
        except Exception:  # a scrape must not fail because the database is down
            return
        for (family, flapping), count in counts.open_incidents.items():
            incidents.add_metric([family, flapping], count)
        for status, count in counts.tickets.items():
            tickets.add_metric([status], count)
        breached.add_metric([], counts.sla_breached_active)
        for target, count in counts.outbox_pending.items():
            pending.add_metric([target], count)
        for target, count in counts.outbox_dead.items():
            dead.add_metric([target], count)
        outage.add_metric([], counts.platform_outage)
        yield from (incidents, tickets, breached, pending, dead, outage)

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                "intmon_incidents_open",
                "Open incidents by failure family.",
                labels=["family", "flapping"],
            ),
            GaugeMetricFamily("intmon_tickets", "Tickets by status.", labels=["status"]),
            GaugeMetricFamily(
                "intmon_tickets_sla_breached",
                "Active tickets whose first-response SLA was missed.",
            ),
            GaugeMetricFamily(
                "intmon_outbox_pending",
                "Messages waiting to be sent, by target.",
                labels=["target"],
            ),
            GaugeMetricFamily(
                "intmon_outbox_dead",
                "Messages given up on (see last_error), by target.",
                labels=["target"],
            ),
            GaugeMetricFamily(
                "intmon_platform_outage",
                "1 while intmon's own network or resolver is failing (an open platform outage).",
            ),
        ]


class FreshnessCollector(Collector):
    """Stale checks (`integrations.staleness`), read from the database when scraped,
    like `AlertsCollector`: whether each configured check is stale, the seconds
    since its last result, and how many are stale for each reason. A check that
    stops running stops updating every per-process metric; only a reading of
    the database at scrape time can say it went quiet."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return self._families()

    def collect(self) -> Iterable[GaugeMetricFamily]:
        from integrations.staleness import QuietReason, check_freshness
        from intmon.db import utcnow

        stale, age, by_reason = self._families()
        try:
            fresh = check_freshness(self.engine, (self.clock or utcnow)())
        except Exception:  # a scrape must not fail because the database is down
            return
        counts = dict.fromkeys(QuietReason, 0)
        for (integration, check), found in sorted(fresh.items()):
            stale.add_metric([integration, check], 1 if found.stale else 0)
            age.add_metric([integration, check], found.seconds_since_result)
            if found.reason is not None:
                counts[found.reason] += 1
        for reason, count in counts.items():
            by_reason.add_metric([reason.value], count)
        yield from (stale, age, by_reason)

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                "intmon_check_stale",
                "1 when a check has produced no result for two of its intervals.",
                labels=["integration", "check"],
            ),
            GaugeMetricFamily(
                "intmon_check_last_result_age_seconds",
                "Seconds since a check's last result (or its configuration, before any).",
                labels=["integration", "check"],
            ),
            GaugeMetricFamily(
                "intmon_checks_stale",
                "Stale checks by reason: budget (skipped by the partner's request budget), "
                "in_flight (the previous run is still running), no_worker (due, nothing ran it).",
                labels=["reason"],
            ),
        ]


class RetentionCollector(Collector):
    """The age of the oldest raw result, read when scraped: with retention working
    it stays under `results_retention_days` plus a day; growing past that, the
    retention pass is not running or failing."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [self._family()]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        from integrations.retention import oldest_result
        from intmon.db import utcnow

        family = self._family()
        try:
            oldest = oldest_result(self.engine)
        except Exception:  # a scrape must not fail because the database is down
            return
        if oldest is not None:
            family.add_metric([], ((self.clock or utcnow)() - oldest).total_seconds())
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "intmon_results_oldest_seconds",
            "Age of the oldest raw check result (retention keeps it within the "
            "retention days plus one).",
        )


class HistoryCollector(Collector):
    """Uptime over 24 h, 7 d and 30 d, SLO error budgets and burn rates, and how far
    behind the rollups are, read from the database when scraped (like
    `AlertsCollector`): from rollups, so a scrape sums a few thousand rows."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return self._families()

    def collect(self) -> Iterable[GaugeMetricFamily]:
        from integrations.rollups import lag_seconds
        from integrations.slo import active_integrations, slo_statuses, uptime_windows
        from intmon.db import utcnow

        uptime, budget, burn, lag = self._families()
        now = (self.clock or utcnow)()
        try:
            windows = uptime_windows(self.engine, now, active_integrations(self.engine))
            statuses = slo_statuses(self.engine, now)
            behind = lag_seconds(self.engine, now)
        except Exception:  # a scrape must not fail because the database is down
            return
        for window, found in windows.items():
            for integration, availability in sorted(found.items()):
                if availability.ratio is not None:
                    uptime.add_metric([integration, window], availability.ratio)
        for status in statuses:
            if status.budget_remaining is not None:
                budget.add_metric([status.integration_id], status.budget_remaining)
            for window, rate in status.burn_rates.items():
                if rate is not None:
                    burn.add_metric([status.integration_id, window], rate)
        if behind is not None:
            lag.add_metric([], behind)
        yield from (uptime, budget, burn, lag)

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                "intmon_uptime_ratio",
                "Share of counted results up (maintenance and platform outages excluded).",
                labels=["integration", "window"],
            ),
            GaugeMetricFamily(
                "intmon_slo_error_budget_remaining",
                "Share of the SLO's error budget left over its window (negative: overspent).",
                labels=["integration"],
            ),
            GaugeMetricFamily(
                "intmon_slo_burn_rate",
                "Failing share over the window divided by the SLO's allowed share.",
                labels=["integration", "window"],
            ),
            GaugeMetricFamily(
                "intmon_rollup_lag_seconds",
                "Seconds since the end of the last hour rolled up (at least this hour's age).",
            ),
        ]


class HeartbeatCollector(Collector):
    """Heartbeats (`integrations.heartbeats`), read from the database when scraped:
    the seconds since each one's last ping, and whether it is up. A job that stops
    pinging changes nothing in any process, so only a reading at scrape time can
    show the silence growing."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return self._families()

    def collect(self) -> Iterable[GaugeMetricFamily]:
        from integrations.heartbeats.models import HeartbeatState
        from integrations.heartbeats.store import list_heartbeats
        from intmon.db import utcnow

        last, up = self._families()
        try:
            views = list_heartbeats(self.engine)
        except Exception:  # a scrape must not fail because the database is down
            return
        now = (self.clock or utcnow)()
        for view in views:
            labels = [view.integration_id, view.name]
            if view.last_ping_at is not None:
                last.add_metric(labels, (now - view.last_ping_at).total_seconds())
            if view.state != HeartbeatState.NEW:
                up.add_metric(labels, 1 if view.state == HeartbeatState.UP else 0)
        yield from (last, up)

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                "intmon_heartbeat_last_seconds",
                "Seconds since a heartbeat's last successful ping (none before the first).",
                labels=["integration", "heartbeat"],
            ),
            GaugeMetricFamily(
                "intmon_heartbeat_up",
                "1 while a heartbeat pings on time; 0 once it missed its due time plus grace "
                "or its job pinged /fail (none before its first ping).",
                labels=["integration", "heartbeat"],
            ),
        ]


class PostbackCollector(Collector):
    """Postback monitors (`integrations.postbacks`), read from the database when
    scraped: the share of the leads each broker accepted in its window that it sent
    a postback about. No sample while no lead was accepted in the window (a ratio
    of nothing); `intmon postbacks list` says why."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [self._family()]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        from integrations.postbacks.monitor import monitor_views
        from integrations.registry import load_specs
        from intmon.db import utcnow

        ratio = self._family()
        try:
            specs = [registered.spec for registered in load_specs(self.engine).values()]
            views = monitor_views(self.engine, specs, (self.clock or utcnow)())
        except Exception:  # a scrape must not fail because the database is down
            return
        for view in views:
            if view.ratio is not None:
                ratio.add_metric([view.integration_id], view.ratio)
        yield ratio

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "intmon_postback_ratio",
            "Share (0-1) of the leads a broker accepted in its postback window that it sent "
            "a postback about (none while no lead was accepted in the window).",
            labels=["integration"],
        )


# This process's own check and scheduling metrics (in the default registry).
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
    retention_deleted,
)


def aggregate_registry(
    queue_depths: Callable[[], dict[str, int]] | None = None,
    engine: Engine | None = None,
) -> CollectorRegistry:
    """The registry `intmon metrics` and the API serve: every process's samples (or
    this process's, without a multiprocess dir), queue depth, and from the
    database the alerts stage's state and the stale checks."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.MultiProcessCollector(registry)
    else:
        # One process (the API without a multiprocess dir): its own samples, e.g.
        # of checks it ran on request, are all there is to serve.
        for metric in PROCESS_METRICS:
            registry.register(metric)
    if queue_depths is not None:
        registry.register(QueueDepthCollector(queue_depths))
    if engine is not None:
        registry.register(AlertsCollector(engine))
        registry.register(FreshnessCollector(engine))
        registry.register(RetentionCollector(engine))
        registry.register(HistoryCollector(engine))
        registry.register(HeartbeatCollector(engine))
        registry.register(PostbackCollector(engine))
    return registry


def mark_process_dead(pid: int) -> None:
    """Drop a finished process's live gauges (the scheduler calls it on exit)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(process_identifier(pid))


def observe_results(
    results: Sequence[CheckResult],
    *,
    every_check: bool = True,
    up_unknown: Collection[str] = (),
) -> None:
    """Update the check metrics for one batch of results.

    The up gauge is set from the batch's results: the scheduler keeps an
    integration's checks in one batch, so it sees all of them at once. A batch
    of some of an integration's checks (`every_check=False`) leaves it alone,
    and so do the integrations in `up_unknown` (some of their checks are still
    running).
    """
    for result in results:
        labels = (result.integration_id, result.check_name, result.outcome.value)
        check_results.labels(*labels).inc()
        check_duration.labels(*labels).observe(result.duration_s)
        if result.certificate_expires_at is not None:
            certificate_expiry.labels(result.integration_id).set(result.certificate_expires_at)
    if not every_check:
        return
    for integration, is_up in up_by_integration(results).items():
        if integration not in up_unknown:
            integration_up.labels(integration).set(1 if is_up else 0)


def up_by_integration(results: Iterable[CheckResult]) -> dict[str, bool]:
    """Integration id → whether every one of its results here is up."""
    up: dict[str, bool] = {}
    for result in results:
        up[result.integration_id] = up.get(result.integration_id, True) and result.outcome.is_up
    return up


def observe_checks(
    results: Sequence[CheckResult],
    *,
    skipped: Mapping[str, int] | None = None,
    up_unknown: Collection[str] = (),
    up: Mapping[str, bool] | None = None,
) -> None:
    """What a worker records for results it stored: counts, durations, schedule
    lag, skips, and the up gauge (from the results, or `up` where known better)."""
    observe_results(results, up_unknown=up_unknown)
    for integration, is_up in (up or {}).items():
        integration_up.labels(integration).set(1 if is_up else 0)
    for check in results:
        if check.scheduled_at is not None:
            lag = (check.started_at - check.scheduled_at).total_seconds()
            schedule_lag.observe(max(0.0, lag))
    for reason, count in (skipped or {}).items():
        checks_skipped.labels(reason=reason).inc(count)
