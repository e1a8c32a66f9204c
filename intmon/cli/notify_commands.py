"""`intmon contacts`, `intmon notifications` and `intmon notify`: who is told, what was
queued for them, and whether a channel reaches them.

Reads go through `alerts.notifications_view`; `notify test` sends one rendered
`test` message right now through the channels of the applied `channels:` block
(`alerts.housekeeping.open_channels`), outside the outbox. Nothing printed holds
a secret: webhook URLs are shown by host, Slack URLs as their `${ENV}` reference
at most, and channel errors arrive with every resolved secret redacted.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from intmon.cli.output import EXIT_FAILED, console, fail, print_json, refused, when

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from alerts.channels import Channel, Notice, Recipient
    from alerts.contacts import ContactSpec
    from alerts.contacts_view import ContactsReport, ContactView
    from alerts.notifications_view import NotificationView

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

contacts_app = typer.Typer(
    name="contacts",
    help="Who is notified: contacts of clients and integrations.",
    no_args_is_help=True,
)
notifications_app = typer.Typer(
    name="notifications",
    help="Notifications queued for contacts, and their delivery.",
    no_args_is_help=True,
)
notify_app = typer.Typer(
    name="notify", help="Send notifications by hand (a test message).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(contacts_app)
    app.add_typer(notifications_app)
    app.add_typer(notify_app)


class StatusFilter(enum.StrEnum):
    ALL = "all"
    PENDING = "pending"
    HELD = "held"
    SENT = "sent"
    DEAD = "dead"


class ChannelKind(enum.StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"
    SLACK = "slack"
    TELEGRAM = "telegram"


STATUS_STYLE = {"pending": "cyan", "held": "yellow", "sent": "green", "dead": "red"}


def _context() -> tuple[Engine, datetime]:
    """The database and the clock every command runs with."""
    from core import db
    from intmon.cli.database import open_database

    return open_database(migrate=False), db.utcnow()


# --- contacts -------------------------------------------------------------------------


@contacts_app.command("list")
def contacts_list(
    client: Annotated[str | None, typer.Option(help="Only this client's contacts.")] = None,
    integration: Annotated[
        str | None,
        typer.Option("--integration", "-i", help="Who is told about it: its and its client's."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every contact, its roles, channels, hours and escalation level; then the
    required roles each production integration lacks."""
    from alerts.contacts_view import list_contacts

    engine, now = _context()
    with refused():
        report = list_contacts(engine, now, client=client, integration_id=integration)
    if as_json:
        print_json(report.as_dict())
        return
    console.print(contacts_table(report))
    coverage_print(report)


def contacts_table(report: ContactsReport) -> Table:
    table = Table(title="Contacts")
    for column in ("source", "name", "roles", "channels", "locale", "hours", "level"):
        table.add_column(column, justify="right" if column == "level" else "left")
    for c in report.contacts:
        table.add_row(
            escape(c.source),
            escape(c.name),
            "\n".join(c.contact.roles),
            "\n".join(escape(r.label()) for r in c.reach),
            c.contact.locale,
            hours_text(c),
            str(c.contact.escalation_level),
        )
    return table


def hours_text(c: ContactView) -> str:
    if c.hours is None:
        return "any time"
    state = (
        "[green]open now[/green]"
        if c.open_now
        else f"[yellow]closed[/yellow], opens {when(c.next_open)} UTC"
    )
    return f"{escape(c.hours)}\n{state}"


def coverage_print(report: ContactsReport) -> None:
    if not report.coverage:
        console.print("No production integrations in this selection.")
        return
    console.print(
        f"\n[bold]Production coverage[/bold] (required roles: {', '.join(report.required_roles)})",
        soft_wrap=True,
    )
    table = Table()
    for column in ("production integration", "client", "missing roles"):
        table.add_column(column)
    for gap in report.coverage:
        missing = (
            f"[red]{', '.join(gap.missing_roles)}[/red]" if gap.missing_roles else "[green]none"
        )
        table.add_row(escape(gap.integration_id), escape(gap.client), missing)
    console.print(table)


# --- notifications --------------------------------------------------------------------


