"""A form's refusal in the viewer's language: {form field: message}.

The domain (`alerts`) and the API's models (pydantic) refuse in English, for
logs, the CLI and the API. A person at the console reads the refusal in their
language, next to the translated name of the field: pydantic's errors by their
type, the domain's by the rule they state. A refusal this table does not know
yet is shown as the domain wrote it, never dropped.
"""

from __future__ import annotations

import re

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from alerts.errors import AlertsError, InvalidTicketInput, InvalidTransition
from intmon.web.i18n import Translator

# The API's field names where the form's differ.
FORM_FIELD = {"body": "description"}

# The domain's rules (alerts.tickets, alerts.manual_tickets, the ticket list's dates)
# → the catalogue key that says them; named groups become the message's values.
DOMAIN_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), key)
    for pattern, key in (
        (r"^must not be empty$", "invalid.empty"),
        (r"^unknown \w+ '(?P<value>[^']*)'; one of ", "invalid.choice"),
        (r"^required for \w+: one of ", "invalid.subtype_required"),
        (r"has no subtypes$", "invalid.no_subtypes"),
        (r"social tier is supported for system_errors only", "invalid.social_tier"),
        (r"is already being worked on", "invalid.section_locked"),
        (r"^a client's comment is always public$", "invalid.client_public"),
        (r"^ticket \S+ is rejected$", "invalid.rejected"),
        (r"^'(?P<value>[^']*)' is not a date", "invalid.date"),
        (r"^required when no integration is given$", "invalid.client_needed"),
        (r"^integration '[^']*' is not registered$", "invalid.unknown_integration"),
        (r"^a client token files tickets for its own client$", "invalid.own_client"),
        (r"^the tier is set by support$", "invalid.tier_by_support"),
        (r"must not contain NUL", "invalid.nul"),  # intmon.api.fields
        # alerts.manual_tickets.FilledForm and alerts.attachments
        (r"^a topic of \S+ is required", "invalid.topic_required"),
        (r"^at most (?P<max>\d+) files per ticket", "invalid.too_many_files"),
        (r"^(?P<name>.+): larger than \d+ bytes", "invalid.file_too_large"),
        (r"^(?P<name>.+): refused: ", "invalid.file_refused"),
        (r"^(?P<name>.+): the file is empty$", "invalid.file_empty"),
        # intmon.web.staged_uploads
        (r"^a file chosen earlier is no longer kept", "invalid.file_expired"),
    )
)


def in_words(error: AlertsError | ValidationError, t: Translator) -> dict[str, str]:
    """Every field the error names, with its message in `t`'s language."""
    if isinstance(error, ValidationError):
        found: dict[str, str] = {}
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else "form"
            found.setdefault(FORM_FIELD.get(field, field), _pydantic(item, t))
        return found
    if isinstance(error, InvalidTransition):
        return {
            "status": t(
                "invalid.transition",
                current=t.word("status", error.current),
                wanted=t.word("status", error.wanted),
            )
        }
    if isinstance(error, InvalidTicketInput):
        return {error.field: _domain(str(error).removeprefix(f"{error.field}: "), t)}
    return {"form": str(error)}  # a refusal no rule here names a field for


def refusal(
    error: AlertsError | ValidationError,
    t: Translator,
    default: str,
    shown: tuple[str, ...] = (),
) -> dict[str, str]:
    """`in_words`, with a field the form does not show (`shown`, when given)
    reported under `default` and its translated name in the message."""
    known = (ValidationError, InvalidTicketInput, InvalidTransition)
    found = in_words(error, t) if isinstance(error, known) else {default: str(error)}
    if not shown:
        return found
    return {
        field if field in shown else default: message
        if field in shown
        else f"{t.field(field)}: {message}"
        for field, message in found.items()
    }


def _pydantic(error: ErrorDetails, t: Translator) -> str:
    context = error.get("ctx") or {}
    if error["type"] == "missing":
        return t("invalid.missing")
    if error["type"] == "string_too_short":
        least = context.get("min_length")
        return t("invalid.empty") if least == 1 else t("invalid.too_short", min=least)
    if error["type"] == "string_too_long":
        return t("invalid.too_long", max=context.get("max_length"))
    if error["type"] == "value_error":  # the API's own validators (intmon.api.fields)
        return _domain(str(error["msg"]).removeprefix("Value error, "), t)
    return t("invalid.value")


def _domain(message: str, t: Translator) -> str:
    for pattern, key in DOMAIN_RULES:
        found = pattern.search(message)
        if found:
            return t(key, **found.groupdict())
    return message
