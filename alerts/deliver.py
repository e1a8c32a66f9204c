"""Sending queued notifications: render, group into digests, send, record.

Rows for one recipient on one channel that are due together become one digest,
and after a message to someone, what else comes for them within the digest
window (`notifications.digest_window_s`, 5 min) waits for its end and goes out as
one digest: a burst of incidents for a client is one or two mails, not fifty.
Emergencies (an outage opening, an SLA breach, an escalation) are not held:
they go out when due, whatever was sent before (`alerts.routing.is_immediate`).
A send that fails is retried with backoff from the row's attempts and never
dropped; a permanent failure is kept with its reason (`intmon notifications list --status dead`).
The e-mail's Message-ID is the row's idempotency key, so the rare resend after a
worker died between the SMTP server's "250 OK" and our commit carries the same
Message-ID and is collapsed by the receiving mail system. A digest's key is
made of its messages' keys (`notice_key`), and its webhook body lists them.

Links: with `base_url` (INTMON_PUBLIC_URL, the web console) every message links to
the pages it talks about; without, it names the CLI command. A message about one
ticket, sent by a channel that takes replies (e-mail with `reply_to` set), carries
the ticket's reply tag (`alerts.reply_tokens`): the client's answer comes back to
`intmon mail-in` and becomes a comment. A message that is not a notification of an
event (`mail.reply`, intmon answering an e-mail) is never folded into a digest.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from alerts import documents, reply_tokens
from alerts.channels import Channel, ChannelError, Notice, Recipient
from alerts.contacts import CHANNEL_FIELDS, NotificationsConfig
from alerts.models import NotificationThrottle
from alerts.notify import TARGET_PREFIX
from alerts.render import DIGESTIBLE, render
from core import outbox
from core.db import table_of
from integrations.secrets import resolve

log = logging.getLogger(__name__)
LEASE_S = 120.0
THROTTLE = table_of(NotificationThrottle)


def deliver(
    engine: Engine,
    channels: Mapping[str, Channel],
    now: datetime,
    *,
    limit: int = 200,
    base_url: str | None = None,
) -> outbox.DispatchReport:
    """Send what is due; `base_url` is the web console the messages link to."""
    report = outbox.DispatchReport()
    targets = [TARGET_PREFIX + kind for kind in channels]
    claimed = outbox.claim(engine, targets, now, limit=limit, lease_s=LEASE_S)
    groups: dict[tuple[str, str, int], list[outbox.Claimed]] = defaultdict(list)
    for message in claimed:
        # An answer to an e-mail stands alone: a digest lists events, not answers.
        alone = 0 if message.payload["event"] in DIGESTIBLE else message.id
        groups[(message.target, _address(message), alone)].append(message)
    window = timedelta(seconds=_digest_window_s(engine))
    for (target, address, _alone), messages in groups.items():
        kind = target.removeprefix(TARGET_PREFIX)
        channel = channels[kind]
        resume = _throttled_until(engine, kind, address, now, window)
        if resume is not None:
            # Sent something to them moments ago: these wait for the window's end
            # and go out together as one digest, not one message each; except
            # emergencies, which never wait for a digest (`routing.is_immediate`).
            held = [m for m in messages if not m.payload.get("immediate")]
            if held:
                outbox.postpone(engine, held, resume)
                report.postponed += len(held)
            messages = [m for m in messages if m.payload.get("immediate")]
            if not messages:
                continue
        try:
            recipient = _recipient(messages[0].payload["recipient"])
            notice = _notice(messages, recipient, base_url)
            if channel.takes_replies:
                notice = reply_tokens.tagged(engine, notice, messages)
            channel.send(recipient, notice)
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
        _note_sent(engine, kind, address, now)
        report.sent += len(messages)
    return report


def _digest_window_s(engine: Engine) -> float:

    document = documents.load(engine, documents.NOTIFICATIONS)
    return float(NotificationsConfig.model_validate(document or {}).digest_window_s)


def _throttled_until(
    engine: Engine, channel: str, address: str, now: datetime, window: timedelta
) -> datetime | None:
    if not window:
        return None
    with engine.connect() as connection:
        last = connection.execute(
            select(THROTTLE.c.last_sent_at).where(
                THROTTLE.c.channel == channel, THROTTLE.c.address == address
            )
        ).scalar_one_or_none()
    if last is None or now >= last + window:
        return None
    resume: datetime = last + window
    return resume


def _note_sent(engine: Engine, channel: str, address: str, now: datetime) -> None:
    with engine.begin() as connection:
        updated = connection.execute(
            update(THROTTLE)
            .where(THROTTLE.c.channel == channel, THROTTLE.c.address == address)
            .values(last_sent_at=now)
        ).rowcount
        if not updated:
            try:
                with connection.begin_nested():
                    connection.execute(
                        insert(THROTTLE).values(channel=channel, address=address, last_sent_at=now)
                    )
            except IntegrityError:  # another dispatcher noted the same recipient
                pass


def _address(message: outbox.Claimed) -> str:
    recipient = message.payload["recipient"]
    kind = message.target.removeprefix(TARGET_PREFIX)
    return str(recipient.get(CHANNEL_FIELDS[kind]) or recipient["name"])


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


def _notice(
    messages: list[outbox.Claimed], recipient: Recipient, base_url: str | None = None
) -> Notice:
    first = messages[0]
    if len(messages) == 1:
        event, context = first.payload["event"], first.payload["context"]
        rendered = render(event, recipient.locale, _with_zone(context, first, base_url))
        data = {"event": event, **context}
    else:
        items = [{"event": m.payload["event"], **m.payload["context"]} for m in messages]
        framed = _with_zone({"items": items}, first, base_url)
        rendered = render("digest", recipient.locale, framed)
        keys = [m.idempotency_key for m in messages]
        data = {"event": "digest", "items": items, "idempotency_keys": keys}
    return Notice(
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        idempotency_key=notice_key(messages),
        data=data,
    )


def notice_key(messages: list[outbox.Claimed]) -> str:
    """A message's own key; a digest's is made of all of its messages' keys.

    A digest resent after a dispatcher died may have gained a message due since
    then: under its first message's key a receiver would drop it as a repeat,
    and the newcomer with it. Resent unchanged, it keeps its key.
    """
    if len(messages) == 1:
        return messages[0].idempotency_key
    keys = "\n".join(sorted(m.idempotency_key for m in messages))
    return "digest-" + hashlib.sha256(keys.encode()).hexdigest()[:40]


def _with_zone(
    context: Mapping[str, Any], message: outbox.Claimed, base_url: str | None
) -> dict[str, Any]:
    zone = message.payload["recipient"].get("timezone")
    return {**context, "timezone": zone, "base_url": base_url}
