"""Reading replies by e-mail (alerts.inbound_mail): one row per case."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from alerts.errors import UnreadableMail
from alerts.inbound_mail import BODY_MAX_CHARS, html_to_text, read, reply_text

QUOTED = "> Ticket INC-000042 is waiting for your reply.\n> Link: https://x/tickets/INC-000042"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "plain answer",
            "The token is rotated.\nPlease check.",
            "The token is rotated.\nPlease check.",
        ),
        (
            "gmail attribution",
            "Rotated it.\n\nOn Mon, Dec 7, 2026 at 10:00 AM intmon <support@x.org> wrote:\n"
            + QUOTED,
            "Rotated it.",
        ),
        (
            "gmail attribution wrapped over two lines",
            "Rotated it.\n\nOn Mon, Dec 7, 2026 at 10:00 AM intmon support <\n"
            f"support+inc-000042.abc@x.org> wrote:\n\n{QUOTED}",
            "Rotated it.",
        ),
        (
            "russian yandex attribution",
            f"Токен обновили.\n\n07.12.2026, 10:00, intmon <support@x.org>:\n{QUOTED}",
            "Токен обновили.",
        ),
        (
            "russian написал(а)",
            "Токен обновили, проверьте.\n\nпн, 7 дек. 2026 г. в 10:00, intmon написал(а):\n"
            + QUOTED,
            "Токен обновили, проверьте.",
        ),
        (
            "russian apple mail, wrapped",
            "Всё работает.\n\n7 дек. 2026 г., в 10:00, intmon <\nsupport@x.org> написал(а):\n"
            f"{QUOTED}",
            "Всё работает.",
        ),
        (
            "outlook header block",
            "Done.\n\nFrom: intmon <support@x.org>\nSent: Monday, December 7, 2026 10:00\n"
            "To: Anna\nSubject: [INC-000042] Waiting for your reply\n\nTicket INC-000042 ...",
            "Done.",
        ),
        (
            "outlook in russian",
            "Готово.\n\nОт: intmon <support@x.org>\nОтправлено: 7 декабря 2026 г. 10:00\n"
            "Тема: Тикет INC-000042",
            "Готово.",
        ),
        (
            "original message rule",
            "Fixed.\n-----Original Message-----\nFrom: intmon\nold text",
            "Fixed.",
        ),
        (
            "russian original message",
            "Исправили.\n-------- Исходное сообщение --------\nстарое",
            "Исправили.",
        ),
        (
            "signature",
            "Fixed on our side.\n-- \nAnna Petrova\nACME ops\n+7 900 000 00 00",
            "Fixed on our side.",
        ),
        ("iphone footer", "Fixed.\n\nSent from my iPhone", "Fixed."),
        ("russian iphone footer", "Исправили.\n\nОтправлено с iPhone", "Исправили."),
        (
            "mail.ru mobile footer",
            "Исправили.\n\nОтправлено из мобильной Почты Mail.ru",
            "Исправили.",
        ),
        ("outlook mobile footer", "Fixed.\n\nGet Outlook for Android", "Fixed."),
        (
            "interleaved quote keeps both answers",
            "> Is the token rotated?\nYes.\n> Since when?\nSince 10:00.",
            "Yes.\nSince 10:00.",
        ),
        (
            "words 'wrote:' without a date stay",
            "Here is what the partner wrote:\nHTTP 401 invalid_token",
            "Here is what the partner wrote:\nHTTP 401 invalid_token",
        ),
        ("only a quote", QUOTED, ""),
        ("windows line endings", "Line one\r\nLine two\r\n\r\n> quoted", "Line one\nLine two"),
    ],
)
def test_reply_text(name: str, text: str, expected: str) -> None:
    assert reply_text(text) == expected, name


@pytest.mark.parametrize(
    ("name", "html", "expected"),
    [
        ("paragraphs and breaks", "<p>Fixed.</p><p>Line<br>two</p>", "Fixed.\n\nLine\ntwo"),
        (
            "gmail quote block",
            '<div dir="ltr">Rotated.</div><br><div class="gmail_quote"><div>On Mon ... wrote:</div>'
            "<blockquote>old <b>text</b></blockquote></div>",
            "Rotated.",
        ),
        ("blockquote", "Yes<blockquote>Is it fixed?<br>x</blockquote>", "Yes"),
        ("script and style", "<style>p{}</style><script>alert(1)</script>Hi &amp; bye", "Hi & bye"),
        (
            "outlook reply block",
            '<div>Готово.</div><div id="divRplyFwdMsg"><b>От:</b> intmon</div><div>старое</div>',
            "Готово.\n\nстарое",
        ),
    ],
)
def test_html_to_text(name: str, html: str, expected: str) -> None:
    assert html_to_text(html) == expected, name


def mail(body: str = "Fixed.\n", **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Anna <Anna@Acme.example>")
    message["To"] = headers.pop("To", "support+inc-000042.0123@x.org")
    message["Subject"] = headers.pop("Subject", "Re: [INC-000042] Waiting for your reply")
    message["Message-ID"] = "<m1@acme.example>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def test_read_takes_sender_subject_and_the_new_text() -> None:
    got = read(bytes(mail("Fixed.\n\nOn Mon, Dec 7, 2026 at 10:00 intmon <a@b> wrote:\n> x\n")))
    assert (got.sender, got.sender_name, got.message_id) == (
        "anna@acme.example",
        "Anna",
        "<m1@acme.example>",
    )
    assert got.subject == "Re: [INC-000042] Waiting for your reply"
    assert got.text == "Fixed."
    assert got.addressed_to == ("support+inc-000042.0123@x.org",)
    assert (got.attachments, got.automatic) == (0, False)


def test_html_only_is_converted_and_attachments_are_counted_not_read() -> None:
    message = mail()
    message.set_content("<p>See <b>screenshot</b></p><blockquote>old</blockquote>", subtype="html")
    message.add_attachment(
        b"MZ\x90\x00binary", maintype="application", subtype="octet-stream", filename="fix.exe"
    )
    message.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="shot.png")
    got = read(bytes(message))
    assert got.text == "See screenshot"
    assert got.attachments == 2


def test_plain_text_wins_over_html() -> None:
    message = mail("plain words\n")
    message.add_alternative("<p>html words</p>", subtype="html")
    assert read(bytes(message)).text == "plain words"


@pytest.mark.parametrize(
    ("name", "headers", "return_path"),
    [
        ("auto-submitted", {"Auto_Submitted": "auto-replied"}, "anna@acme.example"),
        ("precedence bulk", {"Precedence": "bulk"}, "anna@acme.example"),
        ("precedence auto_reply", {"Precedence": "auto_reply"}, "anna@acme.example"),
        ("x-autoreply", {"X_Autoreply": "yes"}, "anna@acme.example"),
        ("list mail", {"List_Id": "<ops.acme.example>"}, "anna@acme.example"),
        ("empty return path (a bounce)", {}, ""),
        ("null return path", {}, "<>"),
        ("mailer daemon", {"From": "MAILER-DAEMON@acme.example"}, "anna@acme.example"),
    ],
)
def test_automatic_messages_are_recognised(
    name: str, headers: dict[str, str], return_path: str
) -> None:
    assert read(bytes(mail(**headers)), return_path=return_path).automatic, name


def test_a_person_is_not_automatic() -> None:
    got = read(bytes(mail(Auto_Submitted="no")), return_path="anna@acme.example")
    assert not got.automatic


@pytest.mark.parametrize(
    ("name", "raw", "problem"),
    [
        ("no sender", b"To: a@b\r\nSubject: x\r\n\r\nhello\r\n", "no sender"),
        (
            "multipart without its parts",
            b'From: a@acme.example\r\nContent-Type: multipart/mixed; boundary="zzz"\r\n'
            b"\r\nno boundary here\r\n",
            "no text",
        ),
        (
            "unknown charset",
            b"From: a@acme.example\r\nContent-Type: text/plain; charset=x-no-such\r\n\r\nhello\r\n",
            "cannot be decoded",
        ),
        (
            "only an attachment",
            b"From: a@acme.example\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n",
            "no text",
        ),
    ],
)
def test_unreadable_messages_are_refused_with_the_reason(
    name: str, raw: bytes, problem: str
) -> None:
    with pytest.raises(UnreadableMail, match=problem):
        read(raw)


def test_a_huge_reply_is_cut_to_a_comment() -> None:
    got = read(bytes(mail("x" * (BODY_MAX_CHARS + 10))))
    assert len(got.text) == BODY_MAX_CHARS
    assert got.text.endswith("keeps its first 64 KiB)")
