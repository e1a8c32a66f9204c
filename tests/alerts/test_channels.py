"""Notification channels against real servers on 127.0.0.1.

E-mail goes to aiosmtpd (plain, STARTTLS and implicit TLS with trustme
certificates, AUTH, scripted 4xx/5xx replies); the received bytes are parsed
back with the standard library. Webhook, Slack and Telegram go to one aiohttp
app in a background thread that records every request and answers from a
per-path queue of scripted replies (default: 200, and Telegram's `{"ok": true}`
for the right bot token).
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import json
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pydantic import ValidationError

from alerts.channels import (
    CHANNELS,
    Channel,
    ChannelError,
    ChannelsConfig,
    EmailChannel,
    Notice,
    Recipient,
    SlackChannel,
    SlackConfig,
    SmtpConfig,
    TelegramChannel,
    TelegramConfig,
    WebhookChannel,
    WebhookChannelConfig,
    build_channels,
)
from alerts.channels.telegram import MAX_TEXT, trim
from alerts.sinks.webhook import verify_signature
from tests.alerts.servers import serving

NOW = 1_700_000_000.0
PASSWORD = "smtp-pa55-Secret!"
HOOK_KEY = "hmac-key-ABC123"
BOT_TOKEN = "123456:AAE-bot-token-secret"
SLACK_TOKEN = "xoxb-slack-secret-9f8e7d"
KEY = "notify-3f2a9c1d"

NOTICE = Notice(
    subject="Инцидент INC-000042: API заказов отвечает 500",
    text="Здравствуйте!\nAPI заказов acme-shop отвечает 500 с 09:30 UTC.",
    html="<p>Здравствуйте!</p><p>API заказов <b>acme-shop</b> отвечает 500.</p>",
    idempotency_key=KEY,
    data={
        "event": "incident.opened",
        "ticket": "INC-000042",
        "integration": "acme-shop",
        "failure_class": "server_error",
        "first_seen": datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
        "link": "https://intmon.example/incidents/42",
    },
)


def recipient(**addresses: str) -> Recipient:
    return Recipient(name="Иван Петров", **addresses)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- the SMTP server -----------------------------------------------------------------------


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    encrypted: bool
    authenticated: bool

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Mailbox:
    """An aiosmtpd handler: keeps what it accepts; scripted replies go first."""

    delivered: list[Delivered] = field(default_factory=list)
    rcpt_replies: list[str] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)
    data_attempts: int = 0

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.data_attempts += 1
        if self.data_replies:
            return self.data_replies.pop(0)
        assert envelope.mail_from is not None and envelope.original_content is not None
        assert server.transport is not None
        self.delivered.append(
            Delivered(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content,
                encrypted=server.transport.get_extra_info("ssl_object") is not None,
                authenticated=bool(session.authenticated),
            )
        )
        return "250 2.0.0 Message accepted"


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    assert isinstance(auth_data, LoginPassword)
    if (auth_data.login, auth_data.password) == (b"intmon", PASSWORD.encode()):
        return AuthResult(success=True)
    # A careless server that echoes what it was given.
    echo = f"{auth_data.login.decode()}:{auth_data.password.decode()}"
    return AuthResult(success=False, handled=False, message=f"535 5.7.8 rejected {echo}")


@dataclass
class SmtpServer:
    mailbox: Mailbox
    port: int


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., SmtpServer]]:
    """Start aiosmtpd on a free port (kwargs go to Controller); all are stopped afterwards."""
    controllers: list[Controller] = []

    def start(**kwargs: Any) -> SmtpServer:
        mailbox = Mailbox()
        settings: dict[str, Any] = {
            "hostname": "127.0.0.1",
            "port": free_port(),
            "server_hostname": "mx.test",
            "authenticator": authenticate,
            "auth_require_tls": False,
            **kwargs,
        }
        controller = Controller(mailbox, **settings)
        controller.start()
        controllers.append(controller)
        return SmtpServer(mailbox, settings["port"])

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def password_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)


def email_channel(port: int, **overrides: Any) -> EmailChannel:
    config = SmtpConfig.model_validate(
        {
            "host": "127.0.0.1",
            "port": port,
            "from_address": "intmon@example.com",
            "from_name": "Мониторинг intmon",
            "timeout_s": 5,
            **overrides,
        }
    )
    return EmailChannel(config, retry_wait_s=0, clock=lambda: NOW)


WITH_LOGIN = {"username": "intmon", "password": "${SMTP_PASSWORD}"}


# --- the HTTP server -----------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int
    body: str
    content_type: str
    headers: dict[str, str]
    times: int


@dataclass
class Fakes:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    replies: dict[str, list[Reply]] = field(default_factory=dict)

    def reply(
        self,
        path: str,
        status: int,
        body: str | dict[str, Any] = "",
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` POSTs to `path` with `status` (a dict body is JSON)."""
        content_type = "application/json" if isinstance(body, dict) else "text/plain"
        text = json.dumps(body) if isinstance(body, dict) else body
        queued = self.replies.setdefault(path, [])
        queued.append(Reply(status, text, content_type, headers or {}, times))

    def to(self, path: str) -> list[Received]:
        return [request for request in self.received if request.path == path]


