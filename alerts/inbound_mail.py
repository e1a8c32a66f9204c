"""Reading a reply that came by e-mail: who sent it, whether a machine did, and what
the person wrote, without the quoted mail below it or their signature.

Pure functions of the message's bytes (no database, no network), table-tested in
tests/alerts/test_inbound_mail.py. `alerts.mail_replies` decides what to do with
the result; `intmon mail-in` receives the bytes over SMTP.

    read(raw, return_path)   → InboundMail, or UnreadableMail (malformed MIME, an
                               unknown charset, no text to read)
    reply_text(text)         the new part of a reply: quoted lines (`> …`), the
                             quoted mail after an attribution ("On … wrote:",
                             "… написал(а):", "-----Original Message-----", an
                             Outlook "From:/Sent:" block) and the signature
                             (`-- `, "Sent from my iPhone", "Отправлено с iPhone", …)
                             are cut
    html_to_text(html)       text/html as plain text, quotes (<blockquote>, Gmail's
                             and Yahoo's quote blocks) left out

The text part is preferred; HTML is read only when there is no text part.
Attachments are never read or kept, only counted, so the answer can say they
were ignored.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from html.parser import HTMLParser

from alerts.errors import UnreadableMail

BODY_MAX_CHARS = 64 * 1024  # a comment's size limit (the API's and the console's)

# Headers of machines answering for people: auto-replies, bounces, lists (RFC 3834).
_AUTO_PRECEDENCE = {"bulk", "auto_reply", "junk", "list"}
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "List-Id", "List-Unsubscribe", "X-Loop")
_ADDRESSED = ("To", "Cc", "Delivered-To", "X-Original-To")
_DAEMON = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply)@", re.IGNORECASE)


@dataclass(frozen=True)
class InboundMail:
    sender: str  # the From address, lower-case ("" when there is none)
    sender_name: str
    subject: str
    message_id: str | None
    text: str  # what the person wrote, quotes and signature cut
    attachments: int  # files that came with it, ignored
    automatic: bool  # an auto-reply, bounce or list mail: never answered, never stored
    # Addresses in To, Cc, Delivered-To and X-Original-To: a relay that forwards may
    # rewrite the envelope's recipient, not these.
    addressed_to: tuple[str, ...] = ()


def read(raw: bytes, *, return_path: str | None = None) -> InboundMail:
    """Parse one message as it came over SMTP. `return_path` is the envelope's MAIL
    FROM ("" or "<>" for a bounce). UnreadableMail says what could not be read."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        sender_name, sender = email.utils.parseaddr(str(message.get("From", "")))
        subject = " ".join(str(message.get("Subject", "")).split())
        message_id = str(message.get("Message-ID", "")).strip() or None
        headers = [str(value) for name in _ADDRESSED for value in message.get_all(name, [])]
        addressed_to = tuple(address for _, address in email.utils.getaddresses(headers))
    except Exception as error:  # the standard library's parser raises many kinds on hostile input
        raise UnreadableMail(f"the message's headers cannot be read: {error}") from None
    automatic = _automatic(message, sender, return_path)
    if "@" not in sender:
        raise UnreadableMail("the message has no sender address (From)")
    text, attachments = _body(message)
    return InboundMail(
        sender=sender.strip().lower(),
        sender_name=" ".join(sender_name.split()),
        subject=subject,
        message_id=message_id[:200] if message_id else None,
        text=_bounded(reply_text(text)),
        attachments=attachments,
        automatic=automatic,
        addressed_to=addressed_to,
    )


def _automatic(message: Message, sender: str, return_path: str | None) -> bool:
    if return_path is not None and return_path.strip() in ("", "<>"):
        return True  # a bounce: answering it could loop between two servers
    submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    if submitted != "no":
        return True
    if str(message.get("Precedence", "")).strip().lower() in _AUTO_PRECEDENCE:
        return True
    if any(message.get(header) is not None for header in _AUTO_HEADERS):
        return True
    return _DAEMON.match(sender.strip()) is not None


def _body(message: EmailMessage) -> tuple[str, int]:
    """(the text to read, the number of attachments ignored)."""
    plain: EmailMessage | None = None
    html: EmailMessage | None = None
    attachments = 0
    for part in message.walk():
        if part.is_multipart():
            continue
        disposition = part.get_content_disposition()
        kind = part.get_content_type()
        if disposition == "attachment" or part.get_filename() or not kind.startswith("text/"):
            attachments += 1
        elif kind == "text/plain" and plain is None:
            plain = part
        elif kind == "text/html" and html is None:
            html = part
    chosen = plain if plain is not None else html
    if chosen is None:
        raise UnreadableMail("the message has no text (text/plain or text/html) to read")
    try:
        content = chosen.get_content()
    except (LookupError, UnicodeError, ValueError, KeyError) as error:
        # LookupError: a charset Python does not know.
        raise UnreadableMail(f"the message's text cannot be decoded: {error}") from None
    if not isinstance(content, str):
        raise UnreadableMail("the message's text cannot be decoded")
    return (content if chosen is plain else html_to_text(content)), attachments


