"""Notification channels: deliver one rendered notice to one recipient, one class per kind.

    CHANNELS[kind]          the channel class; adding a channel is a module with its
                            config and class, its entry here and its field in
                            ChannelsConfig
    ChannelsConfig          the `channels:` block: one optional section per kind
    build_channels(config)  the configured channels by kind (close them, or use `with`)

The notification outbox calls `send(recipient, notice)` once per row, after asking
`can_reach`; see `alerts.channels.base` for the error contract.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alerts.channels.base import (
    Channel,
    ChannelError,
    Notice,
    Recipient,
)
from alerts.channels.email import EmailChannel, SmtpConfig
from alerts.channels.slack import SlackChannel, SlackConfig
from alerts.channels.telegram import TelegramChannel, TelegramConfig
from alerts.channels.webhook import WebhookChannel, WebhookChannelConfig
from alerts.sinks.base import RETRY_WAIT_S
from integrations.strict import Strict

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CHANNELS",
    "Channel",
    "ChannelError",
    "ChannelsConfig",
    "EmailChannel",
    "Notice",
    "Recipient",
    "SlackChannel",
    "SlackConfig",
    "SmtpConfig",
    "TelegramChannel",
    "TelegramConfig",
    "WebhookChannel",
    "WebhookChannelConfig",
    "build_channels",
]

CHANNELS: dict[str, type[Channel]] = {
    "email": EmailChannel,
    "webhook": WebhookChannel,
    "slack": SlackChannel,
    "telegram": TelegramChannel,
}


class ChannelsConfig(Strict):
    """Which channels exist and how they connect; a kind left out is not offered."""

    email: SmtpConfig | None = None
    webhook: WebhookChannelConfig | None = None
    slack: SlackConfig | None = None
    telegram: TelegramConfig | None = None


def build_channels(
    config: ChannelsConfig,
    *,
    client: httpx.Client | None = None,
    retry_wait_s: float = RETRY_WAIT_S,
) -> dict[str, Channel]:
    """The configured channels by kind. Secrets are read on each send, not here.

    With `client`, the HTTP channels share it and leave closing it to the caller;
    without, each creates its own and closes it in `close()`.
    """
    channels: dict[str, Channel] = {}
    for kind, channel_class in CHANNELS.items():
        section = getattr(config, kind)
        if section is not None:
            channels[kind] = channel_class(section, client=client, retry_wait_s=retry_wait_s)
    return channels