async def _answer(fakes: Fakes, request: web.Request) -> web.Response:
    fakes.received.append(
        Received(
            request.path,
            {name.lower(): value for name, value in request.headers.items()},
            await request.read(),
        )
    )
    if request.path == "/slow":
        await asyncio.sleep(2)
    queued = fakes.replies.get(request.path)
    if queued:
        reply = queued[0]
        reply.times -= 1
        if not reply.times:
            queued.pop(0)
        return web.Response(
            status=reply.status,
            text=reply.body,
            content_type=reply.content_type,
            headers=reply.headers,
        )
    if request.path.startswith("/bot"):
        if request.path != f"/bot{BOT_TOKEN}/sendMessage":
            answer = {"ok": False, "error_code": 404, "description": "Not Found"}
            return web.json_response(answer, status=404)
        return web.json_response({"ok": True, "result": {"message_id": 1}})
    return web.Response(text="ok")


@pytest.fixture(scope="module")
def http_server() -> Iterator[Fakes]:
    fakes = Fakes()
    app = web.Application()

    async def handle(request: web.Request) -> web.Response:
        return await _answer(fakes, request)

    app.router.add_route("POST", "/{tail:.*}", handle)
    with serving(app) as url:
        fakes.url = url
        yield fakes


@pytest.fixture
def fakes(http_server: Fakes, monkeypatch: pytest.MonkeyPatch) -> Fakes:
    http_server.received.clear()
    http_server.replies.clear()
    monkeypatch.setenv("HOOK_KEY", HOOK_KEY)
    monkeypatch.setenv("BOT_TOKEN", BOT_TOKEN)
    return http_server


@pytest.fixture
def make_channel(fakes: Fakes) -> Iterator[Callable[..., Channel]]:
    """An HTTP channel against the fakes (retry wait 0, fixed clock); closed afterwards."""
    built: list[Channel] = []

    def make(kind: str, **overrides: Any) -> Channel:
        channel: Channel
        if kind == "webhook":
            config = WebhookChannelConfig.model_validate({"secret": "${HOOK_KEY}", **overrides})
            channel = WebhookChannel(config, retry_wait_s=0, clock=lambda: NOW)
        elif kind == "slack":
            channel = SlackChannel(SlackConfig.model_validate(overrides), retry_wait_s=0)
        else:
            settings = {"bot_token": "${BOT_TOKEN}", "api_base": fakes.url, **overrides}
            channel = TelegramChannel(TelegramConfig.model_validate(settings), retry_wait_s=0)
        built.append(channel)
        return channel

    yield make
    for channel in built:
        channel.close()


def slack_path(fakes: Fakes) -> str:
    return f"/slack/services/T0001/B0002/{SLACK_TOKEN}"


TELEGRAM_PATH = f"/bot{BOT_TOKEN}/sendMessage"


# --- registry, configuration, addresses ----------------------------------------------------


def test_registry_and_config_list_the_same_kinds() -> None:
    assert (
        set(CHANNELS)
        == set(ChannelsConfig.model_fields)
        == {
            "email",
            "webhook",
            "slack",
            "telegram",
        }
    )
    assert all(channel_class.kind == kind for kind, channel_class in CHANNELS.items())


