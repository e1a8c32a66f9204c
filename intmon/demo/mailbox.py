"""The demo's mail sink: a real SMTP server on 127.0.0.1 that keeps what it gets,
so `intmon demo` can show the notifications intmon actually sent."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    received_at: float  # Unix time the server accepted it
    raw: bytes = field(default=b"", repr=False)  # the message as it came, headers and all


class Mailbox:
    def __init__(self, **smtp_options: Any) -> None:
        """`smtp_options` go to aiosmtpd's SMTP server (e.g. an `authenticator`)."""
        self._lock = threading.Lock()
        self._mails: list[Mail] = []
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **smtp_options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                raw = envelope.original_content
                self._mails.append(Mail(rcpt, str(message["Subject"]), time.time(), raw))
        return "250 OK"

    def mails(self) -> list[Mail]:
        with self._lock:
            return list(self._mails)

    def __enter__(self) -> Mailbox:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
