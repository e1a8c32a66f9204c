"""Long-running processes: `run` (all-in-one), `scheduler`, `worker`, `metrics`, `migrate`."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from core.logs import setup_logging
from intmon.cli.output import EXIT_BAD_INPUT, console, errors

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def register(app: typer.Typer) -> None:
    app.command()(migrate)
    app.command()(run)
    app.command()(scheduler)
    app.command()(worker)
    app.command()(metrics)


def migrate() -> None:
    """Create or upgrade the database schema (Alembic, to head)."""
    from intmon.cli.database import open_database
    from intmon.migrations import current_revision

    engine = open_database(migrate=True)
    console.print(f"database at revision {current_revision(engine)}")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _require_redis() -> None:
    from core.settings import get_settings

    if not get_settings().redis_url:
        errors.print(
            "[red]this process needs INTMON_REDIS_URL; for one machine without "
            "services use `intmon run`[/red]"
        )
        raise typer.Exit(EXIT_BAD_INPUT)


def run(
    file: Annotated[Path | None, typer.Argument(help="Integrations file to apply first.")] = None,
    threads: Annotated[int, typer.Option(help="In-process worker threads.")] = 4,
    metrics_port: Annotated[int | None, typer.Option(help="Serve /metrics here (0: off).")] = None,
) -> None:
    """Everything in one process: scheduler, worker threads and /metrics (SQLite by default)."""
    from core.gc_tuning import tune_gc
    from core.settings import get_settings
    from intmon.embedded import Embedded

    settings = get_settings()
    setup_logging(settings.log_level)
    port = settings.metrics_port if metrics_port is None else metrics_port
    with Embedded(settings, config_file=file, worker_threads=threads) as embedded:
        tune_gc()
        if port:
            embedded.serve_metrics(port, settings.metrics_host)
            console.print(f"metrics on http://{settings.metrics_host}:{port}/metrics")
        console.print(f"checking {embedded.scheduler.check_count} checks; Ctrl-C to stop")
        embedded.run_until(_stop_on_signals())


def scheduler() -> None:
    """The scheduler process (production). Several may run: one leads, the others wait."""
    from core.gc_tuning import tune_gc
    from core.metrics import mark_process_dead
    from core.settings import get_settings
    from intmon.cli.database import open_database
    from worker.broker import get_broker
    from worker.runtime import coordinator_for
    from worker.scheduler import Scheduler

    _require_redis()
    settings = get_settings()
    setup_logging(settings.log_level)
    schedule = Scheduler(
        open_database(migrate=False),
        get_broker(),
        coordinator_for(settings.redis_url, settings.namespace, settings.leader_ttl_s),
        batch_size=settings.batch_size,
        spread=settings.phase_spread,
        takeover_lookback_s=settings.leader_ttl_s,
        housekeeping_s=settings.housekeeping_interval_s,
        leads_s=settings.lead_dispatch_interval_s,
        heartbeats_s=settings.heartbeat_check_interval_s,
        postbacks_s=settings.postback_check_interval_s,
    )
    tune_gc()
    console.print("scheduler started; waiting for the leader lock")
    try:
        schedule.run(_stop_on_signals(), settings.scheduler_tick_s, settings.registry_refresh_s)
    finally:
        mark_process_dead(os.getpid())


def worker(
    processes: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    threads: Annotated[
        int, typer.Option(help="Threads per process for the checks (each runs one batch).")
    ] = 2,
    other_threads: Annotated[
        int | None,
        typer.Option(
            help="Threads per process for the alerts, leads and e2e queues "
            "(default INTMON_OTHER_QUEUE_THREADS, 2; 0: they share the checks' threads).",
            min=0,
        ),
    ] = None,
) -> None:
    """dramatiq worker processes on Redis (production)."""
    from core.settings import get_settings

    _require_redis()
    if other_threads is not None:
        # Read by each worker process when it builds its broker (worker.broker).
        os.environ["INTMON_OTHER_QUEUE_THREADS"] = str(other_threads)
        get_settings.cache_clear()
    settings = get_settings()
    # Read by dramatiq when its worker module is imported, so set before that. The
    # broker gives each queue's consumer its own poll (worker.broker); this is how
    # often idle worker threads wake up, which only bounds how fast they stop.
    os.environ.setdefault("dramatiq_worker_timeout", str(settings.worker_idle_poll_ms))
    os.environ.setdefault(MULTIPROC_ENV, str(Path(settings.metrics_dir).resolve()))
    Path(os.environ[MULTIPROC_ENV]).mkdir(parents=True, exist_ok=True)
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    from worker.batch import CHECKS_QUEUE
    from worker.broker import other_queues

    # The other queues get threads of their own in each process when asked for
    # (worker/middleware/other_queues.py); dramatiq's own threads then serve checks.
    queues = [CHECKS_QUEUE]
    if settings.other_queue_threads == 0:
        queues += sorted(other_queues())
    command = ["worker.actors", "--processes", str(processes), "--threads", str(threads)]
    args = make_argument_parser().parse_args([*command, "--queues", *queues])
    raise typer.Exit(dramatiq_main(args))


def metrics(
    port: Annotated[int, typer.Option(help="Port to serve /metrics and /healthz on.")] = 9464,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "0.0.0.0",
) -> None:
    """Serve the metrics of every worker process (multiprocess dir) plus queue depth."""
    from core.settings import get_settings

    settings = get_settings()
    os.environ.setdefault(MULTIPROC_ENV, str(Path(settings.metrics_dir).resolve()))
    Path(os.environ[MULTIPROC_ENV]).mkdir(parents=True, exist_ok=True)
    setup_logging(settings.log_level)

    from intmon.metrics import aggregate_registry
    from intmon.metrics_server import MetricsServer
    from worker.batch import CHECKS_QUEUE, HOUSEKEEPING_QUEUE, LEADS_QUEUE
    from worker.broker import get_broker, queue_depths

    broker = get_broker() if settings.redis_url else None
    from core.db import engine_for

    registry = aggregate_registry(
        (lambda: queue_depths(broker, [CHECKS_QUEUE, HOUSEKEEPING_QUEUE, LEADS_QUEUE]))
        if broker is not None
        else None,
        engine_for(settings.database_url),
    )
    server = MetricsServer(registry, host, port)
    server.start()
    console.print(f"metrics on http://{host}:{server.port}/metrics")
    _stop_on_signals().wait()
    server.stop()