def test_build_channels_builds_only_the_configured_ones() -> None:
    config = ChannelsConfig.model_validate(
        {
            "email": {"from_address": "intmon@example.com"},
            "telegram": {"bot_token": "${BOT_TOKEN}"},
        }
    )
    channels = build_channels(config)
    try:
        assert {kind: type(channel) for kind, channel in channels.items()} == {
            "email": EmailChannel,
            "telegram": TelegramChannel,
        }
    finally:
        for channel in channels.values():
            channel.close()


def test_a_shared_client_is_left_to_its_owner() -> None:
    with httpx.Client() as client:
        config = ChannelsConfig.model_validate({"slack": {}, "webhook": {"secret": "${K}"}})
        for channel in build_channels(config, client=client).values():
            channel.close()
        assert not client.is_closed


@pytest.mark.parametrize(
    ("model", "document", "problem"),
    [
        (SmtpConfig, {}, "from_address"),
        (SmtpConfig, {"from_address": "intmon"}, "e-mail address"),
        (SmtpConfig, {"from_address": "a@b.c", "ssl": True, "starttls": True}, "not both"),
        (SmtpConfig, {"from_address": "a@b.c", "username": "u"}, "together"),
        (SmtpConfig, {"from_address": "a@b.c", "username": "u", "password": "hunter2"}, "never"),
        (SmtpConfig, {"from_address": "a@b.c", "prot": 25}, "prot"),
        (WebhookChannelConfig, {"secret": "plain-key"}, "never inline"),
        (TelegramConfig, {"bot_token": "123:abc"}, "never inline"),
        (TelegramConfig, {"bot_token": "${T}", "api_base": "ftp://x"}, "http"),
        (SlackConfig, {"timeout_s": 0}, "greater than 0"),
    ],
)
def test_config_mistakes_are_named(
    model: type[SmtpConfig | WebhookChannelConfig | TelegramConfig | SlackConfig],
    document: dict[str, Any],
    problem: str,
) -> None:
    with pytest.raises(ValidationError, match=problem):
        model.model_validate(document)


def test_telegram_api_base_loses_its_trailing_slash() -> None:
    config = TelegramConfig.model_validate({"bot_token": "${T}", "api_base": "https://tg.example/"})
    assert config.api_base == "https://tg.example"


@pytest.mark.parametrize(
    ("kind", "addresses", "reachable"),
    [
        ("email", {"email": "ivan@example.com"}, True),
        ("email", {}, False),
        ("email", {"email": ""}, False),
        ("email", {"email": "ivan"}, False),
        ("email", {"email": "ivan @example.com"}, False),
        ("email", {"webhook_url": "https://hooks.example/x"}, False),
        ("webhook", {"webhook_url": "https://hooks.example/x"}, True),
        ("webhook", {"webhook_url": "hooks.example/x"}, False),
        ("webhook", {"slack_webhook_url": "https://hooks.slack.com/services/T/B/x"}, False),
        ("slack", {"slack_webhook_url": "https://hooks.slack.com/services/T/B/x"}, True),
        ("slack", {"slack_webhook_url": "ftp://hooks.slack.com/x"}, False),
        ("slack", {"webhook_url": "https://hooks.example/x"}, False),
        ("telegram", {"telegram_chat": "-1001234567890"}, True),
        ("telegram", {"telegram_chat": "@acme_ops"}, True),
        ("telegram", {"telegram_chat": "  "}, False),
        ("telegram", {"email": "ivan@example.com"}, False),
    ],
)
def test_can_reach(
    make_channel: Callable[..., Channel], kind: str, addresses: dict[str, str], reachable: bool
) -> None:
    channel = email_channel(25) if kind == "email" else make_channel(kind)
    assert channel.can_reach(recipient(**addresses)) is reachable


@pytest.mark.parametrize("kind", ["webhook", "slack", "telegram"])
def test_sending_without_an_address_is_permanent_and_sends_nothing(
    fakes: Fakes, make_channel: Callable[..., Channel], kind: str
) -> None:
    with pytest.raises(ChannelError, match="has no usable address") as caught:
        make_channel(kind).send(recipient(email="ivan@example.com"), NOTICE)
    assert caught.value.permanent
    assert "Иван Петров" in str(caught.value)
    assert fakes.received == []


@pytest.mark.parametrize("key", ["", "two words", "a\r\nBcc: x", "<x@y>", "a..b", "k" * 201])
def test_a_malformed_idempotency_key_is_a_programming_error(key: str) -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        Notice(subject="s", text="t", html=None, idempotency_key=key, data={})


