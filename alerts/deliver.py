"""Sending queued notifications: render, group into digests, send, record.

Rows for one recipient on one channel that are due together become one digest
(a burst of incidents for a client is one mail, not fifty). A send that fails
is retried with backoff from the row's attempts and never dropped; a permanent
failure is kept with its reason (`intmon notifications list --status dead`).
The e-mail's Message-ID is the row's idempotency key, so the rare resend after a
worker died between the SMTP server's "250 OK" and our commit carries the same
Message-ID and is collapsed by the receiving mail system.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from alerts import outbox
from alerts.channels import Channel, ChannelError, Notice, Recipient
from alerts.notify import TARGET_PREFIX
from alerts.render import render
from integrations.secrets import resolve

log = logging.getLogger(__name__)
LEASE_S = 120.0


def deliver(
    engine: Engine, channels: Mapping[str, Channel], now: datetime, *, limit: int = 200
) -> outbox.DispatchReport:
    report = outbox.DispatchReport()
    targets = [TARGET_PREFIX + kind for kind in channels]
    claimed = outbox.claim(engine, targets, now, limit=limit, lease_s=LEASE_S)
    groups: dict[tuple[str, str], list[outbox.Claimed]] = defaultdict(list)
    for message in claimed:
        groups[(message.target, _address(message))].append(message)
    for (target, _), messages in groups.items():
        channel = channels[target.removeprefix(TARGET_PREFIX)]
        try:
            recipient = _recipient(messages[0].payload["recipient"])
            channel.send(recipient, _notice(messages, recipient))
        except (ChannelError, ValueError) as error:
            permanent = getattr(error, "permanent", True)
            wait = timedelta(seconds=getattr(error, "retry_after_s", None) or 0)
            for message in messages:
                dead = outbox.mark_failed(
                    engine, message, now, str(error), permanent=permanent, wait=wait
                )
                report.dead += dead
                report.retried += not dead
            report.errors.append(f"{target}: {error}")
            log.warning("notification via %s failed: %s", target, error)
            continue
        for message in messages:
            outbox.mark_sent(engine, message, now)
        report.sent += len(messages)
    return report


def _address(message: outbox.Claimed) -> str:
    recipient = message.payload["recipient"]
    kind = message.target.removeprefix(TARGET_PREFIX)
    field = {"email": "email", "webhook": "webhook_url", "slack": "slack_webhook_url"}.get(
        kind, "telegram_chat"
    )
    return str(recipient.get(field) or recipient["name"])


def _recipient(data: Mapping[str, Any]) -> Recipient:
    slack = data.get("slack_webhook_url")
    return Recipient(
        name=data["name"],
        email=data.get("email"),
        webhook_url=data.get("webhook_url"),
        # Stored as a ${ENV} reference (the URL carries a token); read it now.
        slack_webhook_url=resolve(slack, set()) if slack else None,
        telegram_chat=data.get("telegram_chat"),
        locale=data.get("locale") or "en",
    )


def _notice(messages: list[outbox.Claimed], recipient: Recipient) -> Notice:
    first = messages[0]
    if len(messages) == 1:
        event, context = first.payload["event"], first.payload["context"]
        rendered = render(event, recipient.locale, _with_zone(context, first))
        data = {"event": event, **context}
    else:
        items = [{"event": m.payload["event"], **m.payload["context"]} for m in messages]
        rendered = render("digest", recipient.locale, _with_zone({"items": items}, first))
        data = {"event": "digest", "items": items}
    return Notice(
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        idempotency_key=first.idempotency_key,
        data=data,
    )


def _with_zone(context: Mapping[str, Any], message: outbox.Claimed) -> dict[str, Any]:
    return {**context, "timezone": message.payload["recipient"].get("timezone")}
