"""The Slack channel: a notice POSTed to the recipient's Slack-compatible incoming webhook.

Body: `{"text": "*<subject>*\\n<text>"}` (Slack's mrkdwn bold subject; Mattermost and
Rocket.Chat accept the same). `&`, `<` and `>` are escaped as Slack documents, so
text quoted from a partner's answer cannot become a link or an `<!channel>`
mention. Slack has no idempotency key: a send whose answer was lost may show twice.

The webhook URL is the credential (its path carries the token), so it is never
put in a message or a log line: errors name the recipient only.
"""

from __future__ import annotations

from alerts.channels.base import (
    ChannelConfigBase,
    HttpChannel,
    Notice,
    Recipient,
    is_http_url,
    url_secrets,
)

WHERE = "POST to the Slack webhook"


def escape(text: str) -> str:
    """Slack's three control characters as the entities Slack expects."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackConfig(ChannelConfigBase):
    pass


class SlackChannel(HttpChannel):
    kind = "slack"

    def can_reach(self, recipient: Recipient) -> bool:
        return is_http_url(recipient.slack_webhook_url)

    def _send(self, recipient: Recipient, notice: Notice) -> None:
        assert recipient.slack_webhook_url is not None  # send() checked can_reach
        url = recipient.slack_webhook_url
        secrets = url_secrets(url)
        payload = {"text": f"*{escape(notice.subject)}*\n{escape(notice.text)}"}
        response = self._post(recipient, url, where=WHERE, secrets=secrets, json=payload)
        self._check(recipient, response, where=WHERE, secrets=secrets)