def _bounded(text: str) -> str:
    if len(text) <= BODY_MAX_CHARS:
        return text
    note = "\n[…] (cut: a reply by e-mail keeps its first 64 KiB)"
    return text[: BODY_MAX_CHARS - len(note)] + note


# --- the new part of a reply -----------------------------------------------------------

# Attributions: the line above the quoted mail. "On …" and "Am …" are also tried
# joined with the next line (Gmail wraps a long one); the others need a time or an
# address on the line, so "as the partner wrote:" in the answer itself is kept.
_ON = re.compile(
    r"^\s*(On|Am)\b.{0,300}\b(wrote|schrieb)\b.{0,100}:\s*$", re.IGNORECASE | re.DOTALL
)
_DATED = r"(?=.*(@|\d{1,2}:\d{2}))"
_ATTRIBUTION = [
    _ON,
    re.compile(_DATED + r".{0,300}(написал|написала|написал\(а\)|пишет|wrote)\s*:\s*$", re.I),
    # Mail.ru, Yandex and others: "Понедельник, 7 декабря 2026, 10:00 +03:00 от intmon <a@b>:"
    re.compile(r"^.{0,300}<[^<>\s]+@[^<>\s]+>\s*:\s*$"),
    re.compile(
        r"^\s*-{2,}\s*(Original Message|Исходное сообщение|Forwarded message|"
        r"Пересылаемое сообщение)\s*-{2,}\s*$",
        re.IGNORECASE,
    ),
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook's rule above the quoted mail
]
# Outlook quotes with a header block instead: "From: …" then "Sent: …" / "Date: …".
_OUTLOOK_FROM = re.compile(r"^\s*\*?(From|От|Von)\s*:\*?\s", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(
    r"^\s*\*?(Sent|Date|To|Отправлено|Дата|Кому|Gesendet)\s*:\*?\s", re.IGNORECASE
)
_SIGNATURE = re.compile(r"^-- ?$")
_MOBILE_FOOTERS = re.compile(
    r"^\s*("
    r"Sent from my \w+.*|Sent from (Mail|Outlook|Yahoo Mail|Yandex|Mail\.ru)\b.*|"
    r"Sent with Proton Mail.*|Get Outlook for \w+.*|Sent via .{1,40}|"
    r"Отправлено с (моего )?(iPhone|iPad|Android|мобильного устройства|телефона).*|"
    r"Отправлено из (мобильной )?(Почты Mail\.ru|Яндекс\.Почты|Mail\.ru|Почты).*|"
    r"Отправлено из приложения .{1,40}|С уважением,?\s*$|Best regards,?\s*$|"
    r"Kind regards,?\s*$|Regards,?\s*$"
    r")\s*$",
    re.IGNORECASE,
)


def reply_text(text: str) -> str:
    """The part of `text` its sender wrote now (see the module docstring)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if any(pattern.match(line) for pattern in _ATTRIBUTION):
            if kept and kept[-1].rstrip().endswith(("<", ",")):
                kept.pop()  # the first half of a wrapped attribution
            break
        if _ON.match(f"{line} {following}"):
            break
        if _OUTLOOK_FROM.match(line) and _OUTLOOK_NEXT.match(following):
            break
        if _SIGNATURE.match(line) or _MOBILE_FOOTERS.match(line):
            break
        if line.lstrip().startswith(">"):
            continue  # an interleaved quote: the lines around it are the answer
        kept.append(line.rstrip())
    return _tidy(kept)


def _tidy(lines: list[str]) -> str:
    text = "\n".join(lines).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --- HTML ------------------------------------------------------------------------------

_VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "source", "wbr"}
_BLOCK = {"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table", "ul", "ol"}
_SKIPPED = {"script", "style", "head", "title", "blockquote"}
_QUOTE_CLASSES = re.compile(r"gmail_quote|yahoo_quoted|moz-cite-prefix|divRplyFwdMsg")


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0  # depth inside an element whose text is not kept

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if tag in ("br", "hr") and not self._skipping:
                self.parts.append("\n")
            return
        marks = " ".join(value or "" for name, value in attrs if name in ("class", "id"))
        if self._skipping or tag in _SKIPPED or _QUOTE_CLASSES.search(marks):
            self._skipping += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if self._skipping:
            self._skipping -= 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(re.sub(r"[ \t\r\n]+", " ", data))


def html_to_text(html: str) -> str:
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    return _tidy(lines)
