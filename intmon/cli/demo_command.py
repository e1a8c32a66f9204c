"""`intmon demo`: a sandbox partner, the whole pipeline, and a live table, in under a minute."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from intmon.cli.output import EXIT_FAILED, console, outcome_text, print_json

if TYPE_CHECKING:
    from alerts.queries import IncidentView, TicketView
    from integrations.results import StateView
    from intmon.demo.mailbox import Mail

# pulse-crm's two contacts (intmon/demo/config.py): the platform's and the partner's.
OPERATOR_MAIL = "ops@platform.example"
PARTNER_MAIL = "alerts@pulse-crm.example"


def register(app: typer.Typer) -> None:
    app.command()(demo)


def demo(
    duration: Annotated[float, typer.Option(help="Stop after this many seconds at most.")] = 55.0,
    interval: Annotated[float, typer.Option(help="Check interval of the demo partners.")] = 2.0,
    keep_going: Annotated[
        bool, typer.Option(help="Run the full duration even after every outcome was seen.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="No live table; print a JSON summary.")
    ] = False,
    serve: Annotated[
        bool | None,
        typer.Option(
            "--serve/--no-serve",
            help="Keep serving the web console after the story, until Ctrl-C "
            "(default: only when stdout is a terminal).",
        ),
    ] = None,
) -> None:
    """Watch a sandbox partner go healthy → expired token → slow → outage → changed contract,
    incidents and their tickets open, and recover when it is healthy again."""
    from alerts.policy import policy_of
    from alerts.queries import list_incidents, list_tickets
    from core.egress import ALLOW_VARIABLE
    from core.settings import Settings
    from core.vocabulary.outcomes import Outcome
    from integrations.results import current_states, first_seen_by_outcome
    from intmon.cli.e2e_output import report_table
    from intmon.cli.lead_commands import print_report
    from intmon.config_file import load_config_text
    from intmon.demo.config import (
        EGRESS_ALLOW,
        HEARTBEAT_NAME,
        HEARTBEAT_PERIOD_S,
        demo_config,
    )
    from intmon.demo.e2e import run_demo_scenario
    from intmon.demo.heartbeat import DemoJob
    from intmon.demo.lead_flow import seed_lead_history
    from intmon.demo.leads import LeadFeeder
    from intmon.demo.mail_reply import reply_by_email
    from intmon.demo.mailbox import Mailbox
    from intmon.demo.sandbox import Sandbox
    from intmon.embedded import Embedded
    from intmon.mail_server import MailInServer
    from intmon.serve import demo_console, describe

    workdir = Path(tempfile.mkdtemp(prefix="intmon-demo-"))
    settings = Settings(
        database_url=f"sqlite:///{workdir / 'demo.db'}",
        redis_url=None,
        batch_size=50,
        housekeeping_interval_s=1.0,
        lead_dispatch_interval_s=0.5,
        egress_allow=EGRESS_ALLOW,  # the sandbox and the mailbox live on 127.0.0.1
    )
    # Channels and the lead-expired webhook read the policy from the environment.
    os.environ[ALLOW_VARIABLE] = EGRESS_ALLOW
    with Sandbox() as sandbox, Mailbox() as mailbox:
        config = demo_config(sandbox, interval_s=interval, smtp_port=mailbox.port)
        (workdir / "integrations.yaml").write_text(config.yaml_text)
        os.environ.update(config.environ)  # the workers read secrets from the environment
        loaded = load_config_text(config.yaml_text)
        with (
            Embedded(settings, config=loaded, worker_threads=4) as embedded,
            MailInServer(embedded.db, policy_of(settings), port=0) as mail_in,
        ):
            metrics_server = embedded.serve_metrics(0)
            web, logins = demo_console(embedded.db, settings, client="acme")
            settings.public_url = web.url  # every mail links to the console's pages
            if not as_json:
                console.print(
                    f"[bold]intmon demo[/bold]  sandbox {sandbox.http_url}  "
                    f"metrics http://127.0.0.1:{metrics_server.port}/metrics  "
                    f"replies by e-mail to 127.0.0.1:{mail_in.port}  files in {workdir}"
                )
                console.print(describe(web.url, logins), markup=False, soft_wrap=True)
            # drift-broker's ledger: four ordinary weeks and a bad last hour, judged by the
            # worker's first housekeeping pass.
            seed_lead_history(embedded.db, datetime.now(UTC))
            embedded.start()
            feeder = LeadFeeder(embedded.db).start()  # leads through the outage
            # export-job's nightly export: pings its heartbeat three times, then stops.
            job = DemoJob(
                embedded.db, web.url, "export-job", HEARTBEAT_NAME, every_s=HEARTBEAT_PERIOD_S / 2
            ).start(times=3)
            started = time.monotonic()
            began = datetime.now(UTC)
            seen: dict[str, float] = {}

            story: dict[str, list[IncidentView]] = {"incidents": []}

            def frame() -> Group:
                states = current_states(embedded.db)
                for outcome, first in first_seen_by_outcome(embedded.db).items():
                    seen[outcome.value] = max(0.0, (first - began).total_seconds())
                story["incidents"] = list_incidents(embedded.db, limit=20)
                return Group(
                    _states_table(
                        states, sandbox.current_phase().value, time.monotonic() - started
                    ),
                    _seen_table(seen),
                    _incidents_table(story["incidents"], list_tickets(embedded.db, limit=50)),
                    _mail_table(mailbox.mails()),
                )

            def recovered() -> bool:
                return any(i.state == "resolved" for i in story["incidents"])

            def platform_side_told() -> bool:
                """pulse-crm's missing secret: an internal incident with no client ticket,
                told to the platform's operator and not to the partner."""
                internal = [i for i in story["incidents"] if i.family == "platform"]
                told = {m.to for m in mailbox.mails()}
                return (
                    bool(internal)
                    and not any(i.ticket for i in internal)
                    and OPERATOR_MAIL in told
                    and PARTNER_MAIL not in told
                )

            def finished() -> bool:
                elapsed = time.monotonic() - started
                complete = (
                    len(seen) == len(Outcome)
                    and recovered()
                    and bool(mailbox.mails())
                    and platform_side_told()
                )
                return elapsed >= duration or (not keep_going and complete)

            if as_json:
                while not finished():
                    frame()
                    time.sleep(0.25)
            else:
                with Live(frame(), console=console, refresh_per_second=4) as live:
                    while not finished():
                        time.sleep(0.25)
                        live.update(frame())
            job.stop()
            # The client answers the ticket's mail; the reply becomes a comment.
            arrived = reply_by_email(embedded.db, mailbox.mails(), mail_in.port)
            sandbox.set_phase("healthy")  # the broker recovers: held leads are replayed
            feeder.stop()
            feeder.settle(timeout_s=15.0)
            leads = feeder.report()
            journey = run_demo_scenario(loaded, config.environ)  # intmon/demo/e2e.py

    if not as_json:
        console.print()  # a non-terminal Live leaves the cursor after the last frame
        if arrived is not None:
            console.print(escape(arrived.line()))
        console.print(report_table(journey))
        print_report(leads, evidence_rows=3)
    missing = [o.value for o in Outcome if o.value not in seen]
    incidents = story["incidents"]
    mails = mailbox.mails()
    if not recovered():
        missing.append("a recovered incident")
    if not mails:
        missing.append("a notification e-mail")
    if arrived is None:
        missing.append("a client's reply by e-mail arriving as a comment")
    if not platform_side_told():
        missing.append("a platform-side incident told to the operator only, with no ticket")
    if not journey.passed:
        missing.append("a passing end-to-end scenario")
    if not leads.outcomes.get("delivered"):
        missing.append("a delivered lead")
    elapsed = time.monotonic() - started
    if as_json:
        print_json(
            {
                "seconds": round(elapsed, 1),
                "outcomes_seen": {k: round(v, 1) for k, v in seen.items()},
                "missing": missing,
                "incidents": [i.as_dict() for i in incidents],
                "emails": [{"to": m.to, "subject": m.subject} for m in mails],
                "reply_by_email": arrived.as_dict() if arrived is not None else None,
                "database": str(workdir / "demo.db"),
                "e2e": journey.as_dict(),
                "leads": leads.as_dict(),
                "console": {"url": web.url, "logins": [login.as_dict() for login in logins]},
            }
        )
    elif missing:
        console.print(f"[red]not seen within {elapsed:.0f} s: {', '.join(missing)}[/red]")
    else:
        tickets_opened = len({i.ticket for i in incidents if i.ticket})
        console.print(
            f"[green]all {len(seen)} outcomes seen, {len(incidents)} incidents "
            f"({tickets_opened} tickets), one recovered, {len(mails)} e-mails sent, "
            f"in {elapsed:.0f} s.[/green]\n"
            f"Explore: INTMON_DATABASE_URL=sqlite:///{workdir / 'demo.db'} intmon tickets list"
        )
    if serve if serve is not None else sys.stdout.isatty():
        if not as_json:
            console.print(f"web console still at {web.url} (checks stopped); Ctrl-C to stop")
        web.wait()
    web.stop()
    if missing:
        raise typer.Exit(EXIT_FAILED)


