"""Per-process resources the actors use: database engine, spec cache, probe engine,
coordinator, and the writer of checks that outlive their batch.

Built lazily from settings the first time an actor runs in a process (after
dramatiq forks its workers), so importing the actor module stays cheap.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache

import redis
from sqlalchemy import Engine

from checks.engine import ProbeSettings
from checks.loop import EngineThread
from core.db import engine_for
from core.logs import quiet_http_client_logs
from core.settings import Settings, get_settings
from integrations.partner_budget import MemoryBudget, PartnerBudget, RedisBudget
from integrations.registry import SpecCache
from integrations.skips import SkipLog
from worker.coordination import Coordinator
from worker.coordination.memory import MemoryCoordinator
from worker.coordination.redis import RedisCoordinator
from worker.late import LateResults


@dataclass
class Runtime:
    settings: Settings
    db: Engine
    coordinator: Coordinator
    specs: SpecCache
    probes: EngineThread
    # The partners' request budgets (Redis-backed in production: shared by processes).
    budget: PartnerBudget = field(default_factory=MemoryBudget)
    # Checks the budget skipped, written in batches (shown once they go stale).
    skips: SkipLog = field(default_factory=SkipLog)
    # Stores checks still running when their batch stopped waiting (worker.late).
    late: LateResults = field(init=False)

    def __post_init__(self) -> None:
        from worker.pipeline import store_late  # the pipeline needs a Runtime itself

        self.late = LateResults(lambda batch: store_late(self, batch))

    def close(self) -> None:
        # Stragglers first: they end on the engine's loop.
        self.late.close(timeout=self.settings.batch_wait_s + 5.0)
        self.probes.close()


def probe_settings(settings: Settings) -> ProbeSettings:
    return ProbeSettings(
        transport=settings.http_transport,
        event_loop=settings.event_loop,
        keepalive=settings.keepalive,
        max_connections=settings.max_connections,
        max_connections_per_host=settings.max_connections_per_host,
        body_cap_bytes=settings.body_cap_bytes,
        contract_sample_s=settings.contract_sample_s,
        egress=settings.egress_policy(),
    )


@lru_cache(maxsize=4)
def coordinator_for(redis_url: str | None, namespace: str, ttl_s: float) -> Coordinator:
    """One coordinator per process and backend: in the embedded mode the scheduler
    and the in-process workers must share the same in-memory claims."""
    if redis_url is None:
        return MemoryCoordinator()
    return RedisCoordinator(redis.Redis.from_url(redis_url), namespace, ttl_s)


def build_runtime(settings: Settings) -> Runtime:
    quiet_http_client_logs()
    db = engine_for(settings.database_url)
    return Runtime(
        settings=settings,
        db=db,
        coordinator=coordinator_for(settings.redis_url, settings.namespace, settings.leader_ttl_s),
        specs=SpecCache(db),
        probes=EngineThread(probe_settings(settings)),
        budget=budget_for(settings.redis_url, settings.namespace),
    )


@lru_cache(maxsize=4)
def budget_for(redis_url: str | None, namespace: str) -> PartnerBudget:
    if redis_url is None:
        return MemoryBudget()
    return RedisBudget(redis.Redis.from_url(redis_url), namespace)


_lock = threading.Lock()
_runtime: tuple[int, Runtime] | None = None


def runtime() -> Runtime:
    """This process's runtime (re-created in a forked child)."""
    global _runtime
    with _lock:
        if _runtime is None or _runtime[0] != os.getpid():
            _runtime = (os.getpid(), build_runtime(get_settings()))
        return _runtime[1]


def current_runtime() -> Runtime | None:
    """This process's runtime if one was built, without building one."""
    with _lock:
        if _runtime is None or _runtime[0] != os.getpid():
            return None
        return _runtime[1]


def _reset_after_fork() -> None:
    # A lock held by another thread at fork time would stay held in the child.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def install(rt: Runtime) -> None:
    """Use `rt` in this process (the embedded mode and tests build their own)."""
    global _runtime
    with _lock:
        _runtime = (os.getpid(), rt)
