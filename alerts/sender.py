"""What every sender to an external system shares (ticket sinks, notification
channels): the secrets it has read, one quick in-call retry, closing.

Retries live in one layer each (STYLE.md §5): a transient failure is tried once
more here after a short pause; the outbox does the longer backoff. A receiver
that asked for a pause (Retry-After) gets it from the outbox, not 0.2 s later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, ParamSpec, Self, TypeVar

from alerts.errors import DeliveryError

if TYPE_CHECKING:
    from tenacity import RetryCallState

log = logging.getLogger(__name__)
RETRY_WAIT_S = 0.2

P = ParamSpec("P")
T = TypeVar("T")


def retry_soon(exc: BaseException) -> bool:
    return isinstance(exc, DeliveryError) and not exc.permanent and exc.retry_after_s is None


class Sender:
    def __init__(self, *, retry_wait_s: float = RETRY_WAIT_S) -> None:
        self._retry_wait_s = retry_wait_s
        # Every secret value read so far: redacted from any error text.
        self._secrets: set[str] = set()

    def close(self) -> None:
        """Release what the sender holds (nothing, unless a subclass says otherwise)."""
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _retrying(self, operation: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        # Here, not at import: reading a sink's or channel's configuration never sends.
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_fixed

        retrying = Retrying(
            stop=stop_after_attempt(2),
            wait=wait_fixed(self._retry_wait_s),
            retry=retry_if_exception(retry_soon),
            before_sleep=self._log_retry,
            reraise=True,
        )
        return retrying(operation, *args, **kwargs)

    def _log_retry(self, state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        log.warning("%s; trying once more", failure)


def close_all(senders: Mapping[str, Sender]) -> None:
    for sender in senders.values():
        sender.close()