@notifications_app.command("list")
def notifications_list(
    status: Annotated[
        StatusFilter, typer.Option(help="held: waits for available_at; pending: due, unsent.")
    ] = StatusFilter.ALL,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Notifications queued for contacts, newest first."""
    from alerts.notifications_view import list_notifications

    engine, now = _context()
    with refused():
        views = list_notifications(
            engine, now, status=None if status is StatusFilter.ALL else status.value, limit=limit
        )
    if as_json:
        print_json([v.as_dict() for v in views])
        return
    table = Table(title="Notifications")
    for column in ("id", "status", "channel", "event", "recipient", "tries", "when", "detail"):
        table.add_column(column, justify="right" if column in ("id", "tries") else "left")
    for v in views:
        style = STATUS_STYLE[v.status]
        event = v.event + (f"\n{v.ticket}" if v.ticket else "")
        recipient = v.recipient + (f"\n{v.address}" if v.address else "")
        table.add_row(
            str(v.id),
            f"[{style}]{v.status}[/{style}]",
            v.channel,
            escape(event),
            escape(recipient),
            str(v.attempts),
            notification_when(v),
            notification_detail(v),
        )
    console.print(table)


def notification_when(v: NotificationView) -> str:
    if v.status == "sent":
        return f"sent {when(v.sent_at)}"
    if v.status == "dead":
        return f"dead {when(v.dead_at)}"
    if v.status == "held":
        return f"held until {when(v.available_at)}"
    return f"due {when(v.available_at)}"


def notification_detail(v: NotificationView) -> str:
    lines = []
    if v.last_error:
        lines.append(f"[red]{escape(v.last_error)}[/red]")
    if v.reason:
        lines.append(f"[dim]{escape(v.reason)}[/dim]")
    return "\n".join(lines)


# --- notify test ----------------------------------------------------------------------


@notify_app.command("test")
def notify_test(
    contact: Annotated[
        str, typer.Argument(help="The contact's name (case-insensitive).", show_default=False)
    ],
    channel: Annotated[
        ChannelKind | None,
        typer.Option(help="Only this channel (default: every channel the contact has)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a test message to a contact now, on each of its channels: exit 1 if a send fails."""
    from alerts.contacts_view import the_contact
    from alerts.housekeeping import open_channels
    from alerts.sender import close_all

    engine, now = _context()
    with refused():
        view = the_contact(engine, contact, now)
    reachable = [r.channel for r in view.reach]
    if channel is not None and channel.value not in reachable:
        fail(
            f"--channel: {view.name} has no {channel.value} address; "
            f"reachable on {', '.join(reachable)}"
        )
    wanted = [channel.value] if channel is not None else reachable
    channels = open_channels(engine)
    try:
        missing = [kind for kind in wanted if kind not in channels]
        if missing:
            blocks = ", ".join(f"channels.{kind}" for kind in missing)
            others = [kind for kind in wanted if kind in channels]
            hint = f"; test the others with --channel {others[0]}" if others else ""
            fail(
                f"{', '.join(missing)}: not configured (the applied file has no {blocks} "
                f"block){hint}"
            )
        notice = sample_notice(engine, view, now)
        results = [
            send_one(channels[kind], kind, view.contact, notice, _address(view, kind))
            for kind in wanted
        ]
    finally:
        close_all(channels)
    failed = any(not r["sent"] for r in results)
    if as_json:
        print_json(
            {
                "contact": view.name,
                "source": view.source,
                "locale": view.contact.locale,
                "subject": notice.subject,
                "idempotency_key": notice.idempotency_key,
                "results": results,
            }
        )
    else:
        console.print(
            f"Test notification to {escape(view.name)} ({escape(view.source)}), "
            f"locale {view.contact.locale}: {escape(notice.subject)}",
            soft_wrap=True,
        )
        table = Table()
        for column in ("channel", "address", "result"):
            table.add_column(column)
        for r in results:
            outcome = "[green]sent[/green]" if r["sent"] else f"[red]{escape(r['error'])}[/red]"
            table.add_row(r["channel"], escape(r["address"] or "-"), outcome)
        console.print(table)
    if failed:
        raise typer.Exit(EXIT_FAILED)


def _address(view: ContactView, kind: str) -> str | None:
    from alerts.contacts import CHANNEL_FIELDS
    from alerts.contacts_view import shown_address

    return shown_address(kind, getattr(view.contact, CHANNEL_FIELDS[kind]))


def sample_notice(engine: Engine, view: ContactView, now: datetime) -> Notice:
    """The `test` event in the contact's locale, with example facts of one of its
    integrations (the contact's own, else its client's first) so it shows how a
    real alert reads."""
    from alerts.channels import Notice
    from alerts.render import render
    from integrations.registry import load_specs

    specs = sorted(
        (r.spec for r in load_specs(engine).values() if r.spec.client == view.client),
        key=lambda spec: (spec.id != view.integration_id, spec.id),
    )
    integration_id, integration_name = (
        (specs[0].id, specs[0].name) if specs else ("example", "Example integration")
    )
    context: dict[str, Any] = {
        "contact_name": view.name,
        "ticket": "INC-000000",
        "integration_id": integration_id,
        "integration_name": integration_name,
        "family": "connectivity",
        "outcome": "timeout",
        "first_seen": now,
        "timezone": view.contact.timezone,
    }
    rendered = render("test", view.contact.locale, context)
    return Notice(
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        idempotency_key=f"notify-test-{uuid.uuid4().hex}",
        data={"event": "test", **context},
    )


def send_one(
    channel: Channel, kind: str, contact: ContactSpec, notice: Notice, address: str | None
) -> dict[str, Any]:
    """Send on one channel; the result with the (already redacted) error, if any."""
    from alerts.channels import ChannelError
    from integrations.errors import SecretUnavailable

    error: str | None = None
    try:
        channel.send(_recipient(contact, kind), notice)
    except ChannelError as failure:
        error = str(failure)
    except SecretUnavailable as failure:  # the Slack URL's reference
        error = f"{kind} channel, recipient {contact.name!r}: {failure}"
    return {"channel": kind, "address": address, "sent": error is None, "error": error}


def _recipient(contact: ContactSpec, kind: str) -> Recipient:
    """The contact as a channel's recipient; the Slack URL is read only to send on Slack."""
    from alerts.channels import Recipient
    from integrations.secrets import resolve

    slack = contact.slack_webhook_url
    return Recipient(
        name=contact.name,
        email=contact.email,
        webhook_url=contact.webhook_url,
        slack_webhook_url=resolve(slack, set()) if kind == "slack" and slack else None,
        telegram_chat=contact.telegram_chat,
        locale=contact.locale,
    )
