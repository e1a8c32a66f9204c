"""What every ticket sink shares: the snapshots it is given, its error, and its HTTP edge.

The database is the source of truth; a sink mirrors a ticket's life (created,
commented, status changed) out to one external system and, where that system
can be polled, reads its status and comments back (`fetch`). The outbox calls
a sink once per event with the event's idempotency key and owns the long
backoff; each sink call retries one quick transient failure itself (STYLE §5)
and then raises:

    SinkError                 .permanent, .status, .retry_after_s
    ├── permanent=True        4xx other than 408/429, an answer that is not what the
    │                         API documents, a missing secret, no way to reach a
    │                         status, an address the egress policy refuses
    │                         (core.egress): park the outbox row, a person must act
    └── permanent=False       refused/reset connection, timeout, 5xx, 408, 429: the
                              outbox tries again later (not before retry_after_s)

Every call is safe to repeat with the same idempotency key: creates look for
the ticket an earlier attempt made, comments carry a `[intmon:<key>]` marker
that is looked for before posting, transitions are no-ops once reached. The
whole call (look-up and write) is what tenacity repeats, so a write that
succeeded but whose answer was lost is found, not repeated.

Messages name the sink, the method, the URL path and the status, never a query
string or a credential; every resolved secret is redacted from them.
"""

from __future__ import annotations

import base64
import email.utils
import json
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, get_args

from pydantic import AfterValidator, Field

from alerts.errors import DeliveryError
from alerts.sender import RETRY_WAIT_S as RETRY_WAIT_S  # re-exported for the sinks
from alerts.sender import Sender
from core.egress import denial_in
from integrations.config import http_url
from integrations.errors import SecretUnavailable
from integrations.secrets import redact, resolve
from integrations.strict import SLUG, Strict

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

TicketStatus = Literal["open", "in_progress", "waiting_for_reply", "closed", "rejected"]
# Also the order of preference when several intmon statuses map to one external status.
TICKET_STATUSES: tuple[str, ...] = get_args(TicketStatus)
EXCERPT_CHARS = 300
MARKER = re.compile(r"\[intmon:[^\]\s]+\]")


# --- what the outbox hands a sink, and what fetch hands back --------------------------


@dataclass(frozen=True)
class TicketSnapshot:
    number: str  # "INC-000042"
    client: str
    integration_id: str | None
    section: str
    subtype: str | None
    topic: str
    status: str  # one of TICKET_STATUSES
    family: str | None
    form: dict[str, Any]
    created_at: datetime
    url: str | None = None


@dataclass(frozen=True)
class CommentSnapshot:
    id: int
    author_kind: str  # system | support | client
    body: str
    visibility: str  # public | internal
    created_at: datetime


@dataclass(frozen=True)
class ExternalComment:
    external_id: str
    author: str
    body: str
    public: bool
    created_at: datetime


@dataclass(frozen=True)
class ExternalState:
    status: str | None  # an intmon status, or None when the external one has no mapping
    comments: list[ExternalComment]


class SinkError(DeliveryError):
    """A sink call failed (see `alerts.errors.DeliveryError`)."""


# --- configuration shared by every sink ----------------------------------------------


class SinkConfigBase(Strict):
    name: str = Field(pattern=SLUG)  # unique per file; the outbox's target
    timeout_s: float = Field(default=10.0, gt=0, le=300)


def _base_url(value: str) -> str:
    return http_url(value).rstrip("/")


BaseUrl = Annotated[str, AfterValidator(_base_url)]
HttpUrl = Annotated[str, AfterValidator(http_url)]


def complete_status_map(value: Mapping[str, str], defaults: Mapping[str, str]) -> dict[str, str]:
    """The defaults overridden by `value`; unknown intmon statuses are an error."""
    unknown = sorted(set(value) - set(TICKET_STATUSES))
    if unknown:
        raise ValueError(
            f"unknown intmon status {', '.join(unknown)}; use {', '.join(TICKET_STATUSES)}"
        )
    return {**defaults, **value}


def inverse_status_map(status_map: Mapping[str, str]) -> dict[str, str]:
    """Case-folded external status → intmon status.

    Where several intmon statuses map to one external status, the first in
    TICKET_STATUSES order wins (open, in_progress, waiting_for_reply, closed, rejected).
    """
    inverse: dict[str, str] = {}
    for status in TICKET_STATUSES:
        if status in status_map:
            inverse.setdefault(status_map[status].casefold(), status)
    return inverse


# --- text helpers ----------------------------------------------------------------------


def marker(idempotency_key: str) -> str:
    """`[intmon:<key>]`: tags what a sink wrote so a repeated call finds it."""
    text = f"[intmon:{idempotency_key}]"
    if MARKER.fullmatch(text) is None:
        raise ValueError("an idempotency key must be non-empty, without whitespace or ']'")
    return text


def with_marker(body: str, idempotency_key: str) -> str:
    return f"{body}\n\n{marker(idempotency_key)}"


def is_ours(body: str) -> bool:
    """Whether a comment carries an intmon marker (sync-back leaves those out)."""
    return MARKER.search(body) is not None


def render_form(ticket: TicketSnapshot) -> str:
    """The ticket's form as plain "key: value" lines, then its intmon link if any."""
    lines = [
        f"{key}: {value if isinstance(value, str) else json.dumps(value, default=str)}"
        for key, value in ticket.form.items()
    ]
    if ticket.url:
        lines += ["", f"intmon ticket: {ticket.url}"]
    return "\n".join(lines)


