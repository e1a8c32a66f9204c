"""Rendering: an event and its facts → a message (subject, text and HTML) in a locale.

Templates live in `alerts/templates/<locale>/<event>.txt` (the subject, set as a
top-level `subject` variable, and the plain-text body) and `<event>.html` (the
HTML body, autoescaped). Every message shows the ticket number, the integration's
name and id, the failure family's topic and class, when it was first seen (in the
contact's time zone, else UTC, the zone named) and a link, or the CLI command
when no base URL is configured.

The context a caller passes (all events):

    ticket            "INC-000042" or the ticket id 42; None for a platform-side
                      incident, which has none (then `incident`, its id, is named)
    integration_name, integration_id, family ("connectivity", …)
    first_seen        an aware datetime or ISO 8601 string
    outcome, detail   optional: the failure class ("timeout") and a detail line
    changes           optional: what changed in the partner's answer since the
                      check last passed ("`$.status` removed, `$.state` added")
    severity          optional: "emergency" or "normal"; by default the family's
    command           optional: for a platform-side notice, the command to look
                      (by default `intmon incidents show ID`)
    timezone          optional: the contact's zone (ContactSpec.timezone); None = UTC
    base_url          optional: the web console; links go to <base_url>/tickets/INC-…
                      and <base_url>/integrations/<id> (INTMON_PUBLIC_URL, set by
                      alerts.deliver); without it the CLI command is named

and per event: incident.resolved `resolved_at`; incident.reminder
`reminder_number` (and optional `max_reminders`); escalation `level` (and optional
`unacknowledged_minutes`); ticket.commented `comment` (and optional `author`, and
`awaiting_reply`: the answer moved the ticket to waiting for the client, so the
mail says when it closes);
ticket.waiting_for_reply optional `auto_close_days` (default from Policy);
ticket.closed optional `close_reason`; ticket.sla_breached `due_at`, `tier`;
test `contact_name`; mail.reply `reason` (a `mail_replies.Verdict` or
"attachments_ignored"), `subject`, `address`, `attachments`, and `ticket` (None
when the sender must not learn it); digest `items`, a list of the contexts above each with its
`event` (timezone and base_url are taken from the top level).

A missing value is a ValueError naming it (from Jinja's StrictUndefined), never a
message with a blank in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from jinja2.exceptions import UndefinedError

from alerts.families import TOPICS, Family
from alerts.policy import DAY, Policy
from alerts.routing import severity_of
from alerts.tickets import ticket_number
from alerts.wording import said_outcome, said_reason
from integrations.windows import aware, zone_of

LOCALES = ("ru", "en")
DIGESTIBLE = (
    "incident.opened",
    "incident.resolved",
    "incident.reminder",
    "escalation",
    "ticket.opened",
    "ticket.commented",
    "ticket.waiting_for_reply",
    "ticket.closed",
    "ticket.sla_breached",
)
EVENTS = (*DIGESTIBLE, "digest", "test")
# Not notifications of an event but intmon answering a message that came by e-mail
# (alerts.mail_replies): no ticket facts, never in a digest.
ANSWERS = ("mail.reply",)
SUBJECT_MAX = 200

# Values a template may test for; every other value it uses must be given.
OPTIONAL: dict[str, Any] = {
    "topic": None,
    "outcome": None,
    "detail": None,
    "changes": None,
    "author": None,
    "awaiting_reply": False,
    "close_reason": None,
    "max_reminders": None,
    "unacknowledged_minutes": None,
    # A platform-side notice's command instead of `intmon incidents list`.
    "command": None,
    "auto_close_days": int(Policy().auto_close_after_s // DAY),  # seed 001: 2 days
}

TOPICS_RU: dict[Family, str] = {
    Family.AUTH: "Ошибка аутентификации в API партнёра",
    Family.CONNECTIVITY: "API партнёра недоступен",
    Family.SERVER: "Ошибки сервера API партнёра",
    Family.CONTRACT: "Контракт API партнёра изменился или запросы отклоняются",
    Family.RATE_LIMIT: "Превышен лимит запросов к API партнёра",
    Family.DEGRADED: "API партнёра отвечает медленно",
    Family.E2E: "Сквозной сценарий интеграции не проходит",
    Family.PLATFORM: "intmon не может выполнять проверки: его конфигурация или его "
    "собственная сеть (сторона платформы)",
    Family.HEARTBEAT: "Плановое задание перестало отчитываться или сообщило об ошибке (heartbeat)",
    Family.POSTBACK: "Постбэки брокера о переданных лидах прекратились или стали редкими",
    Family.LEAD_FLOW: "Брокер принимает намного меньше лидов или отвечает намного медленнее "
    "обычного",
}
TOPIC_TABLES: dict[str, Mapping[Family, str]] = {"en": TOPICS, "ru": TOPICS_RU}


@dataclass(frozen=True)
class Rendered:
    subject: str  # one line, at most SUBJECT_MAX characters
    text: str
    html: str


def moment(value: datetime | str, zone: str | None) -> str:
    """`2026-03-27 18:00 Europe/Moscow (UTC+03:00)`, or `… 15:00 UTC` without a zone."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    utc = aware(value)
    if zone is None:
        return f"{utc:%Y-%m-%d %H:%M} UTC"
    local = utc.astimezone(zone_of(zone))
    offset = f"{local:%z}"
    return f"{local:%Y-%m-%d %H:%M} {zone} (UTC{offset[:3]}:{offset[3:]})"


