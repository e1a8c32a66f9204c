"""The embedded mode: scheduler, dramatiq worker threads and metrics in one process.

The same scheduler, actor, middleware and storage code as production; only the
backends differ (in-process broker and coordinator, SQLite by default), chosen
by settings. `intmon run` and `intmon demo` are built on it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

import dramatiq
from prometheus_client import REGISTRY

from core.db import engine_for
from core.settings import Settings
from integrations.apply import ApplyReport
from integrations.config import IntegrationsFile
from intmon.config_file import apply_config, load_config
from intmon.metrics import AlertsCollector, QueueDepthCollector
from intmon.metrics_server import MetricsServer
from intmon.migrations import upgrade
from worker.batch import CHECKS_QUEUE, E2E_QUEUE, HOUSEKEEPING_QUEUE, LEADS_QUEUE
from worker.broker import build_broker, get_broker, install_broker, queue_depths
from worker.runtime import Runtime, build_runtime, install
from worker.scheduler import Scheduler

_queue_depth_registered = False
_alerts_collector: AlertsCollector | None = None


class Embedded:
    def __init__(
        self,
        settings: Settings,
        *,
        config_file: Path | None = None,
        config: IntegrationsFile | None = None,
        worker_threads: int = 4,
    ) -> None:
        self.settings = settings
        self.config = load_config(config_file) if config_file is not None else config
        self.worker_threads = worker_threads
        self.apply_report: ApplyReport | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._metrics: MetricsServer | None = None

    def __enter__(self) -> Embedded:
        self.db = engine_for(self.settings.database_url)
        upgrade(self.db)
        if self.config is not None:
            self.apply_report = apply_config(self.db, self.config)
        self.runtime: Runtime = build_runtime(self.settings)
        install(self.runtime)
        self.broker = build_broker(self.settings)
        install_broker(self.broker)
        import worker.actors

        if worker.actors.run_checks_actor.broker is not self.broker:
            worker.actors.declare(self.broker)

        self.worker = dramatiq.Worker(
            self.broker,
            worker_threads=self.worker_threads,
            queues={CHECKS_QUEUE, HOUSEKEEPING_QUEUE, LEADS_QUEUE, E2E_QUEUE},
            worker_timeout=self.settings.worker_poll_ms,
        )
        self.worker.start()
        self.scheduler = Scheduler(
            self.db,
            self.broker,
            self.runtime.coordinator,
            batch_size=self.settings.batch_size,
            spread=self.settings.phase_spread,
            takeover_lookback_s=self.settings.leader_ttl_s,
            housekeeping_s=self.settings.housekeeping_interval_s,
            leads_s=self.settings.lead_dispatch_interval_s,
            heartbeats_s=self.settings.heartbeat_check_interval_s,
            postbacks_s=self.settings.postback_check_interval_s,
        )
        self.scheduler.refresh()
        return self

    def run_until(self, stop: threading.Event) -> None:
        """Schedule in this thread until `stop` is set."""
        self.scheduler.run(stop, self.settings.scheduler_tick_s, self.settings.registry_refresh_s)

    def start(self) -> Embedded:
        """Schedule in a background thread (the demo and tests drive it this way)."""
        self._thread = threading.Thread(
            target=self.run_until, args=(self._stop,), name="scheduler", daemon=True
        )
        self._thread.start()
        return self

    def serve_metrics(self, port: int, host: str = "127.0.0.1") -> MetricsServer:
        global _queue_depth_registered, _alerts_collector
        if not _queue_depth_registered:
            # The default registry lives as long as the process; read the broker
            # installed now, not the one of the first Embedded that served metrics.
            REGISTRY.register(
                QueueDepthCollector(lambda: queue_depths(get_broker(), [CHECKS_QUEUE]))
            )
            _queue_depth_registered = True
        if _alerts_collector is None:
            _alerts_collector = AlertsCollector(self.db)
            REGISTRY.register(_alerts_collector)
        _alerts_collector.engine = self.db  # the database of this Embedded
        self._metrics = MetricsServer(REGISTRY, host, port).start()
        return self._metrics

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.worker.stop()
        if self._metrics is not None:
            self._metrics.stop()
        self.runtime.close()
