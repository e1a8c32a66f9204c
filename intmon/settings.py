"""Settings from the environment (`INTMON_*`), the one place modes are chosen.

With nothing set, intmon runs embedded: SQLite in the working directory and an
in-process broker. `INTMON_DATABASE_URL` and `INTMON_REDIS_URL` switch to
PostgreSQL and Redis; tests choose their backends through these same settings.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTMON_", extra="ignore")

    database_url: str = "sqlite:///intmon.db"
    # None means embedded: in-process broker, in-memory leader lock.
    redis_url: str | None = None
    # Prefix of every Redis key and dramatiq queue, so several deployments
    # (or test runs) can share one Redis.
    namespace: str = "intmon"

    # Checks per dramatiq message; chosen by bench/checks.py (see README).
    batch_size: int = Field(default=50, ge=1, le=1000)
    scheduler_tick_s: float = Field(default=0.1, gt=0, le=5)
    # How often the scheduler re-reads the registry to pick up `intmon apply`.
    registry_refresh_s: float = Field(default=5.0, gt=0)
    leader_ttl_s: float = Field(default=5.0, gt=0)
    # An idle dramatiq consumer backs off up to this long between polls of Redis;
    # dramatiq's default (1 s) would add up to a second of schedule lag.
    worker_poll_ms: int = Field(default=50, ge=10, le=5000)
    # Each check runs at a stable offset inside its interval (a hash of its key),
    # so checks sharing an interval spread out instead of firing together. The
    # offsets cover this fraction of the interval: 1.0 spreads them evenly.
    phase_spread: float = Field(default=1.0, ge=0, le=1)

    http_transport: Literal["aiohttp", "httpx"] = "aiohttp"
    keepalive: bool = True
    max_connections: int = Field(default=512, ge=1)
    max_connections_per_host: int = Field(default=32, ge=1)
    body_cap_bytes: int = Field(default=65_536, ge=1024)

    metrics_port: int = 9464
    # Where worker processes write their metric samples for `intmon metrics` to
    # aggregate (PROMETHEUS_MULTIPROC_DIR wins when set).
    metrics_dir: str = ".intmon/metrics"
    metrics_host: str = "127.0.0.1"
    log_level: str = "INFO"

    @property
    def embedded(self) -> bool:
        return self.redis_url is None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
