"""Settings from the environment (`INTMON_*`), the one place modes are chosen.

With nothing set, intmon runs embedded: SQLite in the working directory and an
in-process broker. `INTMON_DATABASE_URL` and `INTMON_REDIS_URL` switch to
PostgreSQL and Redis; tests choose their backends through these same settings.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.egress import EgressPolicy
from core.limits import Rate, parse_rate

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str) -> tuple[Network, ...]:
    """`10.0.0.0/8, 127.0.0.1` → networks; ValueError names the entry it cannot read."""
    networks = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network (CIDR)") from None
    return tuple(networks)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTMON_", extra="ignore")

    database_url: str = "sqlite:///core.db"
    # None means embedded: in-process broker, in-memory leader lock.
    redis_url: str | None = None
    # Prefix of every Redis key and dramatiq queue, so several deployments
    # (or test runs) can share one Redis.
    namespace: str = "intmon"

    # Checks per dramatiq message. Every batch has a fixed cost (a message, two Lua
    # calls for its claims, a transaction, metric writes): 200 a batch cost a worker
    # a quarter less CPU per check than 50 (docs/benchmarks.md, issue 27).
    batch_size: int = Field(default=200, ge=1, le=1000)
    # How long a batch's thread waits for its checks. Those still running then
    # (a partner slow to answer, or not answering at all) are stored by the
    # process's late-result writer when they end, and the thread takes the next
    # message: a dead partner holds its own check, not the batch. Short, because a
    # worker has few check threads (`intmon worker --threads`, 2): a thread held a
    # second by one slow answer is half a process's checks held with it.
    batch_wait_s: float = Field(default=0.25, gt=0, le=60)
    # The most checks a worker process keeps running past their batch's wait.
    # Beyond it a batch waits for its own checks, so a process whose partners
    # are all slow stops taking messages instead of piling up runs.
    late_checks_max: int = Field(default=512, ge=0)
    scheduler_tick_s: float = Field(default=0.1, gt=0, le=5)
    # How often the scheduler re-reads the registry to pick up `intmon apply`.
    registry_refresh_s: float = Field(default=5.0, gt=0)
    leader_ttl_s: float = Field(default=5.0, gt=0)
    # An idle dramatiq consumer of the checks queue backs off up to this long
    # between polls of Redis; dramatiq's default (1 s) would add up to a second of
    # schedule lag.
    worker_poll_ms: int = Field(default=50, ge=10, le=5000)
    # The same for every other queue (alerts, leads, e2e and the delay queues).
    # Each poll is a Lua call costing the worker about 0.5 ms of CPU; polling all
    # eight queues every 50 ms cost an idle worker process 10% of a core.
    worker_idle_poll_ms: int = Field(default=250, ge=10, le=5000)
    # Threads per worker process for the alerts, leads and e2e queues, beside the
    # checks queue's own (`intmon worker --threads`): a long lead pass or scenario
    # never holds a check thread (worker/middleware/other_queues.py). 0 serves
    # every queue on the checks' threads, as dramatiq does by default.
    other_queue_threads: int = Field(default=2, ge=0, le=64)
    # Each check runs at a stable offset inside its interval (a hash of its key),
    # so checks sharing an interval spread out instead of firing together. The
    # offsets cover this fraction of the interval: 1.0 spreads them evenly.
    phase_spread: float = Field(default=1.0, ge=0, le=1)

    http_transport: Literal["native", "curl", "aiohttp", "httpx"] = "native"
    # The probe engine's event loop (checks.engine.ProbeSettings.event_loop).
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    keepalive: bool = True
    max_connections: int = Field(default=512, ge=1)
    max_connections_per_host: int = Field(default=32, ge=1)
    body_cap_bytes: int = Field(default=65_536, ge=1024)
    # How often a passing answer's shape refreshes a check's learned contract
    # (checks.contract); auth and contract failures are always shaped.
    contract_sample_s: float = Field(default=300.0, ge=0)
    # Internal ranges outbound requests may reach (README, "Security: egress policy"):
    # comma-separated CIDRs. Empty: loopback, private, link-local, CGNAT and the
    # other non-global ranges are refused at connect time, redirects included.
    egress_allow: str = ""

    metrics_port: int = 9464
    # Where worker processes write their metric samples for `intmon metrics` to
    # aggregate (PROMETHEUS_MULTIPROC_DIR wins when set).
    metrics_dir: str = ".intmon/metrics"
    metrics_host: str = "127.0.0.1"
    log_level: str = "INFO"

    # Incidents and tickets (alerts/policy.py explains each; defaults from the seeds).
    sla_standard_h: float = Field(default=24.0, gt=0)
    sla_premium_h: float = Field(default=3.0, gt=0)
    auto_close_after_h: float = Field(default=48.0, gt=0)
    reopen_window_h: float = Field(default=24.0, ge=0)
    flap_window_s: float = Field(default=3600.0, ge=0)
    flap_threshold: int = Field(default=3, ge=1)
    auto_close_recovered: bool = True
    # Base URL of the web console and the API (https://intmon.example.com): every
    # e-mail links to the ticket and integration pages there, and the API's answers
    # carry absolute links from it; unset, mails name the CLI command and API links
    # use the address the request came to.
    public_url: str | None = None
    # `intmon mail-in`, where replies to intmon's e-mails arrive (README, "Replies by
    # e-mail"): where it listens, and what it takes per message.
    mail_in_host: str = "127.0.0.1"
    mail_in_port: int = Field(default=2525, ge=0, le=65535)
    mail_in_max_bytes: int = Field(default=10 * 1024 * 1024, ge=64 * 1024)
    mail_in_max_recipients: int = Field(default=20, ge=1, le=1000)
    # How often the leader runs the SLA sweep, auto-close, outbox, sync-back and retention.
    housekeeping_interval_s: float = Field(default=10.0, gt=0)
    # How long rollups of check results are kept (integrations/rollups.py): hour
    # rows for the latency chart and recent uptime, day rows for long periods.
    rollup_hour_retention_days: float = Field(default=90.0, gt=0)
    rollup_day_retention_days: float = Field(default=730.0, gt=0)

    # Raw check results are kept this many whole UTC days (README, "Retention");
    # on PostgreSQL a day's partition is created this many days ahead.
    results_retention_days: int = Field(default=14, ge=1)
    results_partitions_ahead_days: int = Field(default=3, ge=1, le=60)
    # How often the leader looks for heartbeats past due + grace: a miss is
    # recorded at most this long (plus the alerts queue's wait) after the grace.
    heartbeat_check_interval_s: float = Field(default=2.0, gt=0, le=60)
    # How often the leader judges each broker's postback window (alerts/postback_watch.py).
    postback_check_interval_s: float = Field(default=60.0, gt=0, le=3600)

    # End-to-end scenarios (README, "End-to-end scenarios"). Where the API's
    # /callbacks is reachable by partners; unset: a worker running a scenario
    # receives its postbacks on its own listener at e2e_callback_host.
    e2e_callback_url: str | None = None
    e2e_callback_host: str = "127.0.0.1"
    # Hard caps of `intmon e2e load`, whatever is asked on the command line.
    e2e_load_max_rps: float = Field(default=500.0, gt=0)
    e2e_load_max_duration_s: float = Field(default=300.0, gt=0)
    e2e_load_max_concurrency: int = Field(default=256, ge=1)
    # How often the leader asks a worker to pass over the lead queue (retries,
    # released holds, replays); a submitted lead is sent at once regardless.
    lead_dispatch_interval_s: float = Field(default=2.0, gt=0)
    # A dispatcher holds an integration's lead queue this long; a killed one's
    # leads wait at most this long before another worker resends them.
    lead_lease_s: float = Field(default=30.0, gt=0)

    # Web console (intmon/web): the key that signs session cookies, given inline or
    # in a file; unset means a random key per process (sessions die with it).
    session_secret: SecretStr | None = None
    session_secret_file: Path | None = None
    # The console is reached over HTTPS (directly or through a TLS proxy): session
    # cookies are `Secure` and answers carry HSTS. Set it to false only to serve
    # the console on plain http (a local try-out; `intmon demo` does it itself).
    session_https_only: bool = True
    # The key of the uptime badges' secret links (/badge/<token>.svg): a token is an
    # HMAC of the integration id under it, so changing it revokes every link.
    # Unset: a key derived from the session secret (with a random session secret,
    # links change at every restart).
    badge_secret: SecretStr | None = None
    # Strict-Transport-Security max-age while session_https_only is on (0: no header).
    hsts_max_age_s: int = Field(default=365 * 86400, ge=0)
    # A console session ends this long after its login, however busy...
    session_max_age_s: int = Field(default=12 * 3600, ge=60)
    # ...and this long after its last request (an open page's auto-refresh counts).
    session_idle_timeout_s: int = Field(default=3600, ge=60)
    # Proxies whose X-Forwarded-For is believed (addresses or CIDRs, comma-separated),
    # for the login throttle's idea of who is asking. Default none: the peer is the address.
    trusted_proxies: str = ""
    # /metrics on the API's port: off (404) unless a token is set; Prometheus then
    # sends it as a bearer token. `intmon metrics` (its own port) needs none.
    api_metrics_token: SecretStr | None = None
    # The HTTP API and console refuse a request body over this many bytes (413) before
    # parsing it; 16 MiB fits the largest batch the API takes (50,000 lead attempts).
    api_max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024)
    # How often the board, lists and a ticket's thread refresh themselves.
    web_refresh_s: float = Field(default=15.0, ge=1)

    # Limits on the work one caller's requests trigger (README, "HTTP API"), as
    # COUNT/PERIOD (a bucket of COUNT refilled over PERIOD) or `off`. A client's
    # tokens share one bucket; support tokens get `limit_support_factor` times as much.
    limit_checks_run: str = "10/min"
    limit_e2e_runs: str = "10/min"
    limit_leads: str = "600/min"
    limit_lead_deliveries: str = "600/min"
    # Per ping key (heartbeats: no login, the key pays); a job pings a few times a run.
    limit_pings: str = "120/min"
    # Per integration, counted once a postback is authentic (so a forger cannot spend a
    # broker's bucket): a broker's retry loop is slowed down, not its neighbours.
    limit_postbacks: str = "1200/min"
    limit_support_factor: int = Field(default=10, ge=1)
    # Without Redis the API runs triggered scenarios in its own threads: at most this
    # many at once (429 beyond); with Redis they queue for the workers.
    e2e_api_concurrency: int = Field(default=4, ge=1)

    @field_validator(
        "limit_checks_run",
        "limit_e2e_runs",
        "limit_leads",
        "limit_lead_deliveries",
        "limit_pings",
        "limit_postbacks",
    )
    @classmethod
    def _a_rate(cls, value: str) -> str:
        parse_rate(value)  # refuses at start-up, naming the setting, rather than per request
        return value

    def limit(self, action: str) -> Rate | None:
        """The limit on `action` (checks_run, e2e_runs, leads, lead_deliveries, pings,
        postbacks);
        None: off."""
        text: str = getattr(self, f"limit_{action}")
        return parse_rate(text)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        parse_networks(value)  # a ValueError here names the entry and the field
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    @field_validator("egress_allow")
    @classmethod
    def _valid_egress_allow(cls, value: str) -> str:
        EgressPolicy.parse(value, field="egress_allow")  # names the bad entry
        return value

    def egress_policy(self) -> EgressPolicy:
        return EgressPolicy.parse(self.egress_allow)

    @model_validator(mode="after")
    def _day_rows_outlive_hour_rows(self) -> Settings:
        if self.rollup_day_retention_days < self.rollup_hour_retention_days:
            raise ValueError(
                "rollup_day_retention_days must be at least rollup_hour_retention_days: "
                "periods older than the hour rows are read from the day rows"
            )
        return self

    @property
    def embedded(self) -> bool:
        return self.redis_url is None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
