"""`intmon tickets list | show | comment | set | create`: reading and working the
support queue.

Reads go through `alerts.queries`; each write is calls into `alerts.tickets`
in one transaction. Input the lifecycle refuses (an unknown ticket, a
forbidden transition, a section that may no longer change) is one line on
stderr and exit 2, never a traceback.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from integrations.tiers import Tier
from intmon.cli.alerts_common import _context, incidents_table
from intmon.cli.output import console, errors, fail, print_json, refused, when

if TYPE_CHECKING:
    from alerts.queries import CommentView, TicketView
    from alerts.tickets import Actor

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
NumberArg = Annotated[
    str, typer.Argument(help="Ticket number: INC-000042 or 42.", show_default=False)
]
AuthorOpt = Annotated[
    str | None,
    typer.Option(help="Name recorded as the author (default: support, the client, or intmon)."),
]

tickets_app = typer.Typer(
    name="tickets",
    help="The support queue: list, read, answer and move tickets.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(tickets_app)


class CommentAs(enum.StrEnum):
    SUPPORT = "support"
    CLIENT = "client"


class ActAs(enum.StrEnum):
    SUPPORT = "support"
    CLIENT = "client"
    SYSTEM = "system"


STATUS_STYLE = {
    "open": "cyan",
    "in_progress": "blue",
    "waiting_for_reply": "yellow",
    "closed": "green",
    "rejected": "dim",
}
SLA_STYLE = {"met": "green", "breached": "red", "due": "yellow", "n/a": "dim"}


def styled(value: str, styles: dict[str, str]) -> str:
    style = styles.get(value, "white")
    return f"[{style}]{escape(value)}[/{style}]"


# --- tickets: reading ---------------------------------------------------------------


@tickets_app.command("list")
def tickets_list(
    status: Annotated[str | None, typer.Option(help="open, in_progress, … rejected.")] = None,
    client: str | None = None,
    integration: Annotated[str | None, typer.Option("--integration", "-i")] = None,
    section: Annotated[str | None, typer.Option(help="system_errors, app_help, …")] = None,
    limit: int = 200,
    cursor: Annotated[
        str | None, typer.Option(help="The next page: the cursor the previous page printed.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Tickets in queue order: active ones by first-response deadline, then finished ones.

    When more tickets follow, the cursor of the next page is printed on stderr."""
    from alerts.queries import ticket_page
    from alerts.ticket_pages import TicketFilter

    engine, now, policy = _context()
    with refused():
        filters = TicketFilter(status, section, client, integration)
        page = ticket_page(engine, filters, limit=limit, cursor=cursor, policy=policy, now=now)
    views = page.items
    if page.next_cursor is not None:
        errors.print(f"more tickets follow: --cursor {page.next_cursor}", soft_wrap=True)
    if as_json:
        print_json([v.as_dict() for v in views])
        return
    table = Table(title="Tickets")
    table.add_column("number", no_wrap=True)
    for column in ("status", "client", "integration", "topic", "SLA due", "created"):
        table.add_column(column)
    for v in views:
        due = when(v.sla_due_at) + " " if v.active else ""
        table.add_row(
            v.number,
            styled(v.status, STATUS_STYLE),
            escape(v.client),
            escape(v.integration_id or "-"),
            escape(v.topic),
            due + styled(v.sla, SLA_STYLE),
            when(v.created_at),
        )
    console.print(table)


