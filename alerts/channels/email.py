"""The e-mail channel: a notice sent over SMTP, one connection per message.

The message is `text/plain`, or `multipart/alternative` with an HTML part when
the notice has one, UTF-8 throughout (base64 or quoted-printable bodies and
RFC 2047 headers, so it passes relays without 8BITMIME). Headers: From, To
(display name and address), Subject, Date, `Message-ID: <{idempotency_key}@intmon>`
and `X-Intmon-Idempotency-Key`; the Message-ID is the same on every retry, so a
receiver that dedupes on it shows one message. With `reply_to` (the address
`intmon mail-in` receives), a message about one ticket says
`Reply-To: <reply_to plus-addressed with the ticket's tag>` (alerts.reply_tokens),
so the client's answer becomes a comment on that ticket.

The session: connect (implicit TLS with `ssl`), EHLO, STARTTLS when configured
(permanent error when the server does not offer it), AUTH when `username` is
set, MAIL/RCPT/DATA, QUIT. The certificate is checked against the system's CAs,
or `ca_file`'s. Reply codes decide the error: 4xx (and a refused, reset or
silent connection) is transient, 5xx (550 mailbox unavailable, 535 bad
credentials, 554 rejected) is permanent. A failure after the server accepted
the message (e.g. at QUIT) is not an error: the message was sent.

The server's address obeys the egress policy (`core.egress`): the host is
resolved, judged and connected to by that address (TLS still verifies the
host name); an address the policy refuses is a permanent error.

Messages name the server as host:port and the reply code and text; the
password (and its base64 forms, which servers may echo) is redacted. smtplib
sends AUTH in ASCII only, so a non-ASCII username or password is a permanent
error before connecting. Each attempt is a fresh connection and `timeout_s`
bounds each network step (connect, each command), not the whole exchange.
"""

from __future__ import annotations

import base64
import contextlib
import email.policy
import email.utils
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator

from alerts.channels.base import Channel, ChannelConfigBase, Notice, Recipient
from alerts.sinks.base import RETRY_WAIT_S
from core.egress import EgressDenied, EgressPolicy, connect_socket
from integrations.config import SecretRef

if TYPE_CHECKING:
    import httpx

# 7bit: non-ASCII bodies are base64/quoted-printable, headers RFC 2047; SMTP line endings.
POLICY = email.policy.SMTP.clone(cte_type="7bit")
MESSAGE_ID_DOMAIN = "intmon"
ADDRESS = re.compile(r"[^@\s]+@[^@\s]+")


