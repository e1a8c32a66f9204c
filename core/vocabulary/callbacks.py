"""A partner's postback to a scenario run, and the four answers it can get.

A scenario hands the partner `callback_url.<name>` = `{base}/callbacks/{run_id}/{name}`
and later waits for that callback:

    unknown run, or a name the run does not wait for   → 404 (`Delivery.UNKNOWN`)
    the run has ended                                  → 410 (`Delivery.ENDED`)
    first callback of that name                        → 200, stored (`ACCEPTED`)
    the partner sends it again                         → 200, ignored (`DUPLICATE`)

Plain data shared by the runner's inboxes (`checks.scenarios.inbox`), the
database store (`integrations.e2e_store`) and the API's `/callbacks` route.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["BODY_CAP_BYTES", "Callback", "Delivery"]

BODY_CAP_BYTES = 65_536


class Delivery(enum.StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    UNKNOWN = "unknown"
    ENDED = "ended"

    @property
    def http_status(self) -> int:
        return {"accepted": 200, "duplicate": 200, "unknown": 404, "ended": 410}[self.value]


@dataclass(frozen=True, slots=True)
class Callback:
    """One postback as received (the body capped at `BODY_CAP_BYTES`)."""

    name: str
    method: str
    received_at: datetime
    body: bytes = b""
    content_type: str = ""
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "method": self.method,
            "received_at": self.received_at.isoformat(),
            "content_type": self.content_type,
            "query": self.query,
            "headers": self.headers,
            "body": self.body.decode("utf-8", errors="replace"),
        }
