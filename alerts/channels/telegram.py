"""The Telegram channel: a notice sent by a bot to the recipient's chat.

`POST {api_base}/bot{token}/sendMessage` with JSON `{chat_id, text, disable_web_page_preview}`;
the text is the subject, a blank line and the text, as plain text (no parse mode,
so nothing in it is markup), trimmed to Telegram's 4096 characters.

Telegram answers `{"ok": true, ...}` or `{"ok": false, "error_code": N, "description":
"...", "parameters": {"retry_after": S, "migrate_to_chat_id": ID}}`; 429 and 5xx are
transient (after `retry_after` seconds when given), 400 (chat not found, chat
migrated) and 401/403/404 (bad token, bot blocked or kicked) are permanent.
Telegram has no idempotency key: a send whose answer was lost may show twice.

The bot token is in the URL path, so messages name the method and the chat, never
the URL, and the token is redacted from anything Telegram says back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alerts.channels.base import ChannelConfigBase, HttpChannel, Notice, Recipient
from alerts.sinks.base import (
    EXCERPT_CHARS,
    RETRY_WAIT_S,
    BaseUrl,
    is_transient_status,
    retry_after,
)
from integrations.config import SecretRef

if TYPE_CHECKING:
    import httpx

MAX_TEXT = 4096  # Telegram counts UTF-16 code units
ELLIPSIS = "…"


class TelegramConfig(ChannelConfigBase):
    bot_token: SecretRef
    api_base: BaseUrl = "https://api.telegram.org"


def trim(text: str, limit: int = MAX_TEXT) -> str:
    """`text` cut to `limit` UTF-16 code units, ending in "…" when cut; pairs stay whole."""
    if len(text.encode("utf-16-le")) // 2 <= limit:
        return text
    kept, units = [], 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        if units + width > limit - len(ELLIPSIS):
            break
        kept.append(char)
        units += width
    return "".join(kept) + ELLIPSIS


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class TelegramChannel(HttpChannel):
    kind = "telegram"

    def __init__(
        self,
        config: TelegramConfig,
        *,
        client: httpx.Client | None = None,
        retry_wait_s: float = RETRY_WAIT_S,
    ) -> None:
        super().__init__(config, client=client, retry_wait_s=retry_wait_s)
        self.config = config

    def can_reach(self, recipient: Recipient) -> bool:
        return bool(recipient.telegram_chat and recipient.telegram_chat.strip())

    def _send(self, recipient: Recipient, notice: Notice) -> None:
        assert recipient.telegram_chat is not None  # send() checked can_reach
        chat = recipient.telegram_chat.strip()
        token = self._secret(recipient, self.config.bot_token)
        payload = {
            "chat_id": chat,
            "text": trim(f"{notice.subject}\n\n{notice.text}"),
            "disable_web_page_preview": True,
        }
        where = f"sendMessage to chat {chat}"
        url = f"{self.config.api_base}/bot{token}/sendMessage"
        response = self._post(recipient, url, where=where, json=payload)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):  # not Telegram talking (a proxy, a load balancer)
            self._check(recipient, response, where=where)
            raise self._error(recipient, f"{where}: the answer is not JSON", permanent=True)
        if answer.get("ok") is True:
            return
        self._refused(recipient, response, answer, where)

    def _refused(
        self, recipient: Recipient, response: httpx.Response, answer: dict[str, Any], where: str
    ) -> None:
        code = answer.get("error_code")
        status = code if isinstance(code, int) and 100 <= code <= 599 else response.status_code
        if 200 <= status < 300:
            message = f"{where}: answered ok: false without an error code"
            raise self._error(recipient, message, permanent=True)
        parameters = answer.get("parameters")
        parameters = parameters if isinstance(parameters, dict) else {}
        description = " ".join(str(answer.get("description", "")).split())[:EXCERPT_CHARS]
        message = f"{where}: {status}" + (f" {description}" if description else "")
        if "migrate_to_chat_id" in parameters:
            message += f" (the chat is now {parameters['migrate_to_chat_id']}: update the contact)"
        raise self._error(
            recipient,
            message,
            permanent=not is_transient_status(status),
            status=status,
            retry_after_s=_number(parameters.get("retry_after")) or retry_after(response),
        )
