"""`intmon leads import | record | deliver | report | flow | show`: the lead ledger.

Input files are JSON Lines; a bad line refuses the whole file with every
problem named by line and field, so nothing is half-imported. The rules live
in `integrations.leads`; this module parses options and prints.
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from intmon.cli.output import console, fail, print_json, read_input, when

if TYPE_CHECKING:
    from sqlalchemy import Engine

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
FileArg = Annotated[
    Path, typer.Argument(help="A JSON Lines file (one object per line), or - for stdin.")
]

leads_app = typer.Typer(
    name="leads", help="The lead-delivery ledger: deliver, record, report.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(leads_app)


def _database() -> Engine:
    from intmon.cli.database import open_database

    return open_database(migrate=False)


def _read_lines(path: Path, model: Any) -> list[Any]:
    """Parse a JSON Lines file into `model`s; LeadError problems become `line N`."""
    from integrations.leads.ledger import LeadError, parse

    text = read_input(path)
    items, numbers, problems = [], [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            problems.append(f"{path}:{number}: not JSON: {exc}")
            continue
        if not isinstance(item, dict):
            problems.append(f"{path}:{number}: expected a JSON object")
            continue
        items.append(item)
        numbers.append(number)
    try:
        parsed = parse(model, items)
    except LeadError as error:
        problems += [f"{path}:{numbers[i]}: {field}: {msg}" for i, field, msg in error.problems]
    if problems:
        fail("\n".join(problems))
    return list(zip(numbers, parsed, strict=True))


@leads_app.command("import")
def leads_import(
    file: FileArg,
    now_: Annotated[
        bool, typer.Option("--deliver-now", help="Also run one delivery pass in this process.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Queue leads for delivery (each object: id, integration, fields[, test])."""
    from core.db import utcnow
    from integrations.leads.ledger import LeadError, LeadIn, submit
    from integrations.registry import load_specs

    engine = _database()
    numbered = _read_lines(file, LeadIn)
    specs = {key: registered.spec for key, registered in load_specs(engine).items()}
    try:
        done = submit(engine, [lead for _n, lead in numbered], specs, utcnow())
    except LeadError as error:
        fail("\n".join(f"{file}:{numbered[i][0]}: {f}: {m}" for i, f, m in error.problems))
    summary: dict[str, Any] = done.as_dict()
    if now_:
        summary["delivery"] = _deliver(engine)
    if as_json:
        print_json(summary)
        return
    console.print(f"queued {len(done.stored)} lead(s); {len(done.duplicates)} already known")
    if now_:
        console.print(f"delivery pass: {summary['delivery']}")


def _deliver(engine: Engine) -> dict[str, Any]:
    from alerts.lead_holds import open_incident_holds
    from checks.loop import EngineThread
    from core.db import utcnow
    from core.settings import get_settings
    from integrations.leads.dispatch import deliver_due
    from worker.runtime import budget_for, probe_settings

    settings = get_settings()
    probes = EngineThread(probe_settings(settings))
    budget = budget_for(settings.redis_url, settings.namespace)
    try:
        report = deliver_due(
            engine,
            probes.run_batch,
            budget,
            utcnow,
            hold=open_incident_holds,
            lease_s=settings.lead_lease_s,
        )
    finally:
        probes.close()
    return {
        "sent": report.sent,
        "held": report.held,
        "expired": report.expired,
        "outcomes": report.outcomes,
    }


@leads_app.command("deliver")
def leads_deliver(as_json: JsonOpt = False) -> None:
    """Run delivery passes in this process now (workers do this on their own)."""
    summary = _deliver(_database())
    if as_json:
        print_json(summary)
    else:
        console.print(f"delivery pass: {summary}")


