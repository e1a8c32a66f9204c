"""A ticket told two ways: to the client in plain language, to support in full.

The client reads what broke (the last outcome said as what happened), since
when, what we are doing, what we need from them, and the evidence they can act
on: our request with its secrets hidden, the partner's answer, a curl line.
Never the monitor's working notes (first steps for support, CLI commands, raw
terms such as `dns_failure` or `duration_ms`): those are support's.

Support reads the same story and, under it, everything the ticket form holds.
Both come from the stored form (`alerts.incident_tickets.form_of`), which holds
only redacted data; the curl line is rebuilt from its redacted request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alerts.evidence import curl_of
from alerts.queries import CommentView, TicketDetail, TicketView
from intmon.web.i18n import Translator

# Form entries the page shows elsewhere (the facts at the top, the story, the
# evidence, which retell the form's English summary and steps in the viewer's words).
SHOWN_ELSEWHERE = (
    "account",
    "integration_id",
    "incident_id",
    "description",
    "summary",
    "steps_to_reproduce",
)
# Form entries that are moments (ISO strings), shown in the viewer's zone.
MOMENTS = frozenset({"first_seen", "last_seen", "last_passed_at"})
# What a client's page shows of a ticket made by hand: the form as they filled it.
CLIENT_HIDDEN = ("first_steps", "history", "failure_class", "family", "steps_to_reproduce")


@dataclass(frozen=True, slots=True)
class Evidence:
    method: str
    url: str
    headers: dict[str, str]
    status: int | None
    excerpt: str
    curl: str


@dataclass(frozen=True, slots=True)
class Story:
    """What the page tells about an automatic ticket (None parts are not shown)."""

    outcome: str | None  # the last outcome's value, said by `outcome.<value>`
    family: str | None
    since: str | None  # ISO time of the first failure
    evidence: Evidence | None
    raw: dict[str, Any] = field(default_factory=dict)  # support's full form


def topic(ticket: TicketView, partner: str | None, t: Translator) -> str:
    """An automatic ticket's topic names the partner, in the viewer's language; a
    ticket made by hand keeps the words its author chose."""
    if ticket.origin == "incident" and ticket.family and f"topic.{ticket.family}" in t.messages:
        return t(f"topic.{ticket.family}", partner=partner or ticket.integration_id or "")
    return ticket.topic


def story(detail: TicketDetail, role: str) -> Story:
    form = dict(detail.form)
    automatic = detail.ticket.origin == "incident"
    raw = {k: v for k, v in form.items() if k not in SHOWN_ELSEWHERE}
    if role != "support":
        raw = {} if automatic else {k: v for k, v in raw.items() if k not in CLIENT_HIDDEN}
    if not automatic:
        return Story(None, None, None, None, raw)
    return Story(
        outcome=str(form.get("failure_class") or "") or None,
        family=detail.ticket.family,
        since=str(form.get("first_seen") or "") or None,
        evidence=_evidence(form),
        raw=raw,
    )


def _evidence(form: dict[str, Any]) -> Evidence | None:
    request = form.get("request") or {}
    response = form.get("response") or {}
    if not request.get("url"):
        return None
    headers = {str(k): str(v) for k, v in (request.get("headers") or {}).items()}
    method = str(request.get("method") or "GET")
    return Evidence(
        method=method,
        url=str(request["url"]),
        headers=headers,
        status=response.get("status"),
        excerpt=str(response.get("excerpt") or ""),
        curl=curl_of({"method": method, "url": str(request["url"]), "headers": headers}),
    )


def said(comment: CommentView, t: Translator) -> str:
    """A comment as the reader reads it: the monitor's news in their language
    (its `message`), anyone else's words as written."""
    message = comment.message or {}
    key = message.get("key")
    if key in ("failure_back", "reopened"):
        return t(f"system.{key}", what=t.word("said_outcome", str(message.get("outcome"))))
    if key == "flapping":
        return t(
            "system.flapping",
            times=message.get("times"),
            window=t.span(float(message.get("window_s", 0))),
        )
    if key == "recovered":
        return t(
            "system.recovered",
            at=t.when(str(message.get("at"))),
            failures=message.get("failures"),
            lasted=t.span(float(message.get("lasted_s", 0))),
        )
    if key == "section_changed":
        return t(
            "system.section_changed",
            old=_section_words(str(message.get("old")), t),
            new=_section_words(str(message.get("new")), t),
            reason=message.get("reason"),
        )
    if key == "auto_closed":
        return t("system.auto_closed", span=t.span(float(message.get("after_s", 0))))
    return comment.body


def _section_words(path: str, t: Translator) -> str:
    """`documents_finance/other` → "Documents/Finance / Other"."""
    section, _, subtype = path.partition("/")
    words = t.word("section", section)
    return f"{words} / {t.word('subtype', subtype)}" if subtype else words
