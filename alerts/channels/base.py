"""What every notification channel shares: the recipient, the message, its error, its edge.

The notification outbox renders one message (`Notice`) per recipient and asks
one channel to deliver it; routing decides which channels a recipient gets,
asking `can_reach` first. A channel call retries one quick transient failure
itself (STYLE §5) and then raises; the outbox owns the long backoff:

    ChannelError              .permanent, .status, .retry_after_s
    ├── permanent=True        the recipient lacks the address, the address or the
    │                         message is refused (SMTP 5xx, HTTP 4xx other than
    │                         408/429, Telegram 400/403), a missing secret, STARTTLS
    │                         not offered, a certificate that does not verify, an
    │                         address the egress policy refuses (core.egress):
    │                         park the outbox row, a person must act
    └── permanent=False       refused/reset connection, timeout, SMTP 4xx, HTTP 5xx,
                              408, 429: the outbox tries again later (not before
                              retry_after_s when the receiver said how long to wait)

Every send carries the notice's idempotency key on the wire (the e-mail's
Message-ID, the webhook's Idempotency-Key header), so a receiver that dedupes
sees a repeated send once; Slack and Telegram have no such key, so a send whose
answer was lost may show twice there.

Messages name the channel and the recipient (and the SMTP server), never a
credential or an address that works as one: every resolved secret is redacted
from them, and Slack URLs and Telegram bot paths are never put in them.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from alerts.errors import DeliveryError
from alerts.sender import Sender
from alerts.sinks.base import EXCERPT_CHARS, RETRY_WAIT_S, is_transient_status, retry_after
from core.egress import denial_in
from integrations.config import http_url
from integrations.errors import SecretUnavailable
from integrations.secrets import redact, resolve
from integrations.strict import Strict

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

# A dot-atom (RFC 5322 §3.2.3) without the characters HTTP headers and logs dislike,
# so the key works unchanged as a Message-ID's left part and as a header value.
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_+=-]+(?:\.[A-Za-z0-9_+=-]+)*")
IDEMPOTENCY_KEY_CHARS = 200


# --- what the outbox hands a channel -------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """One person or system to notify, with the addresses it has (None: not on that channel)."""

    name: str
    email: str | None = None
    webhook_url: str | None = None
    slack_webhook_url: str | None = None  # carries a token: a secret, never printed
    telegram_chat: str | None = None  # a chat id ("-1001234567890") or "@channel"
    locale: str = "en"


@dataclass(frozen=True)
class Notice:
    """One rendered message. `idempotency_key` is the outbox row's, the same on every retry."""

    subject: str
    text: str
    html: str | None
    idempotency_key: str
    # Structured facts for machine channels: event, ticket, integration, failure_class,
    # first_seen, link, ... (datetimes are sent as ISO 8601).
    data: dict[str, Any] = field(default_factory=dict)
    # "INC-000042.<token>": where a reply to this message goes (alerts.reply_tokens);
    # only channels that take replies get one, and it is never put into `data`.
    reply_tag: str | None = None

    def __post_init__(self) -> None:
        key = self.idempotency_key
        if len(key) > IDEMPOTENCY_KEY_CHARS or IDEMPOTENCY_KEY.fullmatch(key) is None:
            raise ValueError(
                "an idempotency key must be 1-200 characters of letters, digits and _+=-, "
                "with single dots between them"
            )


class ChannelError(DeliveryError):
    """A send failed (see `alerts.errors.DeliveryError`)."""


# --- configuration shared by every channel -----------------------------------------------


class ChannelConfigBase(Strict):
    timeout_s: float = Field(default=10.0, gt=0, le=300)


def is_http_url(value: str | None) -> bool:
    if not value:
        return False
    try:
        http_url(value)
    except ValueError:
        return False
    return True


# --- the channel -------------------------------------------------------------------------