@tickets_app.command("show")
def tickets_show(
    number: NumberArg,
    public_only: Annotated[
        bool, typer.Option("--public-only", help="Only what the client sees.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """One ticket: header, form, comments, history and its incidents."""
    from alerts.queries import ticket_detail

    engine, now, policy = _context()
    with refused():
        detail = ticket_detail(
            engine, number, include_internal=not public_only, policy=policy, now=now
        )
    if as_json:
        print_json(detail.as_dict())
        return
    print_header(detail.ticket)
    print_form(detail.form)
    print_comments(detail.comments)
    history = Table(title="History")
    for column in ("at", "by", "action", "change"):
        history.add_column(column)
    for h in detail.history:
        change = " → ".join(escape(v) for v in (h.old, h.new) if v is not None)
        action = f"{h.action} via {h.via}" if h.via else h.action
        history.add_row(when(h.at), escape(f"{h.actor_kind} {h.actor}"), action, change)
    console.print(history)
    if detail.incidents:
        console.print(incidents_table(detail.incidents, "Incidents"))


def print_header(t: TicketView) -> None:
    console.print(f"[bold]{t.number}[/bold]  {escape(t.topic)}", soft_wrap=True)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    section = f"{t.section}/{t.subtype}" if t.subtype else t.section
    rows = [
        ("status", styled(t.status, STATUS_STYLE)),
        ("client", f"{escape(t.client)} ({t.tier})"),
        ("section", section),
        ("integration", escape(f"{t.integration_id} ({t.family})" if t.family else "-")),
        ("origin", t.origin),
        ("created", f"{when(t.created_at)} UTC, updated {when(t.updated_at)}"),
        ("first response", f"due {when(t.sla_due_at)}, " + styled(t.sla, SLA_STYLE)),
    ]
    if t.first_responded_at:
        rows.append(("responded", when(t.first_responded_at)))
    if t.closed_at:
        rows.append(("closed", f"{when(t.closed_at)} ({escape(t.close_reason or '-')})"))
    for key, value in rows:
        grid.add_row(key, value)
    console.print(grid)


# Shown first and in this order; every other field follows as key: value.
FORM_ORDER = ("summary", "description", "request", "response", "steps_to_reproduce")


def print_form(form: dict[str, Any]) -> None:
    if not form:
        return
    console.print("\n[bold]Form[/bold]")
    for key in [k for k in FORM_ORDER if k in form] + [k for k in form if k not in FORM_ORDER]:
        lines = form_lines(key, form[key])
        label = f"[dim]{escape(key.replace('_', ' '))}:[/dim]"
        if len(lines) == 1 and not isinstance(form[key], list):
            console.print(f"{label} {escape(lines[0])}", soft_wrap=True)
            continue
        console.print(label)
        for line in lines:
            console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)


def form_lines(key: str, value: Any) -> list[str]:
    """One form field as lines of text: the request line and headers, the excerpt, steps."""
    if key == "request" and isinstance(value, dict):
        headers = value.get("headers") or {}
        first = f"{value.get('method', '')} {value.get('url', '')}".strip()
        return [first, *(f"  {k}: {v}" for k, v in headers.items())]
    if key == "response" and isinstance(value, dict):
        excerpt = str(value.get("excerpt", ""))
        status = f"HTTP {value.get('status', '-')}"
        return [status, *(f"  {line}" for line in excerpt[:500].splitlines())]
    if isinstance(value, list):
        return [f"{i}. {item}" for i, item in enumerate(value, 1)]
    if isinstance(value, dict):
        return [", ".join(f"{k}: {v}" for k, v in value.items())]
    return str(value).splitlines() or [""]


def print_comments(comments: list[CommentView]) -> None:
    console.print(f"\n[bold]Comments ({len(comments)})[/bold]")
    for c in comments:
        tag = " [yellow]internal[/yellow]" if c.visibility == "internal" else ""
        console.print(
            f"[dim]#{c.id} {when(c.created_at)}[/dim] {escape(f'{c.author_kind} {c.author}')}{tag}"
        )
        console.print("  " + c.body.replace("\n", "\n  "), markup=False, soft_wrap=True)


# --- tickets: writing ---------------------------------------------------------------


def _actor(kind: str, author: str | None, client: str) -> Actor:
    from alerts.tickets import SYSTEM, Actor

    if author is None:
        return SYSTEM if kind == "system" else Actor(kind, client if kind == "client" else kind)
    return Actor(kind, author)


@tickets_app.command("comment")
def tickets_comment(
    number: NumberArg,
    body: Annotated[str, typer.Option(help="The comment text.", show_default=False)],
    as_: Annotated[CommentAs, typer.Option("--as", help="Who writes.")] = CommentAs.SUPPORT,
    author: AuthorOpt = None,
    internal: Annotated[bool, typer.Option(help="Visible to support only.")] = False,
    keep_working: Annotated[
        bool,
        typer.Option(
            help="Support's answer keeps the ticket in progress instead of waiting for "
            "the client's reply."
        ),
    ] = False,
) -> None:
    """Add a comment. Support's first public comment answers the SLA clock; a public
    support answer moves the ticket to waiting for the client (or in progress)."""
    from alerts import tickets

    engine, now, policy = _context()
    with refused(), engine.begin() as connection:
        ticket = tickets.load(connection, number)
        comment_id = tickets.comment(
            connection,
            ticket.id,
            body=body,
            actor=_actor(as_.value, author, ticket.client),
            now=now,
            visibility="internal" if internal else "public",
            policy=policy,
            awaiting_client=not keep_working,
        )
        status = tickets.load(connection, ticket.id).status
    console.print(f"{tickets.ticket_number(ticket.id)}: comment #{comment_id} added ({status})")


@tickets_app.command("set")
def tickets_set(
    number: NumberArg,
    status: Annotated[str | None, typer.Option(help="The new status.")] = None,
    reason: Annotated[
        str | None,
        typer.Option(
            help="Why it is closed or rejected, or why the section changes after work started."
        ),
    ] = None,
    section: Annotated[str | None, typer.Option(help="Move to this section.")] = None,
    subtype: Annotated[str | None, typer.Option(help="The section's subtype.")] = None,
    as_: Annotated[ActAs, typer.Option("--as", help="Who makes the change.")] = ActAs.SUPPORT,
    author: AuthorOpt = None,
) -> None:
    """Change a ticket's status (the lifecycle decides what is allowed) or section."""
    from alerts import tickets

    if subtype is not None and section is None:
        fail("--subtype: only valid together with --section")
    if reason is not None and status is None and section is None:
        fail("--reason: only valid together with --status or --section")
    if status is None and section is None:
        fail("give --status and/or --section")
    engine, now, policy = _context()
    with refused(), engine.begin() as connection:
        ticket = tickets.load(connection, number)
        actor = _actor(as_.value, author, ticket.client)
        # The section first: without a reason it may change only before work
        # starts, and a status change by support counts as starting work.
        if section is not None:
            tickets.set_section(
                connection,
                ticket.id,
                section,
                actor=actor,
                now=now,
                subtype=subtype,
                reason=reason,
            )
        if status is not None:
            tickets.set_status(
                connection, ticket.id, status, actor=actor, now=now, reason=reason, policy=policy
            )
        after = tickets.load(connection, ticket.id)
    where = f"{after.section}/{after.subtype}" if after.subtype else after.section
    console.print(f"{tickets.ticket_number(ticket.id)}: {after.status}, {where}")


@tickets_app.command("create")
def tickets_create(
    client: Annotated[str, typer.Option(help="The client the ticket is for.", show_default=False)],
    section: Annotated[str, typer.Option(help="system_errors, app_help or documents_finance.")],
    topic: Annotated[str, typer.Option(help="One line: what it is about.", show_default=False)],
    body: Annotated[str, typer.Option(help="The question or problem.", show_default=False)],
    subtype: Annotated[str | None, typer.Option(help="Required for documents_finance.")] = None,
    integration: Annotated[str | None, typer.Option("--integration", "-i")] = None,
    tier: Annotated[
        Tier | None, typer.Option(help="Default: the integration's tier, else standard.")
    ] = None,
    as_: Annotated[CommentAs, typer.Option("--as", help="Who files it.")] = CommentAs.SUPPORT,
    author: AuthorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Open a ticket by hand (not from an incident)."""
    from alerts import manual_tickets
    from alerts.queries import ticket_detail

    if not body.strip():
        fail("body: must not be empty")
    engine, now, policy = _context()
    with refused(), engine.begin() as connection:
        ticket_id = manual_tickets.file(
            connection,
            client=client,
            integration_id=integration,
            section=section,
            subtype=subtype,
            topic=topic,
            body=body,
            actor=_actor(as_.value, author, client),
            now=now,
            policy=policy,
            tier=tier.value if tier else None,
        )
    view = ticket_detail(engine, ticket_id, policy=policy, now=now).ticket
    if as_json:
        print_json(view.as_dict())
        return
    console.print(
        f"created {view.number} ({view.tier}, first response due {when(view.sla_due_at)} UTC)"
    )