@leads_app.command("record")
def leads_record(file: FileArg, as_json: JsonOpt = False) -> None:
    """Record attempts the platform made itself (lead_id, integration, attempt, at, outcome, …)."""
    from integrations.leads.ledger import AttemptIn, LeadError, record
    from integrations.registry import load_specs

    engine = _database()
    numbered = _read_lines(file, AttemptIn)
    try:
        done = record(engine, [a for _n, a in numbered], set(load_specs(engine)))
    except LeadError as error:
        fail("\n".join(f"{file}:{numbered[i][0]}: {f}: {m}" for i, f, m in error.problems))
    if as_json:
        print_json(done.as_dict())
    else:
        console.print(
            f"recorded {len(done.stored)} attempt(s); {len(done.duplicates)} already known"
        )


def _moment(value: str | None, option: str, default: datetime) -> datetime:
    if value is None:
        return default
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: not an ISO date or time: {value!r}")
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return moment


@leads_app.command("report")
def leads_report(
    integration: Annotated[
        list[str] | None, typer.Option("--integration", "-i", help="Repeatable; default: all.")
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="Start (ISO); default 7 days ago.")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="End, exclusive (ISO); default now.")
    ] = None,
    format_: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """Delivered, failed, held and expired leads, and who is liable for each lost one."""
    from alerts.lead_report import build_report
    from core.db import utcnow
    from integrations.registry import load_specs

    if format_ not in ("table", "csv", "json"):
        fail(f"--format: one of table, csv, json; not {format_!r}")
    engine = _database()
    now = utcnow()
    known = sorted(load_specs(engine))
    unknown = sorted(set(integration or []) - set(known))
    if unknown:
        fail(f"--integration: unknown integration(s): {', '.join(unknown)}")
    start = _moment(from_, "--from", now - timedelta(days=7))
    end = _moment(to, "--to", now + timedelta(seconds=1))  # up to and including now
    report = build_report(engine, integration or known, start, end)
    if format_ == "json":
        print_json(report.as_dict())
    elif format_ == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(["integration", "lead_id", "outcome", "at", "liable", "reason", "evidence"])
        for lead in report.leads:
            writer.writerow(
                [
                    lead.integration_id,
                    lead.lead_id,
                    lead.outcome,
                    lead.at.isoformat(),
                    lead.party,
                    lead.reason,
                    " ".join(lead.evidence),
                ]
            )
    else:
        print_report(report)


def print_report(report: Any, *, evidence_rows: int | None = None) -> None:
    """The report as tables; `evidence_rows` caps the per-lead evidence (the demo's view)."""
    summary = Table(title=f"Leads {when(report.start)} – {when(report.end)} UTC")
    summary.add_column("outcome")
    summary.add_column("leads", justify="right")
    for outcome, count in sorted(report.outcomes.items()):
        summary.add_row(outcome, str(count))
    summary.add_row("[bold]total[/bold]", f"[bold]{report.total}[/bold]")
    console.print(summary)
    liable = Table(title="Liability for leads not delivered")
    for column in ("broker", "platform", "undetermined"):
        liable.add_column(column, justify="right")
    liable.add_row(
        *(str(report.liability.get(c, 0)) for c in ("broker", "platform", "undetermined"))
    )
    console.print(liable)
    if report.leads:
        table = Table(title="Evidence")
        for column in ("integration", "lead", "outcome", "at", "liable", "reason", "evidence"):
            table.add_column(column)
        shown = report.leads if evidence_rows is None else report.leads[:evidence_rows]
        for lead in shown:
            table.add_row(
                escape(lead.integration_id),
                escape(lead.lead_id),
                lead.outcome,
                when(lead.at),
                lead.party,
                escape(lead.reason),
                escape(" ".join(lead.evidence)),
            )
        console.print(table)
        if len(shown) < len(report.leads):
            console.print(
                f"… and {len(report.leads) - len(shown)} more: "
                "intmon leads report --format table|csv|json"
            )