class Channel(Sender, ABC):
    """One configured way to notify. Use as a context manager or call `close()`.

    Subclasses implement `can_reach` and `_send`; `send` checks the address and
    adds the one in-call retry. `client` is used by the HTTP channels (and closed
    by its owner, not here); the e-mail channel ignores it.
    """

    kind: ClassVar[str]

    @property
    def takes_replies(self) -> bool:
        """Whether a reply to this channel's messages reaches intmon (alerts.reply_tokens)."""
        return False

    def __init__(
        self,
        config: ChannelConfigBase,
        *,
        client: httpx.Client | None = None,
        retry_wait_s: float = RETRY_WAIT_S,
    ) -> None:
        super().__init__(retry_wait_s=retry_wait_s)
        self._timeout_s = config.timeout_s

    # The outbox's API.

    @abstractmethod
    def can_reach(self, recipient: Recipient) -> bool:
        """Whether the recipient has a usable address for this channel."""

    def send(self, recipient: Recipient, notice: Notice) -> None:
        """Deliver `notice` to `recipient`, or raise ChannelError."""
        if not self.can_reach(recipient):
            raise self._error(recipient, "has no usable address for this channel", permanent=True)
        self._retrying(self._send, recipient, notice)

    # What each channel implements.

    @abstractmethod
    def _send(self, recipient: Recipient, notice: Notice) -> None: ...

    # Helpers for subclasses.

    def _error(
        self,
        recipient: Recipient,
        message: str,
        *,
        permanent: bool,
        secrets: Collection[str] = (),
        **details: Any,
    ) -> ChannelError:
        """A ChannelError naming the channel and recipient, with every known secret redacted."""
        text = f"{self.kind} channel, recipient {recipient.name!r}: {message}"
        text = redact(text, self._secrets | set(secrets))
        return ChannelError(text, permanent=permanent, **details)

    def _secret(self, recipient: Recipient, reference: str) -> str:
        """Resolve a `${…}` reference now (rotated files are picked up); remember the value."""
        try:
            return resolve(reference, self._secrets)
        except SecretUnavailable as exc:
            raise self._error(recipient, str(exc), permanent=True) from None


class HttpChannel(Channel):
    """A channel that POSTs to an HTTP endpoint: owns (or borrows) an httpx client."""

    def __init__(
        self,
        config: ChannelConfigBase,
        *,
        client: httpx.Client | None = None,
        retry_wait_s: float = RETRY_WAIT_S,
    ) -> None:
        super().__init__(config, client=client, retry_wait_s=retry_wait_s)
        self._owns_client = client is None
        if client is None:
            # Imported here: it loads the HTTP stacks, which validating a file never needs.
            from core.egress_http import guarded_client

            client = guarded_client(timeout=config.timeout_s)
        self._client = client

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def _post(
        self,
        recipient: Recipient,
        url: str,
        *,
        where: str,
        secrets: Collection[str] = (),
        **kwargs: Any,
    ) -> httpx.Response:
        """POST once; the answer whatever its status, or a ChannelError for a transport failure.

        `where` names the endpoint in messages instead of the URL, which may be a secret
        (`secrets` lists such values to redact). The httpx exception is not chained:
        its request carries the URL.
        """
        import httpx  # here, not at import: validating a file never sends

        try:
            return self._client.post(url, timeout=self._timeout_s, **kwargs)
        except httpx.TimeoutException:
            message = f"{where}: no answer within {self._timeout_s:g} s"
            failure = self._error(recipient, message, permanent=False, secrets=secrets)
        except httpx.UnsupportedProtocol as exc:
            failure = self._error(recipient, f"{where}: {exc}", permanent=True, secrets=secrets)
        except httpx.TransportError as exc:
            denial = denial_in(exc)  # an address intmon will not connect to: a person must act
            message = f"{where}: {denial or f'{type(exc).__name__}: {exc}'}"
            failure = self._error(recipient, message, permanent=denial is not None, secrets=secrets)
        except (httpx.RequestError, httpx.InvalidURL) as exc:
            message = f"{where}: {type(exc).__name__}: {exc}"
            failure = self._error(recipient, message, permanent=True, secrets=secrets)
        raise failure

    def _check(
        self,
        recipient: Recipient,
        response: httpx.Response,
        *,
        where: str,
        secrets: Collection[str] = (),
    ) -> None:
        """Nothing for a 2xx answer, else a ChannelError classified by the status."""
        if response.is_success:
            log.debug(
                "%s channel → %r: %s %d", self.kind, recipient.name, where, response.status_code
            )
            return
        excerpt = " ".join(response.text.split())[:EXCERPT_CHARS]
        raise self._error(
            recipient,
            f"{where}: {response.status_code} {response.reason_phrase}"
            + (f": {excerpt}" if excerpt else ""),
            permanent=not is_transient_status(response.status_code),
            secrets=secrets,
            status=response.status_code,
            retry_after_s=retry_after(response),
        )


def url_secrets(url: str) -> set[str]:
    """The forms of a secret URL to redact: itself, without the scheme, and its path."""
    import httpx  # here, not at import: validating a file never sends

    parsed = httpx.URL(url)
    forms = {url, url.split("://", 1)[-1], parsed.raw_path.decode("ascii", "replace")}
    return {form for form in forms if len(form) > 1}


def jsonable(value: Any) -> Any:
    """`json.dumps` default: dates and datetimes as ISO 8601, anything else as its str."""
    isoformat: Callable[[], str] | None = getattr(value, "isoformat", None)
    return isoformat() if isoformat is not None else str(value)
