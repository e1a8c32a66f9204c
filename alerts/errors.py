"""Errors of the alerts stage.

    DeliveryError               sending to an external system failed; `permanent`
    ├── SinkError               says whether trying again can help (ticket sinks)
    └── ChannelError            (notification channels)

    AlertsError
    ├── TicketNotFound       no ticket has that number (or the caller may not see it)
    ├── InvalidTransition    the status change is not allowed from the current status
    ├── InvalidTicketInput   a field has a value the ticket cannot take (names the field)
    │   └── InvalidFormFields  seed 001's form fields refused, every problem at once
    ├── BackfillError        a results file refused as a whole: (line, message) per problem
    └── UnreadableMail       a reply by e-mail that cannot be read (malformed MIME, an
                             unknown charset, no text): refused with an answer

All are permanent: retrying the same request gives the same answer. Callers
(CLI, API) print `str(error)`, which names the ticket and the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class AlertsError(Exception):
    permanent = True


class TicketNotFound(AlertsError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"ticket {reference} not found")
        self.reference = reference


class InvalidTransition(AlertsError):
    def __init__(self, number: str, current: str, wanted: str, allowed: list[str]) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none (it is final)"
        super().__init__(
            f"ticket {number}: cannot change status from {current} to {wanted}; "
            f"allowed from {current}: {allowed_text}"
        )
        self.current, self.wanted = str(current), str(wanted)


class InvalidTicketInput(AlertsError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class InvalidFormFields(InvalidTicketInput):
    """The topic's fields of a ticket form are refused: `problems` lists each field
    with its rule (`alerts.ticket_forms.FieldProblem`), so a surface can say every
    one in its reader's language; the message names them in English."""

    def __init__(self, problems: Sequence[Any]) -> None:
        first = problems[0]
        super().__init__(
            f"fields.{first.field}",
            "; ".join(f"fields.{p.field} {p.english()}" for p in problems),
        )
        self.problems = list(problems)


class DeliveryError(Exception):
    """A send to an external system failed. `permanent` says whether trying again
    can help; `retry_after_s` is how long the receiver asked us to wait, if it
    said; `status` is the HTTP status or SMTP reply code, if any. The message
    never holds a secret."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        retry_after_s: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after_s = retry_after_s
        self.status = status


class BackfillError(AlertsError):
    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"line {line}: {message}" for line, message in problems))


class UnreadableMail(AlertsError):
    """A message that came by e-mail cannot be read as a reply."""
