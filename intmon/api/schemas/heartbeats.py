"""What `GET /api/heartbeats` answers (integrations.heartbeats.store.HeartbeatView)."""

from __future__ import annotations

from pydantic import Field

from intmon.api.schemas.common import Answer, Timestamp


class Heartbeat(Answer):
    """A job that pings intmon: its schedule, its state and the URL it pings."""

    integration_id: str
    name: str
    check_name: str = Field(description="The check its results are stored under.")
    state: str = Field(description="new (no ping yet), up, missed or failed.")
    period_s: float | None = Field(description="Expected every this many seconds; or schedule.")
    schedule: str | None = Field(description="A cron schedule, read in `timezone`.")
    timezone: str | None
    grace_s: float
    last_ping_at: Timestamp | None
    last_start_at: Timestamp | None
    last_fail_at: Timestamp | None
    next_due_at: Timestamp | None
    last_body: str = Field(description="The redacted head of the last /fail body.")
    ping_url: str = Field(description="Absolute with INTMON_PUBLIC_URL set; the key is secret.")