# --- e-mail --------------------------------------------------------------------------------


def test_email_arrives_with_russian_headers_and_both_parts(
    smtp_server: Callable[..., SmtpServer],
) -> None:
    server = smtp_server()
    with email_channel(server.port) as channel:
        channel.send(recipient(email="ivan@example.com"), NOTICE)

    [delivered] = server.mailbox.delivered
    assert (delivered.mail_from, delivered.rcpt_tos) == ("intmon@example.com", ["ivan@example.com"])
    assert not (delivered.encrypted or delivered.authenticated)
    assert delivered.raw.isascii()  # encoded for relays without 8BITMIME
    message = delivered.message
    assert str(message["Subject"]) == NOTICE.subject
    [sender] = message["From"].addresses
    [to] = message["To"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Мониторинг intmon", "intmon@example.com")
    assert (to.display_name, to.addr_spec) == ("Иван Петров", "ivan@example.com")
    assert message["Message-ID"] == f"<{KEY}@intmon>"
    assert message["X-Intmon-Idempotency-Key"] == KEY
    assert message["Date"].datetime == datetime.fromtimestamp(NOW, UTC)
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content_charset() == html.get_content_charset() == "utf-8"
    # Text in base64 is in canonical form: CRLF line ends (RFC 2045 §6.8).
    assert plain.get_content().replace("\r\n", "\n").rstrip("\n") == NOTICE.text
    assert html.get_content().replace("\r\n", "\n").rstrip("\n") == NOTICE.html


def test_email_without_html_is_plain_text(smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server()
    notice = Notice(subject="Plain", text="Только текст", html=None, idempotency_key=KEY, data={})
    with email_channel(server.port) as channel:
        channel.send(recipient(email="ivan@example.com"), notice)

    message = server.mailbox.delivered[0].message
    assert message.get_content_type() == "text/plain"
    assert message.get_content().replace("\r\n", "\n") == "Только текст\n"


def test_email_message_id_is_the_same_on_every_retry(
    smtp_server: Callable[..., SmtpServer],
) -> None:
    server = smtp_server()
    with email_channel(server.port) as channel:
        channel.send(recipient(email="ivan@example.com"), NOTICE)
        channel.send(recipient(email="ivan@example.com"), NOTICE)  # the outbox's next attempt

    ids = {delivered.message["Message-ID"] for delivered in server.mailbox.delivered}
    assert ids == {f"<{KEY}@intmon>"}


def test_email_header_injection_is_flattened(smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server()
    notice = Notice(
        subject="Alert\r\nBcc: victim@example.com", text="t", html=None, idempotency_key=KEY
    )
    with email_channel(server.port) as channel:
        channel.send(Recipient(name="Ops\nBcc: x@y.z", email="ops@example.com"), notice)

    [delivered] = server.mailbox.delivered
    assert delivered.rcpt_tos == ["ops@example.com"]
    assert delivered.message["Bcc"] is None
    assert str(delivered.message["Subject"]) == "Alert Bcc: victim@example.com"


def test_email_logs_in_with_the_password_from_the_environment(
    smtp_server: Callable[..., SmtpServer], password_env: None
) -> None:
    server = smtp_server()
    with email_channel(server.port, **WITH_LOGIN) as channel:
        channel.send(recipient(email="ivan@example.com"), NOTICE)

    [delivered] = server.mailbox.delivered
    assert delivered.authenticated
    assert PASSWORD.encode() not in delivered.raw
    assert base64.b64encode(PASSWORD.encode()) not in delivered.raw


def test_email_rejected_credentials_are_permanent_and_the_password_is_not_repeated(
    smtp_server: Callable[..., SmtpServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = smtp_server()
    wrong = "wrong-password-42"
    monkeypatch.setenv("SMTP_PASSWORD", wrong)
    with (
        email_channel(server.port, **WITH_LOGIN) as channel,
        pytest.raises(ChannelError) as caught,
    ):
        channel.send(recipient(email="ivan@example.com"), NOTICE)

    error = caught.value
    message = str(error)
    assert (error.permanent, error.status) == (True, 535)
    assert f"127.0.0.1:{server.port}: 535" in message
    assert "rejected intmon:[REDACTED]" in message  # the server echoed it; we did not
    assert wrong not in message and PASSWORD not in message
    assert server.mailbox.delivered == []


def test_email_missing_password_is_permanent_and_named(
    smtp_server: Callable[..., SmtpServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = smtp_server()
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    with (
        email_channel(server.port, **WITH_LOGIN) as channel,
        pytest.raises(
            ChannelError, match="environment variable SMTP_PASSWORD is not set"
        ) as caught,
    ):
        channel.send(recipient(email="ivan@example.com"), NOTICE)
    assert caught.value.permanent
    assert server.mailbox.data_attempts == 0


def test_email_non_ascii_credentials_are_permanent(
    smtp_server: Callable[..., SmtpServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = smtp_server()
    monkeypatch.setenv("SMTP_PASSWORD", "пароль-42")
    with (
        email_channel(server.port, **WITH_LOGIN) as channel,
        pytest.raises(ChannelError, match="ASCII") as caught,
    ):
        channel.send(recipient(email="ivan@example.com"), NOTICE)
    assert caught.value.permanent
    assert "пароль" not in str(caught.value)


def test_email_starttls_with_login(
    smtp_server: Callable[..., SmtpServer], ca: trustme.CA, ca_file: str, password_env: None
) -> None:
    server = smtp_server(tls_context=server_tls(ca), require_starttls=True, auth_require_tls=True)
    with email_channel(server.port, starttls=True, ca_file=ca_file, **WITH_LOGIN) as channel:
        channel.send(recipient(email="ivan@example.com"), NOTICE)

    [delivered] = server.mailbox.delivered
    assert delivered.encrypted and delivered.authenticated
    assert str(delivered.message["Subject"]) == NOTICE.subject


def test_email_implicit_tls(
    smtp_server: Callable[..., SmtpServer], ca: trustme.CA, ca_file: str
) -> None:
    server = smtp_server(ssl_context=server_tls(ca))
    with email_channel(server.port, ssl=True, ca_file=ca_file) as channel:
        channel.send(recipient(email="ivan@example.com"), NOTICE)

    assert [delivered.encrypted for delivered in server.mailbox.delivered] == [True]


@pytest.mark.parametrize(
    ("tls", "overrides", "problem"),
    [
        (False, {"starttls": True}, "does not offer STARTTLS"),
        (True, {"starttls": True}, "certificate not trusted"),  # no ca_file: system CAs
        (True, {"starttls": True, "ca_file": "/nonexistent/ca.pem"}, "ca_file"),
    ],
)
def test_email_tls_problems_are_permanent(
    smtp_server: Callable[..., SmtpServer],
    ca: trustme.CA,
    tls: bool,
    overrides: dict[str, Any],
    problem: str,
) -> None:
    server = smtp_server(tls_context=server_tls(ca)) if tls else smtp_server()
    with (
        email_channel(server.port, **overrides) as channel,
        pytest.raises(ChannelError, match=problem) as caught,
    ):
        channel.send(recipient(email="ivan@example.com"), NOTICE)
    assert caught.value.permanent
    assert f"127.0.0.1:{server.port}" in str(caught.value)
    assert server.mailbox.delivered == []


def test_email_server_down_is_transient() -> None:
    port = free_port()
    with email_channel(port) as channel, pytest.raises(ChannelError) as caught:
        channel.send(recipient(email="ivan@example.com"), NOTICE)
    assert not caught.value.permanent
    assert f"127.0.0.1:{port}: ConnectionRefusedError" in str(caught.value)


def test_email_silent_server_is_transient() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with email_channel(port, timeout_s=0.2) as channel, pytest.raises(ChannelError) as caught:
            channel.send(recipient(email="ivan@example.com"), NOTICE)
    assert not caught.value.permanent
    assert "timed out" in str(caught.value)


@pytest.mark.parametrize(
    ("stage", "reply", "permanent", "data_attempts"),
    [
        ("data", "451 4.3.0 Try again later", False, 2),
        ("data", "452 4.3.1 Insufficient system storage", False, 2),
        ("data", "554 5.6.0 Message rejected as spam", True, 1),
        ("rcpt", "450 4.2.1 Mailbox busy", False, 0),
        ("rcpt", "550 5.1.1 Mailbox unavailable", True, 0),
        ("rcpt", "553 5.1.3 Bad recipient address syntax", True, 0),
    ],
)
def test_email_reply_codes_decide_permanence(
    smtp_server: Callable[..., SmtpServer],
    stage: str,
    reply: str,
    permanent: bool,
    data_attempts: int,
) -> None:
    server = smtp_server()
    replies = server.mailbox.rcpt_replies if stage == "rcpt" else server.mailbox.data_replies
    replies.extend([reply, reply])
    with email_channel(server.port) as channel, pytest.raises(ChannelError) as caught:
        channel.send(recipient(email="ivan@example.com"), NOTICE)

    code = int(reply[:3])
    assert (caught.value.permanent, caught.value.status) == (permanent, code)
    assert f"127.0.0.1:{server.port}: {reply}" in str(caught.value)
    assert server.mailbox.data_attempts == data_attempts
    assert len(replies) == (1 if permanent else 0)  # a transient reply was tried once more


def test_email_one_transient_reply_is_retried_inside_the_call(
    smtp_server: Callable[..., SmtpServer],
) -> None:
    server = smtp_server()
    server.mailbox.data_replies.append("451 4.7.1 Greylisted, try again")
    with email_channel(server.port) as channel:
        channel.send(recipient(email="ivan@example.com"), NOTICE)

    assert server.mailbox.data_attempts == 2
    assert len(server.mailbox.delivered) == 1


def test_email_unusable_address_is_permanent(smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server()
    with email_channel(server.port) as channel, pytest.raises(ChannelError) as caught:
        channel.send(recipient(email="иван@example.com"), NOTICE)
    assert caught.value.permanent
    assert "cannot compose" in str(caught.value)
    assert server.mailbox.data_attempts == 0


# --- webhook -------------------------------------------------------------------------------


def test_webhook_posts_signed_json_with_the_idempotency_key(
    fakes: Fakes, make_channel: Callable[..., Channel]
) -> None:
    make_channel("webhook").send(recipient(webhook_url=f"{fakes.url}/hook/acme"), NOTICE)

    [request] = fakes.to("/hook/acme")
    headers = request.headers
    assert headers["idempotency-key"] == KEY
    assert headers["x-intmon-timestamp"] == str(int(NOW))
    assert verify_signature(
        HOOK_KEY,
        headers["x-intmon-timestamp"],
        request.body,
        headers["x-intmon-signature"],
        now=NOW,
    )
    assert not verify_signature(
        "other-key",
        headers["x-intmon-timestamp"],
        request.body,
        headers["x-intmon-signature"],
        now=NOW,
    )
    assert request.json() == {
        "event": "incident.opened",
        "idempotency_key": KEY,
        "subject": NOTICE.subject,
        "text": NOTICE.text,
        "data": {**NOTICE.data, "first_seen": "2024-05-01T09:30:00+00:00"},
    }
    assert HOOK_KEY.encode() not in request.body
    assert all(HOOK_KEY not in value for value in headers.values())


@pytest.mark.parametrize(
    ("status", "permanent"),
    [
        (400, True),
        (401, True),
        (404, True),
        (410, True),
        (422, True),
        (408, False),
        (429, False),
        (500, False),
        (502, False),
        (503, False),
    ],
)
def test_webhook_status_classification(
    fakes: Fakes, make_channel: Callable[..., Channel], status: int, permanent: bool
) -> None:
    path = "/hook/token-in-path-77"
    fakes.reply(path, status, f"refused {path}", times=2)
    with pytest.raises(ChannelError) as caught:
        make_channel("webhook").send(recipient(webhook_url=f"{fakes.url}{path}"), NOTICE)

    error = caught.value
    assert (error.permanent, error.status) == (permanent, status)
    assert "POST to 127.0.0.1" in str(error)
    assert "token-in-path-77" not in str(error)  # the path may be the receiver's credential
    assert len(fakes.to(path)) == (1 if permanent else 2)


def test_webhook_retry_after_is_left_to_the_outbox(
    fakes: Fakes, make_channel: Callable[..., Channel]
) -> None:
    fakes.reply("/hook", 429, headers={"Retry-After": "7"})
    with pytest.raises(ChannelError) as caught:
        make_channel("webhook").send(recipient(webhook_url=f"{fakes.url}/hook"), NOTICE)
    assert (caught.value.permanent, caught.value.retry_after_s) == (False, 7.0)
    assert len(fakes.to("/hook")) == 1


def test_webhook_503_then_200_is_retried_once_inside_the_call(
    fakes: Fakes, make_channel: Callable[..., Channel]
) -> None:
    fakes.reply("/hook", 503)
    make_channel("webhook").send(recipient(webhook_url=f"{fakes.url}/hook"), NOTICE)

    first, second = fakes.to("/hook")
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == KEY


def test_webhook_connection_refused_is_transient(make_channel: Callable[..., Channel]) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    with pytest.raises(ChannelError, match="ConnectError") as caught:
        make_channel("webhook").send(recipient(webhook_url=url), NOTICE)
    assert not caught.value.permanent


def test_webhook_timeout_is_transient(fakes: Fakes, make_channel: Callable[..., Channel]) -> None:
    channel = make_channel("webhook", timeout_s=0.2)
    with pytest.raises(ChannelError, match=r"no answer within 0\.2 s") as caught:
        channel.send(recipient(webhook_url=f"{fakes.url}/slow"), NOTICE)
    assert not caught.value.permanent


def test_webhook_missing_secret_is_permanent(
    fakes: Fakes, make_channel: Callable[..., Channel], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOOK_KEY")
    with pytest.raises(ChannelError, match="environment variable HOOK_KEY is not set") as caught:
        make_channel("webhook").send(recipient(webhook_url=f"{fakes.url}/hook"), NOTICE)
    assert caught.value.permanent
    assert fakes.received == []


# --- Slack ---------------------------------------------------------------------------------


def test_slack_posts_a_bold_subject_and_escaped_text(
    fakes: Fakes, make_channel: Callable[..., Channel]
) -> None:
    notice = Notice(
        subject="Orders <API> & co",
        text="Answer: <!channel> 500",
        html=None,
        idempotency_key=KEY,
    )
    make_channel("slack").send(recipient(slack_webhook_url=fakes.url + slack_path(fakes)), notice)

    [request] = fakes.to(slack_path(fakes))
    assert request.json() == {"text": "*Orders &lt;API&gt; &amp; co*\nAnswer: &lt;!channel&gt; 500"}


def test_slack_404_is_permanent_and_names_no_url(
    fakes: Fakes, make_channel: Callable[..., Channel]
) -> None:
    path = slack_path(fakes)
    fakes.reply(path, 404, f"no_service {path}")
    with pytest.raises(ChannelError) as caught:
        make_channel("slack").send(recipient(slack_webhook_url=fakes.url + path), NOTICE)

    error = caught.value
    message = str(error)
    assert (error.permanent, error.status) == (True, 404)
    assert message.startswith("slack channel, recipient 'Иван Петров': ")
    assert "404 Not Found: no_service [REDACTED]" in message
    assert SLACK_TOKEN not in message and "/services/" not in message and fakes.url not in message


def test_slack_503_then_200_is_retried_once_and_logs_no_url(
    fakes: Fakes, make_channel: Callable[..., Channel], caplog: pytest.LogCaptureFixture
) -> None:
    path = slack_path(fakes)
    fakes.reply(path, 503, f"down {fakes.url}{path}")
    make_channel("slack").send(recipient(slack_webhook_url=fakes.url + path), NOTICE)

    assert len(fakes.to(path)) == 2
    assert "trying once more" in caplog.text
    assert SLACK_TOKEN not in caplog.text


# --- Telegram ------------------------------------------------------------------------------


def test_telegram_sends_the_message_with_the_bot_token_in_the_path(
    fakes: Fakes, make_channel: Callable[..., Channel]
) -> None:
    make_channel("telegram").send(recipient(telegram_chat="-1001234567890"), NOTICE)

    [request] = fakes.to(TELEGRAM_PATH)
    assert request.json() == {
        "chat_id": "-1001234567890",
        "text": f"{NOTICE.subject}\n\n{NOTICE.text}",
        "disable_web_page_preview": True,
    }


@pytest.mark.parametrize(
    ("status", "answer", "permanent", "retry_after_s", "calls"),
    [
        (
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 7",
                "parameters": {"retry_after": 7},
            },
            False,
            7.0,
            1,
        ),
        (
            400,
            {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
            True,
            None,
            1,
        ),
        (
            400,
            {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: group chat was upgraded to a supergroup chat",
                "parameters": {"migrate_to_chat_id": -1009876543210},
            },
            True,
            None,
            1,
        ),
        (
            403,
            {
                "ok": False,
                "error_code": 403,
                "description": "Forbidden: bot was blocked by the user",
            },
            True,
            None,
            1,
        ),
        (
            401,
            {"ok": False, "error_code": 401, "description": f"Unauthorized bot{BOT_TOKEN}"},
            True,
            None,
            1,
        ),
        (502, "<html>Bad Gateway</html>", False, None, 2),
        (
            500,
            {"ok": False, "error_code": 500, "description": "Internal Server Error"},
            False,
            None,
            2,
        ),
    ],
)
def test_telegram_errors(
    fakes: Fakes,
    make_channel: Callable[..., Channel],
    status: int,
    answer: str | dict[str, Any],
    permanent: bool,
    retry_after_s: float | None,
    calls: int,
) -> None:
    fakes.reply(TELEGRAM_PATH, status, answer, times=2)
    with pytest.raises(ChannelError) as caught:
        make_channel("telegram").send(recipient(telegram_chat="-100777"), NOTICE)

    error = caught.value
    message = str(error)
    assert (error.permanent, error.status, error.retry_after_s) == (
        permanent,
        status,
        retry_after_s,
    )
    assert message.startswith(
        "telegram channel, recipient 'Иван Петров': sendMessage to chat -100777: "
    )
    assert BOT_TOKEN not in message and "AAE-bot-token" not in message
    if isinstance(answer, dict) and "migrate_to_chat_id" in answer.get("parameters", {}):
        assert "the chat is now -1009876543210" in message
    assert len(fakes.to(TELEGRAM_PATH)) == calls


def test_telegram_a_wrong_token_is_permanent_and_not_shown(
    fakes: Fakes, make_channel: Callable[..., Channel], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOT_TOKEN", "999:wrong-token-zz")
    with pytest.raises(ChannelError) as caught:
        make_channel("telegram").send(recipient(telegram_chat="@acme_ops"), NOTICE)
    assert (caught.value.permanent, caught.value.status) == (True, 404)
    assert "wrong-token-zz" not in str(caught.value)


def test_telegram_503_then_200_is_retried_once(
    fakes: Fakes, make_channel: Callable[..., Channel]
) -> None:
    fakes.reply(TELEGRAM_PATH, 503, {"ok": False, "error_code": 503, "description": "busy"})
    make_channel("telegram").send(recipient(telegram_chat="@acme_ops"), NOTICE)
    assert len(fakes.to(TELEGRAM_PATH)) == 2


def test_telegram_connection_refused_hides_the_token(
    make_channel: Callable[..., Channel],
) -> None:
    channel = make_channel("telegram", api_base=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ChannelError, match="ConnectError") as caught:
        channel.send(recipient(telegram_chat="@acme_ops"), NOTICE)
    assert not caught.value.permanent
    assert BOT_TOKEN not in str(caught.value)
    assert (
        caught.value.__cause__ is None and caught.value.__context__ is None
    )  # httpx's holds the URL


def test_telegram_long_text_is_trimmed(fakes: Fakes, make_channel: Callable[..., Channel]) -> None:
    notice = Notice(subject="S", text="x" * 10_000, html=None, idempotency_key=KEY)
    make_channel("telegram").send(recipient(telegram_chat="@acme_ops"), notice)
    text = fakes.to(TELEGRAM_PATH)[0].json()["text"]
    assert len(text) == MAX_TEXT and text.endswith("…")


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize(
    ("text", "expected_units", "cut"),
    [
        ("short", 5, False),
        ("я" * MAX_TEXT, MAX_TEXT, False),
        ("я" * (MAX_TEXT + 1), MAX_TEXT, True),
        ("😀" * 3000, MAX_TEXT - 1, True),  # pairs are not split: 2047 emoji + "…"
        ("a" + "😀" * 3000, MAX_TEXT, True),
    ],
)
def test_trim_counts_utf16_like_telegram(text: str, expected_units: int, cut: bool) -> None:
    trimmed = trim(text)
    assert _utf16_units(trimmed) == expected_units
    assert trimmed.endswith("…") is cut
    trimmed.encode("utf-8")  # no lone surrogate