def topic(family: str, locale: str) -> str:
    return TOPIC_TABLES[locale][Family(family)]


def ticket_url(ticket: str, base_url: str) -> str:
    return f"{base_url}/tickets/{ticket}"


def integration_url(integration_id: str, base_url: str) -> str:
    """The console's page of an integration (its incidents, results and contract)."""
    return f"{base_url}/integrations/{quote(integration_id, safe='')}"


def plural_ru(count: int, one: str, few: str, many: str) -> str:
    """The Russian form for `count`: 1 день, 2 дня, 5 дней (11–14 take `many`)."""
    tens, units = abs(count) % 100, abs(count) % 10
    if 11 <= tens <= 14:
        return many
    return one if units == 1 else few if 2 <= units <= 4 else many


def one_line(subject: str) -> str:
    flat = " ".join(subject.split())
    return flat if len(flat) <= SUBJECT_MAX else flat[: SUBJECT_MAX - 1] + "…"


ENVIRONMENT = Environment(
    loader=PackageLoader("alerts", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENVIRONMENT.filters.update(
    moment=moment,
    topic=topic,
    ticket_url=ticket_url,
    integration_url=integration_url,
    plural_ru=plural_ru,
    said_outcome=said_outcome,
    said_reason=said_reason,
)


def render(event: str, locale: str, context: Mapping[str, Any]) -> Rendered:
    """The message for `event` in `locale`; ValueError names an unknown event or
    locale, or the context value a template needed and did not get."""
    if event not in EVENTS and event not in ANSWERS:
        raise ValueError(f"unknown event {event!r}; one of {', '.join((*EVENTS, *ANSWERS))}")
    if locale not in LOCALES:
        raise ValueError(f"unknown locale {locale!r}; one of {', '.join(LOCALES)}")
    variables = _variables(event, locale, context)
    try:
        module = ENVIRONMENT.get_template(f"{locale}/{event}.txt").make_module(variables)
        subject = one_line(str(getattr(module, "subject")))  # noqa: B009 (set by the template)
        html = ENVIRONMENT.get_template(f"{locale}/{event}.html").render(variables, subject=subject)
    except UndefinedError as error:
        raise ValueError(f"{locale}/{event}: missing context value: {error.message}") from error
    return Rendered(subject, str(module).strip() + "\n", html.strip() + "\n")


def _variables(event: str, locale: str, context: Mapping[str, Any]) -> dict[str, Any]:
    zone = context.get("timezone")
    if zone is not None:
        zone_of(zone)
    base_url = context.get("base_url")
    base_url = base_url.rstrip("/") if base_url else None
    variables: dict[str, Any] = {
        "locale": locale,
        "n": _notice(context, zone, base_url, event),
    }
    if event == "digest" and "items" in context:
        items = list(context["items"])
        for index, item in enumerate(items):
            if item.get("event") not in DIGESTIBLE:
                raise ValueError(
                    f"digest: items[{index}].event is {item.get('event')!r}; "
                    f"one of {', '.join(DIGESTIBLE)}"
                )
        variables["items"] = [_notice(item, zone, base_url) for item in items]
    return variables


# A ticket made by hand has no integration or failure: its topic stands in. Only
# ticket messages may lack these; an incident's message must have them.
TICKET_OPTIONAL: dict[str, Any] = {
    "integration_name": None,
    "integration_id": None,
    "family": None,
    "first_seen": None,
}


def _notice(
    data: Mapping[str, Any], zone: str | None, base_url: str | None, event: str = ""
) -> dict[str, Any]:
    optional = (
        {**OPTIONAL, **TICKET_OPTIONAL}
        if str(data.get("event", event)).startswith("ticket.")
        else OPTIONAL
    )
    notice = {**optional, **data, "timezone": zone, "base_url": base_url}
    if isinstance(notice.get("ticket"), int):
        notice["ticket"] = ticket_number(notice["ticket"])
    # A platform-side incident has no ticket: its messages name the incident instead.
    notice["internal"] = notice.get("ticket") is None and notice.get("incident") is not None
    if notice["internal"]:
        notice["ticket"] = f"#{notice['incident']}"
    if notice.get("family") and "severity" not in data:
        notice["severity"] = severity_of(notice["family"])
    return notice
