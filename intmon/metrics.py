"""What `intmon metrics` and the API's /metrics serve: every process's samples plus
collectors that read the database and the queues when scraped (so their numbers
are never stale). The metric objects themselves are `core.metrics`.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Callable, Iterable
from datetime import datetime

from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from core.metrics import MULTIPROC_ENV, PROCESS_METRICS


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


class DatabaseCollector(Collector):
    """A collector that reads the database when scraped: one process answers for the
    whole deployment, so these numbers are not summed over workers, survive their
    restarts and are never stale. A subclass names its families (`families`, also
    what registering describes, reading no database) and fills them (`fill`); a
    scrape must not fail because the database is down, so a failed read serves
    nothing of this collector."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock

    @staticmethod
    @abstractmethod
    def families() -> list[GaugeMetricFamily]:
        """The families, without samples."""

    @abstractmethod
    def fill(self, families: list[GaugeMetricFamily], now: datetime) -> None:
        """Add this scrape's samples to `families`, reading the database."""

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return self.families()

    def collect(self) -> Iterable[GaugeMetricFamily]:
        from core.db import utcnow

        families = self.families()
        try:
            self.fill(families, (self.clock or utcnow)())
        except Exception:
            return
        yield from families


class AlertsCollector(DatabaseCollector):
    """Open incidents, tickets, SLA breaches and the outbox."""

    @staticmethod
    def families() -> list[GaugeMetricFamily]:
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

    def fill(self, families: list[GaugeMetricFamily], now: datetime) -> None:
        from alerts.queries import alert_counts

        incidents, tickets, breached, pending, dead, outage = families
        counts = alert_counts(self.engine)
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


class FreshnessCollector(DatabaseCollector):
    """Stale checks (`integrations.staleness`): whether each configured check is
    stale, the seconds since its last result, and how many are stale for each
    reason. A check that stops running stops updating every per-process metric;
    only a reading of the database at scrape time can say it went quiet."""

    @staticmethod
    def families() -> list[GaugeMetricFamily]:
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

    def fill(self, families: list[GaugeMetricFamily], now: datetime) -> None:
        from integrations.staleness import QuietReason, check_freshness

        stale, age, by_reason = families
        counts = dict.fromkeys(QuietReason, 0)
        for (integration, check), found in sorted(check_freshness(self.engine, now).items()):
            stale.add_metric([integration, check], 1 if found.stale else 0)
            age.add_metric([integration, check], found.seconds_since_result)
            if found.reason is not None:
                counts[found.reason] += 1
        for reason, count in counts.items():
            by_reason.add_metric([reason.value], count)


class RetentionCollector(DatabaseCollector):
    """The age of the oldest raw result: with retention working it stays under
    `results_retention_days` plus a day; growing past that, the retention pass is
    not running or failing."""

    @staticmethod
    def families() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                "intmon_results_oldest_seconds",
                "Age of the oldest raw check result (retention keeps it within the "
                "retention days plus one).",
            )
        ]

    def fill(self, families: list[GaugeMetricFamily], now: datetime) -> None:
        from integrations.retention import oldest_result

        oldest = oldest_result(self.engine)
        if oldest is not None:
            families[0].add_metric([], (now - oldest).total_seconds())


class HistoryCollector(DatabaseCollector):
    """Uptime over 24 h, 7 d and 30 d, SLO error budgets and burn rates, and how far
    behind the rollups are: from rollups, so a scrape sums a few thousand rows."""

    @staticmethod
    def families() -> list[GaugeMetricFamily]:
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

    def fill(self, families: list[GaugeMetricFamily], now: datetime) -> None:
        from integrations.rollups import lag_seconds
        from integrations.slo import active_integrations, slo_statuses, uptime_windows

        uptime, budget, burn, lag = families
        windows = uptime_windows(self.engine, now, active_integrations(self.engine))
        statuses = slo_statuses(self.engine, now)
        behind = lag_seconds(self.engine, now)
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


class HeartbeatCollector(DatabaseCollector):
    """Heartbeats (`integrations.heartbeats`): the seconds since each one's last
    ping, and whether it is up. A job that stops pinging changes nothing in any
    process, so only a reading at scrape time can show the silence growing."""

    @staticmethod
    def families() -> list[GaugeMetricFamily]:
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

    def fill(self, families: list[GaugeMetricFamily], now: datetime) -> None:
        from integrations.heartbeats.models import HeartbeatState
        from integrations.heartbeats.store import list_heartbeats

        last, up = families
        for view in list_heartbeats(self.engine):
            labels = [view.integration_id, view.name]
            if view.last_ping_at is not None:
                last.add_metric(labels, (now - view.last_ping_at).total_seconds())
            if view.state != HeartbeatState.NEW:
                up.add_metric(labels, 1 if view.state == HeartbeatState.UP else 0)


class PostbackCollector(DatabaseCollector):
    """Postback monitors (`integrations.postbacks`): the share of the leads each
    broker accepted in its window that it sent a postback about. No sample while
    no lead was accepted in the window (a ratio of nothing); `intmon postbacks
    list` says why."""

    @staticmethod
    def families() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                "intmon_postback_ratio",
                "Share (0-1) of the leads a broker accepted in its postback window that it "
                "sent a postback about (none while no lead was accepted in the window).",
                labels=["integration"],
            )
        ]

    def fill(self, families: list[GaugeMetricFamily], now: datetime) -> None:
        from integrations.postbacks.monitor import monitor_views
        from integrations.registry import load_specs

        specs = [registered.spec for registered in load_specs(self.engine).values()]
        for view in monitor_views(self.engine, specs, now):
            if view.ratio is not None:
                families[0].add_metric([view.integration_id], view.ratio)


# This process's own check and scheduling metrics (in the default registry).


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
