"""The demo's client answering by e-mail: ACME's support desk replies to the latest
mail intmon sent it about a ticket, through the `intmon mail-in` server the demo
runs, and the demo shows the comment that arrived (README, "Replies by e-mail")."""

from __future__ import annotations

import email
import email.policy
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Engine

from alerts.queries import ticket_detail
from alerts.reply_tokens import parse
from intmon.demo.mailbox import Mail

CLIENT_DESK = "support@acme.example"  # ACME's contact in intmon/demo/config.py


@dataclass(frozen=True)
class ArrivedReply:
    ticket: str
    sender: str
    comment: str  # as stored: the quoted mail cut off
    status: str  # the ticket's status after it
    via: str | None  # how the history says it came

    def as_dict(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket,
            "sender": self.sender,
            "comment": self.comment,
            "status": self.status,
            "via": self.via,
        }

    def line(self) -> str:
        return (
            f"client reply by e-mail from {self.sender} → comment on {self.ticket} "
            f"(history: via {self.via}): “{self.comment}”; ticket status {self.status}"
        )


def reply_by_email(engine: Engine, mails: list[Mail], mail_in_port: int) -> ArrivedReply | None:
    """Answer the latest ticket mail the client's desk got; None when it got none."""
    for mail in reversed(mails):
        if mail.to != CLIENT_DESK:
            continue
        received = email.message_from_bytes(mail.raw, policy=email.policy.default)
        reply_to = str(received.get("Reply-To", ""))
        tagged = parse(reply_to)
        if tagged is None:
            continue
        answer = EmailMessage()
        answer["From"] = f"ACME Support Desk <{CLIENT_DESK}>"
        answer["To"] = reply_to
        answer["Subject"] = f"Re: {received['Subject']}"
        answer["In-Reply-To"] = str(received.get("Message-ID", ""))
        answer.set_content(
            "Токен обновили на нашей стороне, проверьте, пожалуйста.\n\n"
            f"{received['Date']}, intmon <intmon@demo.example> написал(а):\n"
            "> Тикет открыт.\n\nОтправлено с iPhone\n"
        )
        _send(answer, mail_in_port)
        return _arrived(engine, tagged[0])
    return None


def _send(message: EmailMessage, port: int, attempts: int = 20) -> None:
    """Send as a mail server would: a 4xx answer is tried again shortly. In the demo
    it comes when the SQLite file was written by a worker between the reply's read
    and its write (SQLite then refuses the write at once, whatever the busy
    timeout); a real sending server keeps trying for days, the demo for ~15 s."""
    for attempt in range(attempts):
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
                smtp.send_message(message)
            return
        except smtplib.SMTPResponseException as error:
            if not 400 <= error.smtp_code < 500 or attempt == attempts - 1:
                raise
            time.sleep(min(1.0, 0.1 * (attempt + 1)))


def _arrived(engine: Engine, ticket_id: int) -> ArrivedReply | None:
    detail = ticket_detail(engine, ticket_id, include_internal=True)
    by_mail = [h for h in detail.history if h.via == "email" and h.action.startswith("comment")]
    if not by_mail:
        return None
    comment = next(c for c in detail.comments if str(c.id) == by_mail[-1].new)
    return ArrivedReply(
        detail.ticket.number, comment.author, comment.body, detail.ticket.status, by_mail[-1].via
    )
