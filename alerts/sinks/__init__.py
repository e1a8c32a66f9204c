"""Ticket sinks: mirror intmon tickets out to external systems, one class per kind.

    SINKS[kind]         the sink class; adding a sink is a module with its config and
                        class, its entry here and its config in SinkConfig
    SinkConfig          a configured sink, told apart by `kind`
    build_sink(config)  the sink for one configuration (close it, or use `with`)

The outbox calls `create` / `comment` / `transition` / `fetch` once per event with
the event's idempotency key; see `alerts.sinks.base` for the error contract.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field, model_validator

from alerts.sinks.base import (
    RETRY_WAIT_S,
    TICKET_STATUSES,
    CommentSnapshot,
    ExternalComment,
    ExternalState,
    SinkError,
    TicketSink,
    TicketSnapshot,
)
from alerts.sinks.jira import JiraConfig, JiraSink
from alerts.sinks.webhook import WebhookConfig, WebhookSink, parse_callback, verify_signature
from alerts.sinks.zendesk import ZendeskConfig, ZendeskSink
from integrations.strict import Strict

if TYPE_CHECKING:
    import httpx

__all__ = [
    "SINKS",
    "TICKET_STATUSES",
    "CommentSnapshot",
    "ExternalComment",
    "ExternalState",
    "SinkConfig",
    "SinkError",
    "SinksSection",
    "TicketSink",
    "TicketSnapshot",
    "build_sink",
    "parse_callback",
    "verify_signature",
]

SINKS: dict[str, type[TicketSink]] = {
    "webhook": WebhookSink,
    "jira": JiraSink,
    "zendesk": ZendeskSink,
}

SinkConfig = Annotated[WebhookConfig | JiraConfig | ZendeskConfig, Field(discriminator="kind")]


class SinksSection(Strict):
    """The `sinks:` list of a configuration file; names are the outbox's targets."""

    sinks: list[SinkConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> SinksSection:
        names = [sink.name for sink in self.sinks]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"sink names must be unique; repeated: {', '.join(duplicates)}")
        return self


def build_sink(
    config: SinkConfig, client: httpx.Client | None = None, *, retry_wait_s: float = RETRY_WAIT_S
) -> TicketSink:
    """The sink for `config`. Secrets are read on each call, not here.

    With `client`, the sink uses it and leaves closing it to the caller;
    without, it creates one with the configured timeout and closes it in `close()`.
    """
    return SINKS[config.kind](config, client, retry_wait_s=retry_wait_s)