class SmtpConfig(ChannelConfigBase):
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    ssl: bool = False  # implicit TLS from the first byte (usually port 465)
    username: str | None = None
    password: SecretRef | None = None
    from_address: str
    from_name: str = "intmon"
    ca_file: str | None = None  # CAs to trust instead of the system's (a private relay)
    # Where replies go: an address delivered to `intmon mail-in` (README, "Replies by
    # e-mail"); messages about a ticket carry it plus-addressed with the ticket's tag.
    reply_to: str | None = None

    @field_validator("from_address", "reply_to")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if ADDRESS.fullmatch(value) is None:
            raise ValueError("must be an e-mail address like intmon@example.com")
        Address(addr_spec=value)  # raises ValueError naming the problem
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SmtpConfig:
        if self.ssl and self.starttls:
            raise ValueError("set ssl (implicit TLS) or starttls, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("set username and password together")
        return self


class _GuardedSMTP(smtplib.SMTP):
    """smtplib's client connecting only to an address the egress policy permits."""

    def __init__(self, egress: EgressPolicy, host: str, port: int, timeout: float) -> None:
        self._egress = egress
        super().__init__(host, port, timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return connect_socket(self._egress, host, port, timeout, _source(self))


class _GuardedSMTPSSL(smtplib.SMTP_SSL):
    """The implicit-TLS client, likewise; the certificate is checked against the host name."""

    def __init__(
        self,
        egress: EgressPolicy,
        host: str,
        port: int,
        timeout: float,
        context: ssl.SSLContext | None,
    ) -> None:
        self._egress = egress
        super().__init__(host, port, timeout=timeout, context=context)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        raw = connect_socket(self._egress, host, port, timeout, _source(self))
        return self.context.wrap_socket(raw, server_hostname=host)


def _source(smtp: smtplib.SMTP) -> tuple[str, int] | None:
    source = smtp.source_address
    return (str(source[0]), int(source[1])) if isinstance(source, tuple) else None


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def _one_line(text: str) -> str:
    return " ".join(text.split())


class EmailChannel(Channel):
    kind = "email"

    def __init__(
        self,
        config: SmtpConfig,
        *,
        client: httpx.Client | None = None,  # unused: SMTP is not HTTP
        retry_wait_s: float = RETRY_WAIT_S,
        clock: Callable[[], float] = time.time,
        egress: EgressPolicy | None = None,
    ) -> None:
        super().__init__(config, client=client, retry_wait_s=retry_wait_s)
        self.config = config
        self._clock = clock
        self._server = f"{config.host}:{config.port}"
        self._egress = EgressPolicy.from_environment() if egress is None else egress

    @property
    def takes_replies(self) -> bool:
        return self.config.reply_to is not None

    def can_reach(self, recipient: Recipient) -> bool:
        return recipient.email is not None and ADDRESS.fullmatch(recipient.email) is not None

    def compose(self, recipient: Recipient, notice: Notice) -> EmailMessage:
        """The message as it goes on the wire (ValueError when an address cannot be used)."""
        assert recipient.email is not None
        message = EmailMessage(policy=POLICY)
        message["From"] = Address(
            display_name=_one_line(self.config.from_name), addr_spec=self.config.from_address
        )
        message["To"] = Address(display_name=_one_line(recipient.name), addr_spec=recipient.email)
        message["Subject"] = _one_line(notice.subject)
        moment = datetime.fromtimestamp(self._clock(), UTC)
        message["Date"] = email.utils.format_datetime(moment, usegmt=True)
        message["Message-ID"] = f"<{notice.idempotency_key}@{MESSAGE_ID_DOMAIN}>"
        message["X-Intmon-Idempotency-Key"] = notice.idempotency_key
        if self.config.reply_to is not None and notice.reply_tag is not None:
            # The reply tokens read tickets from the database: imported when a mail
            # is built, so `intmon validate` does not load the whole data model.
            from alerts.reply_tokens import reply_address

            message["Reply-To"] = reply_address(self.config.reply_to, notice.reply_tag)
        message.set_content(notice.text)
        if notice.html is not None:
            message.add_alternative(notice.html, subtype="html")
        return message

    def _send(self, recipient: Recipient, notice: Notice) -> None:
        try:
            mail = self.compose(recipient, notice)
        except (ValueError, IndexError, MessageError) as exc:
            # IndexError: the standard library's parser on some malformed addresses.
            raise self._error(recipient, f"cannot compose: {exc}", permanent=True) from None
        password = None
        if self.config.password is not None:
            password = self._secret(recipient, self.config.password)
            self._remember_encodings(password)
            if not (password.isascii() and (self.config.username or "").isascii()):
                # smtplib encodes AUTH as ASCII; it would raise UnicodeEncodeError mid-session.
                problem = "SMTP AUTH here supports ASCII usernames and passwords only"
                raise self._error(recipient, problem, permanent=True)
        try:
            with self._session() as smtp:
                if self.config.username is not None:
                    smtp.login(self.config.username, password or "")
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))  # one recipient per message
            raise self._reply_error(recipient, code, reply) from None
        except smtplib.SMTPResponseException as exc:
            raise self._reply_error(recipient, exc.smtp_code, exc.smtp_error) from None
        except smtplib.SMTPServerDisconnected as exc:
            message = f"{self._server}: connection closed ({exc})"
            raise self._error(recipient, message, permanent=False) from None
        except smtplib.SMTPException as exc:  # e.g. AUTH not offered, no common mechanism
            raise self._error(recipient, f"{self._server}: {exc}", permanent=True) from None
        except ssl.SSLCertVerificationError as exc:
            message = f"{self._server}: certificate not trusted: {exc.verify_message}"
            raise self._error(recipient, message, permanent=True) from None
        except TimeoutError:
            message = f"{self._server}: no answer within {self._timeout_s:g} s"
            raise self._error(recipient, message, permanent=False) from None
        except EgressDenied as exc:  # an address intmon will not connect to: a person must act
            raise self._error(recipient, f"{self._server}: {exc}", permanent=True) from None
        except OSError as exc:  # refused, reset, unreachable, name not resolved, TLS failure
            message = f"{self._server}: {type(exc).__name__}: {exc}"
            raise self._error(recipient, message, permanent=False) from None

    @contextlib.contextmanager
    def _session(self) -> Iterator[smtplib.SMTP]:
        """A connected, greeted (and, when configured, encrypted) session; QUIT afterwards."""
        config = self.config
        tls = self._tls() if config.ssl or config.starttls else None
        # Connecting in the constructor sets the host TLS verifies against; a failed
        # connect there closes its own socket.
        smtp: smtplib.SMTP = (
            _GuardedSMTPSSL(self._egress, config.host, config.port, self._timeout_s, tls)
            if config.ssl
            else _GuardedSMTP(self._egress, config.host, config.port, self._timeout_s)
        )
        try:
            smtp.ehlo_or_helo_if_needed()
            if config.starttls:
                if not smtp.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError(
                        "the server does not offer STARTTLS (starttls: true)"
                    )
                smtp.starttls(context=tls)
                smtp.ehlo()
            yield smtp
        finally:
            # Whatever QUIT says, the message was accepted (or the error is already raised).
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
            smtp.close()

    def _tls(self) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(cafile=self.config.ca_file)
        except OSError as exc:  # ca_file missing or not PEM
            raise smtplib.SMTPException(
                f"ca_file {self.config.ca_file} cannot be used: {exc}"
            ) from None

    def _reply_error(self, recipient: Recipient, code: int, reply: bytes | str) -> Exception:
        text = _text(reply)
        message = f"{self._server}: {code}" + (f" {text}" if text else "")
        # 4xx: try later; 5xx: the server refuses for good. Anything else is a confused
        # server or connection, worth another try.
        return self._error(recipient, message, permanent=500 <= code <= 599, status=code)

    def _remember_encodings(self, password: str) -> None:
        """AUTH sends the password base64-encoded; a server that echoes it must not leak it."""
        username = self.config.username or ""
        for raw in (password, f"\0{username}\0{password}"):
            self._secrets.add(base64.b64encode(raw.encode()).decode())
