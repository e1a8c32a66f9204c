"""The webhook channel: a notice POSTed as signed JSON to the recipient's own URL.

One body per notice::

    {"event": "<data['event'], else 'notification'>", "idempotency_key": "...",
     "subject": "...", "text": "...", "data": {...datetimes ISO 8601...}}

with `Idempotency-Key`, `X-Intmon-Timestamp` (unix seconds) and
`X-Intmon-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">`, signed
exactly as the webhook ticket sink signs, so a receiver checks both with
`alerts.sinks.webhook.verify_signature`. The receiver should drop repeated
idempotency keys: the outbox may deliver twice.

The URL may carry a token of the receiver's, so messages name the recipient
and the URL's host, never its path or query.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from alerts.channels.base import (
    ChannelConfigBase,
    HttpChannel,
    Notice,
    Recipient,
    is_http_url,
    jsonable,
    url_secrets,
)
from alerts.sinks.base import RETRY_WAIT_S
from alerts.sinks.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from integrations.config import SecretRef

if TYPE_CHECKING:
    import httpx


class WebhookChannelConfig(ChannelConfigBase):
    secret: SecretRef  # the HMAC key; never sent


class WebhookChannel(HttpChannel):
    kind = "webhook"

    def __init__(
        self,
        config: WebhookChannelConfig,
        *,
        client: httpx.Client | None = None,
        retry_wait_s: float = RETRY_WAIT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config, client=client, retry_wait_s=retry_wait_s)
        self.config = config
        self._clock = clock

    def can_reach(self, recipient: Recipient) -> bool:
        return is_http_url(recipient.webhook_url)

    def _send(self, recipient: Recipient, notice: Notice) -> None:
        assert recipient.webhook_url is not None  # send() checked can_reach
        url = recipient.webhook_url
        payload = {
            "event": str(notice.data.get("event", "notification")),
            "idempotency_key": notice.idempotency_key,
            "subject": notice.subject,
            "text": notice.text,
            "data": notice.data,
        }
        body = json.dumps(payload, default=jsonable, ensure_ascii=False, separators=(",", ":"))
        content = body.encode()
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": notice.idempotency_key,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret(recipient, self.config.secret), timestamp, content),
        }
        import httpx  # here, not at import: validating a file never sends

        where = f"POST to {httpx.URL(url).host}"
        secrets = url_secrets(url)
        response = self._post(
            recipient, url, where=where, secrets=secrets, content=content, headers=headers
        )
        self._check(recipient, response, where=where, secrets=secrets)