@leads_app.command("flow")
def leads_flow(
    integration: Annotated[
        list[str] | None,
        typer.Option("--integration", "-i", help="Repeatable; default: all with lead_flow."),
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="End of the window judged (ISO); default now.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Acceptance and delivery time of the last window against the same hour of past weeks."""
    from core.db import utcnow
    from integrations.leads.flow import verdicts
    from integrations.registry import load_specs

    engine = _database()
    specs = {key: registered.spec for key, registered in load_specs(engine).items()}
    unknown = sorted(set(integration or []) - set(specs))
    if unknown:
        fail(f"--integration: unknown integration(s): {', '.join(unknown)}")
    chosen = [specs[key] for key in integration] if integration else list(specs.values())
    without = sorted(spec.id for spec in chosen if spec.lead_flow is None)
    if integration and without:
        fail(f"--integration: no lead_flow block in the integrations file: {', '.join(without)}")
    found = verdicts(engine, chosen, _moment(at, "--at", utcnow()))
    if as_json:
        print_json([verdict.as_dict() for verdict in found])
        return
    if not found:
        console.print("No integration declares lead_flow (see the README, Lead-flow anomalies).")
        return
    table = Table(title="Lead flow: the last window against the same hours of past weeks")
    for column in ("integration", "state", "accepted now", "usually", "median s", "top reason"):
        table.add_column(column)
    for verdict in found:
        now, usual = verdict.now, verdict.usual
        table.add_row(
            escape(verdict.integration_id),
            {"anomaly": "[red]anomaly[/]", "normal": "[green]normal[/]"}.get(
                verdict.state, "[dim]not judged[/]"
            ),
            f"{_ratio(now.acceptance)} of {now.answered}",
            f"{_ratio(usual.acceptance)} of {usual.answered}",
            f"{_seconds(now.median_s)} / {_seconds(usual.median_s)}",
            escape(now.reasons[0][0]) if now.reasons else "-",
        )
    console.print(table)
    for verdict in found:
        if verdict.anomalous:
            console.print(f"[red]{escape(verdict.sentence())}[/]")


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f} %"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


@leads_app.command("show")
def leads_show(
    lead_id: Annotated[str, typer.Argument(help="The platform's lead id.")],
    integration: Annotated[str, typer.Option("--integration", "-i", help="Integration id.")],
    as_json: JsonOpt = False,
) -> None:
    """Every ledger entry of one lead, and who is liable if it was not delivered."""
    from sqlalchemy import select

    from alerts.lead_report import judge_lead
    from integrations.leads.ledger import ATTEMPTS

    engine = _database()
    with engine.connect() as connection:
        rows = connection.execute(
            select(ATTEMPTS)
            .where(ATTEMPTS.c.integration_id == integration, ATTEMPTS.c.lead_id == lead_id)
            .order_by(ATTEMPTS.c.at, ATTEMPTS.c.id)
        ).all()
        liability = judge_lead(connection, integration, lead_id)
    if not rows:
        fail(f"lead_id: no ledger entry for lead {lead_id!r} of {integration!r}")
    entries = [dict(row._mapping) for row in rows]
    verdict: dict[str, Any] | None = (
        None
        if liability is None
        else {
            "party": liability.party.value,
            "reason": liability.reason,
            "evidence": liability.evidence,
        }
    )
    if as_json:
        print_json(
            {
                "lead_id": lead_id,
                "integration": integration,
                "ledger": entries,
                "liability": verdict,
            }
        )
        return
    table = Table(title=f"Lead {escape(lead_id)} → {escape(integration)}")
    for column in ("#", "at", "outcome", "status", "broker id", "detail"):
        table.add_column(column)
    for e in entries:
        table.add_row(
            str(e["attempt"]),
            when(e["at"]),
            e["outcome"],
            str(e["http_status"] or "-"),
            e["broker_lead_id"] or "-",
            escape(e["detail"][:100]),
        )
    console.print(table)
    if verdict:
        console.print(f"liable: [bold]{verdict['party']}[/bold] — {escape(verdict['reason'])}")