def _states_table(states: list[StateView], phase: str, elapsed: float) -> Table:
    table = Table(title=f"sandbox phase: [bold]{phase}[/bold]   t = {elapsed:4.1f} s")
    for column in ("integration", "check", "outcome", "status", "ms", "detail"):
        table.add_column(column)
    for s in states:
        table.add_row(
            s.integration_id,
            s.check_name,
            outcome_text(s.outcome),
            str(s.http_status or "-"),
            f"{s.duration_s * 1000:.0f}",
            escape(s.detail[:70]),
        )
    return table


def _incidents_table(incidents: list[IncidentView], tickets: list[TicketView]) -> Table:
    status = {t.number: t.status for t in tickets}
    table = Table(title=f"incidents: {len(incidents)} (legacy-shop is under maintenance)")
    columns = ("integration", "family", "state", "failures", "ticket", "ticket status")
    for column in columns:
        table.add_column(column)
    # What the partner's failing answer changed against its learned contract: the
    # evidence that the broker changed something (README, "The liability rule").
    table.add_column("changed since it last passed", overflow="fold")
    for i in incidents:
        style = "red" if i.state == "open" else "green"
        table.add_row(
            i.integration_id,
            i.family + (" (flapping)" if i.flapping else ""),
            f"[{style}]{i.state}[/{style}]",
            str(i.failures),
            i.ticket or ("- (platform side)" if i.family == "platform" else "-"),
            status.get(i.ticket or "", "-"),
            escape(", ".join(i.contract_changes)[:120]),
        )
    return table


def _mail_table(mails: list[Mail]) -> Table:
    table = Table(title=f"e-mails received by the local SMTP sink: {len(mails)} (latest 6)")
    table.add_column("to")
    table.add_column("subject")
    for mail in mails[-6:]:
        table.add_row(escape(mail.to), escape(mail.subject[:90]))
    return table


def _seen_table(seen: dict[str, float]) -> Table:
    from core.vocabulary.outcomes import Outcome

    table = Table(title=f"outcomes seen: {len(seen)}/{len(Outcome)}")
    table.add_column("outcome")
    table.add_column("first seen at")
    for outcome in Outcome:
        at = seen.get(outcome.value)
        table.add_row(
            outcome_text(outcome) if at is not None else f"[dim]{outcome}[/dim]",
            f"{at:.1f} s" if at is not None else "…",
        )
    return table