def parse_time(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_transient_status(status: int) -> bool:
    return status >= 500 or status in (408, 429)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta or HTTP date), or None."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


# --- the sink --------------------------------------------------------------------------


class TicketSink(Sender, ABC):
    """One configured external system. Use as a context manager or call `close()`.

    Subclasses implement `_create`, `_comment`, `_transition` and `_fetch`; the
    public methods add the one in-call retry around the whole operation.
    """

    kind: ClassVar[str]

    def __init__(
        self,
        config: SinkConfigBase,
        client: httpx.Client | None = None,
        *,
        retry_wait_s: float = RETRY_WAIT_S,
    ) -> None:
        super().__init__(retry_wait_s=retry_wait_s)
        self.name = config.name
        self._timeout_s = config.timeout_s
        self._owns_client = client is None
        if client is None:
            # Imported here: it loads the HTTP stacks, which validating a file never needs.
            from core.egress_http import guarded_client

            client = guarded_client(timeout=config.timeout_s)
        self._client = client

    # The outbox's API.

    def create(self, ticket: TicketSnapshot, idempotency_key: str) -> str:
        """Open the ticket externally, or find the one an earlier attempt opened; its id."""
        return self._retrying(self._create, ticket, idempotency_key)

    def comment(
        self,
        external_id: str,
        ticket: TicketSnapshot,
        comment: CommentSnapshot,
        idempotency_key: str,
    ) -> None:
        self._retrying(self._comment, external_id, ticket, comment, idempotency_key)

    def transition(
        self, external_id: str, ticket: TicketSnapshot, status: str, idempotency_key: str
    ) -> None:
        self._retrying(self._transition, external_id, ticket, status, idempotency_key)

    def fetch(self, external_id: str) -> ExternalState | None:
        """The external status and foreign comments; None when this sink cannot be polled."""
        return self._retrying(self._fetch, external_id)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # What each sink implements.

    @abstractmethod
    def _create(self, ticket: TicketSnapshot, idempotency_key: str) -> str: ...

    @abstractmethod
    def _comment(
        self,
        external_id: str,
        ticket: TicketSnapshot,
        comment: CommentSnapshot,
        idempotency_key: str,
    ) -> None: ...

    @abstractmethod
    def _transition(
        self, external_id: str, ticket: TicketSnapshot, status: str, idempotency_key: str
    ) -> None: ...

    @abstractmethod
    def _fetch(self, external_id: str) -> ExternalState | None: ...

    # Helpers for subclasses.

    def _error(self, message: str, *, permanent: bool, **details: Any) -> SinkError:
        text = redact(f"{self.kind} sink {self.name!r}: {message}", self._secrets)
        return SinkError(text, permanent=permanent, **details)

    def _secret(self, reference: str) -> str:
        """Resolve a `${…}` reference now (rotated files are picked up); remember the value."""
        try:
            return resolve(reference, self._secrets)
        except SecretUnavailable as exc:
            raise self._error(str(exc), permanent=True) from None

    def _basic_auth(self, username: str, reference: str) -> httpx.BasicAuth:
        import httpx  # here, not at import: validating a file never sends

        password = self._secret(reference)
        # The encoded pair is as secret as the password: servers echo headers back.
        self._secrets.add(base64.b64encode(f"{username}:{password}".encode()).decode())
        return httpx.BasicAuth(username, password)

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request; a 2xx answer or a SinkError (kwargs go to httpx.Client.request)."""
        import httpx  # here, not at import: validating a file never sends

        where = f"{method} {httpx.URL(url).path}"
        try:
            response = self._client.request(method, url, timeout=self._timeout_s, **kwargs)
        except httpx.TimeoutException as exc:
            message = f"{where}: no answer within {self._timeout_s:g} s"
            raise self._error(message, permanent=False) from exc
        except httpx.UnsupportedProtocol as exc:
            raise self._error(f"{where}: {exc}", permanent=True) from exc
        except httpx.TransportError as exc:
            denial = denial_in(exc)  # an address intmon will not connect to: a person must act
            if denial is not None:
                raise self._error(f"{where}: {denial}", permanent=True) from exc
            raise self._error(f"{where}: {type(exc).__name__}: {exc}", permanent=False) from exc
        except (httpx.RequestError, httpx.InvalidURL) as exc:
            raise self._error(f"{where}: {type(exc).__name__}: {exc}", permanent=True) from exc
        if response.is_success:
            log.debug("%s sink %r: %s → %d", self.kind, self.name, where, response.status_code)
            return response
        excerpt = " ".join(response.text.split())[:EXCERPT_CHARS]
        raise self._error(
            f"{where}: {response.status_code} {response.reason_phrase}"
            + (f": {excerpt}" if excerpt else ""),
            permanent=not is_transient_status(response.status_code),
            status=response.status_code,
            retry_after_s=retry_after(response),
        )

    @contextmanager
    def _reading(self, response: httpx.Response) -> Iterator[None]:
        """Turn a JSON answer that lacks what the API documents into a permanent SinkError."""
        try:
            yield
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            where = f"{response.request.method} {response.request.url.path}"
            raise self._error(
                f"{where}: unexpected answer ({type(exc).__name__}: {exc})", permanent=True
            ) from exc

    def _mapped(self, status_map: Mapping[str, str], status: str) -> str:
        if status not in status_map:
            raise self._error(f"intmon status {status!r} has no mapping", permanent=True)
        return status_map[status]
