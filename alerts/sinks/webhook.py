"""The webhook sink: every ticket event POSTed as signed JSON to one URL, and its way back.

Outgoing, one body per event::

    {"event": "ticket.created" | "ticket.commented" | "ticket.status_changed",
     "idempotency_key": "...", "external_id": "..." | null,
     "ticket": {...snapshot, datetimes ISO 8601...},
     "comment": {...} | null,
     "status": "<the status the ticket is in after this event>"}

with `Idempotency-Key`, `X-Intmon-Timestamp` (unix seconds) and
`X-Intmon-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">`. The
receiver should drop repeated idempotency keys: the outbox may deliver twice.
The external id is `id` from a JSON answer, else the ticket number. Internal
comments are sent only when `include_internal_comments` is set.

Incoming (`parse_callback`), a partner's sync-back signed the same way::

    {"ticket": "INC-000042", "status": "<intmon status>" | null,
     "comments": [{"id", "author", "body", "public", "created_at"}]}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, ValidationError, field_validator

from alerts.sinks.base import (
    RETRY_WAIT_S,
    CommentSnapshot,
    ExternalComment,
    ExternalState,
    HttpUrl,
    SinkConfigBase,
    SinkError,
    TicketSink,
    TicketSnapshot,
    TicketStatus,
    is_ours,
)
from integrations.config import SecretRef

if TYPE_CHECKING:
    import httpx

TIMESTAMP_HEADER = "X-Intmon-Timestamp"
SIGNATURE_HEADER = "X-Intmon-Signature"
TOLERANCE_S = 300.0


class WebhookConfig(SinkConfigBase):
    kind: Literal["webhook"]
    url: HttpUrl
    secret: SecretRef  # the HMAC key; never sent
    include_internal_comments: bool = False


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of `{timestamp}.{body}` keyed with `secret`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def signature_problem(
    secret: str, timestamp: str, body: bytes, signature: str, *, now: float, tolerance_s: float
) -> str | None:
    """What is wrong with a signed message, or None when it is authentic and fresh."""
    timestamp = timestamp.strip()
    if not (timestamp.isascii() and timestamp.isdigit()):
        return f"{TIMESTAMP_HEADER} is not a unix time in seconds"
    skew = abs(now - int(timestamp))
    if skew > tolerance_s:
        return f"{TIMESTAMP_HEADER} is {skew:.0f} s from now (more than {tolerance_s:g} s)"
    expected = sign(secret, timestamp, body).encode()
    if not hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace")):
        return f"{SIGNATURE_HEADER} does not match the body"
    return None


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float,
    tolerance_s: float = TOLERANCE_S,
) -> bool:
    """Constant-time check of a signature; a timestamp older or newer than the tolerance fails."""
    problem = signature_problem(
        secret, timestamp, body, signature, now=now, tolerance_s=tolerance_s
    )
    return problem is None


class _CallbackComment(BaseModel):
    # The sizes of the columns they land in (ticket_comments.external_ref and
    # author, VARCHAR(200)); a comment body is capped like the API's (64 KiB).
    id: Annotated[str, Field(max_length=128)] | Annotated[int, Field(ge=-(2**63), lt=2**63)]
    author: str = Field(max_length=200)
    body: str = Field(max_length=64 * 1024)
    public: bool
    created_at: AwareDatetime

    @field_validator("id", "author", "body")
    @classmethod
    def _no_nul(cls, value: str | int) -> str | int:
        # PostgreSQL's text cannot hold NUL: refused here, not a failed insert later.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL (\\u0000)")
        return value


class _Callback(BaseModel):
    ticket: str = Field(min_length=1)
    status: TicketStatus | None = None
    comments: list[_CallbackComment] = Field(default_factory=list)


def parse_callback(
    secret: str, headers: Mapping[str, str], body: bytes, now: float
) -> tuple[str, ExternalState]:
    """(ticket number, state) from a signed sync-back request.

    Raises SinkError(permanent=True) naming what is wrong: a missing header, a
    stale timestamp, a bad signature, a body that is not the documented JSON.
    Comments carrying an intmon marker are ours echoed back and are left out.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    for header in (TIMESTAMP_HEADER, SIGNATURE_HEADER):
        if header.lower() not in lowered:
            raise SinkError(f"callback: missing {header} header", permanent=True)
    problem = signature_problem(
        secret,
        lowered[TIMESTAMP_HEADER.lower()],
        body,
        lowered[SIGNATURE_HEADER.lower()],
        now=now,
        tolerance_s=TOLERANCE_S,
    )
    if problem:
        raise SinkError(f"callback: {problem}", permanent=True)
    try:
        callback = _Callback.model_validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'body'}: {error['msg']}"
            for error in exc.errors()
        )
        raise SinkError(f"callback: {problems}", permanent=True) from None
    comments = [
        ExternalComment(str(c.id), c.author, c.body, c.public, c.created_at)
        for c in callback.comments
        if not is_ours(c.body)
    ]
    return callback.ticket, ExternalState(status=callback.status, comments=comments)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


class WebhookSink(TicketSink):
    kind = "webhook"

    def __init__(
        self,
        config: WebhookConfig,
        client: httpx.Client | None = None,
        *,
        retry_wait_s: float = RETRY_WAIT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config, client, retry_wait_s=retry_wait_s)
        self.config = config
        self._clock = clock

    def parse_callback(
        self, headers: Mapping[str, str], body: bytes, now: float
    ) -> tuple[str, ExternalState]:
        """`parse_callback` with this sink's secret."""
        return parse_callback(self._secret(self.config.secret), headers, body, now)

    def _create(self, ticket: TicketSnapshot, idempotency_key: str) -> str:
        response = self._post("ticket.created", ticket, idempotency_key, None, None, ticket.status)
        try:
            answer = response.json()
        except ValueError:
            return ticket.number
        if isinstance(answer, dict) and answer.get("id") not in (None, ""):
            return str(answer["id"])
        return ticket.number

    def _comment(
        self,
        external_id: str,
        ticket: TicketSnapshot,
        comment: CommentSnapshot,
        idempotency_key: str,
    ) -> None:
        if comment.visibility != "public" and not self.config.include_internal_comments:
            return
        self._post("ticket.commented", ticket, idempotency_key, external_id, comment, ticket.status)

    def _transition(
        self, external_id: str, ticket: TicketSnapshot, status: str, idempotency_key: str
    ) -> None:
        self._post("ticket.status_changed", ticket, idempotency_key, external_id, None, status)

    def _fetch(self, external_id: str) -> ExternalState | None:
        return None  # the partner calls back instead (parse_callback)

    def _post(
        self,
        event: str,
        ticket: TicketSnapshot,
        idempotency_key: str,
        external_id: str | None,
        comment: CommentSnapshot | None,
        status: str,
    ) -> httpx.Response:
        payload = {
            "event": event,
            "idempotency_key": idempotency_key,
            "external_id": external_id,
            "ticket": asdict(ticket),
            "comment": asdict(comment) if comment else None,
            "status": status,
        }
        body = json.dumps(payload, default=_jsonable, separators=(",", ":")).encode()
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret(self.config.secret), timestamp, body),
        }
        return self._request("POST", self.config.url, content=body, headers=headers)
