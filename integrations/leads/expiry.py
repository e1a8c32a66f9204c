"""Telling the platform that a lead expired: a JSON POST through the outbox.

The message is queued in the transaction that expires the lead, so it cannot be
lost; `send_expired` delivers due messages with the outbox's lease, backoff and
idempotency key (`Idempotency-Key` header), like every other outbound message.
The webhook's address obeys the egress policy (`core.egress`): one it refuses
fails the message permanently.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Connection, Engine

from core import outbox
from core.egress import denial_in
from core.egress_http import guarded_client
from integrations.config import IntegrationSpec

log = logging.getLogger(__name__)
TARGET = "lead-expired"


def announce(connection: Connection, spec: IntegrationSpec, lead: Any, now: datetime) -> None:
    delivery = spec.delivery
    if delivery is None or delivery.expired_webhook is None:
        return
    outbox.enqueue(
        connection,
        target=TARGET,
        kind="lead.expired",
        aggregate=f"lead:{spec.id}:{lead.lead_id}",
        payload={
            "url": delivery.expired_webhook,
            "event": "lead.expired",
            "integration": spec.id,
            "lead_id": lead.lead_id,
            "received_at": lead.received_at.isoformat(),
            "expired_at": now.isoformat(),
            "last_outcome": lead.last_outcome,
        },
        now=now,
    )


def send_expired(engine: Engine, now: datetime, *, timeout_s: float = 10.0) -> int:
    """Send due expiry messages; returns how many were accepted."""
    sent = 0
    messages = outbox.claim(engine, [TARGET], now)
    if not messages:
        return 0
    with guarded_client(timeout=timeout_s, follow_redirects=False) as client:
        for message in messages:
            body = {k: v for k, v in message.payload.items() if k != "url"}
            try:
                response = client.post(
                    message.payload["url"],
                    json=body,
                    headers={"Idempotency-Key": message.idempotency_key},
                )
            except httpx.HTTPError as exc:
                denial = denial_in(exc)
                reason = f"{type(exc).__name__}: {exc}" if denial is None else str(denial)
                outbox.mark_failed(engine, message, now, reason, permanent=denial is not None)
                continue
            if response.is_success:
                outbox.mark_sent(engine, message, now)
                sent += 1
            else:
                permanent = 400 <= response.status_code < 500 and response.status_code != 429
                outbox.mark_failed(
                    engine, message, now, f"HTTP {response.status_code}", permanent=permanent
                )
    return sent
