"""`intmon uptime`, `intmon rollups rebuild | status` and `intmon report monthly`:
history read from rollups (`integrations.uptime`, `integrations.rollups`,
`alerts.monthly_report`). This module parses options and prints."""

from __future__ import annotations

import csv
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from intmon.cli.output import console, fail, print_json, when

if TYPE_CHECKING:
    from sqlalchemy import Engine

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
FromOpt = Annotated[
    str | None, typer.Option("--from", help="Start, ISO date or time (UTC unless given).")
]
ToOpt = Annotated[str | None, typer.Option("--to", help="End, exclusive; default now.")]

rollups_app = typer.Typer(
    name="rollups",
    help="Hourly and daily sums of check results: status and rebuild.",
    no_args_is_help=True,
)
report_app = typer.Typer(name="report", help="Reports to send to clients.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("uptime")(uptime)
    app.add_typer(rollups_app)
    app.add_typer(report_app)


def _database() -> Engine:
    from intmon.cli.database import open_database

    return open_database(migrate=False)


def _period(start: str | None, end: str | None, now: datetime) -> tuple[datetime, datetime]:
    from integrations.periods import period

    try:
        return period(start, end, now, timedelta(days=30))
    except ValueError as error:
        fail(f"--{error}")


def ratio_text(ratio: Any) -> str:
    if ratio is None:
        return "-"
    style = "green" if ratio >= 0.999 else "yellow" if ratio >= 0.99 else "red"
    return f"[{style}]{ratio * 100:.3f} %[/{style}]"


def uptime(
    integration: Annotated[
        list[str] | None, typer.Option("--integration", "-i", help="Repeatable; default: all.")
    ] = None,
    from_: FromOpt = None,
    to: ToOpt = None,
    per_check: Annotated[bool, typer.Option("--per-check", help="One row per check.")] = False,
    format_: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """Availability per integration (or check): default the last 30 days, with 24 h /
    7 d / 30 d columns. Maintenance and platform outages are shown, not counted."""
    from core.db import utcnow
    from integrations.slo import active_integrations, uptime_summary

    if format_ not in ("table", "csv", "json"):
        fail(f"--format: one of table, csv, json; not {format_!r}")
    engine = _database()
    now = utcnow()
    known = active_integrations(engine)
    unknown = sorted(set(integration or []) - set(known))
    if unknown:
        fail(f"--integration: unknown integration(s): {', '.join(unknown)}")
    start, end = _period(from_, to, now)
    windows = from_ is None and to is None
    rows = uptime_summary(
        engine,
        now,
        start,
        end,
        integration_ids=integration or known,
        per_check=per_check,
        windows=windows,
    )
    if format_ == "json":
        print_json({"from": start, "to": end, "rows": rows})
    elif format_ == "csv":
        _print_csv(rows, windows)
    else:
        _print_table(rows, start, end, per_check=per_check, windows=windows)


def _print_csv(rows: list[dict[str, Any]], windows: bool) -> None:
    columns = ["integration", "check", "from", "to", "total", "up", "down"]
    columns += ["maintenance", "inhibited", "ratio"]
    extra = ["ratio_24h", "ratio_7d", "ratio_30d"] if windows else []
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns + extra)
    for row in rows:
        values = [row[c] for c in columns]
        values = [
            v.isoformat() if isinstance(v, datetime) else ("" if v is None else v) for v in values
        ]
        if windows:
            values += ["" if r is None else r for r in row["windows"].values()]
        writer.writerow(values)


def _print_table(
    rows: list[dict[str, Any]], start: datetime, end: datetime, *, per_check: bool, windows: bool
) -> None:
    table = Table(title=f"Uptime {when(start)} – {when(end)} UTC")
    table.add_column("integration")
    if per_check:
        table.add_column("check")
    for label in ("24h", "7d", "30d") if windows else ("uptime",):
        table.add_column(label, justify="right")
    for column in ("up", "down", "maintenance", "outage", "total"):
        table.add_column(column, justify="right")
    for row in rows:
        cells = [escape(row["integration"])]
        if per_check:
            cells.append(escape(row["check"] or ""))
        if windows:
            cells += [ratio_text(ratio) for ratio in row["windows"].values()]
        else:
            cells.append(ratio_text(row["ratio"]))
        cells += [str(row[c]) for c in ("up", "down", "maintenance", "inhibited", "total")]
        table.add_row(*cells)
    console.print(table)
    if windows:
        console.print("up/down/maintenance/outage/total: the last 30 days")


@rollups_app.command("status")
def rollups_status(as_json: JsonOpt = False) -> None:
    """How far rollups are written, and how far behind now that is."""
    from core.db import utcnow
    from integrations.rollups import lag_seconds, watermark

    engine = _database()
    now = utcnow()
    status: dict[str, Any] = {
        "hour_watermark": watermark(engine, "hour"),
        "day_watermark": watermark(engine, "day"),
        "lag_seconds": lag_seconds(engine, now),
    }
    if as_json:
        print_json(status)
        return
    if status["hour_watermark"] is None:
        console.print("no rollup pass has run yet (the leader's housekeeping runs one)")
        return
    console.print(f"hours rolled up until {when(status['hour_watermark'])} UTC")
    console.print(f"days rolled up until  {when(status['day_watermark'])} UTC")
    console.print(f"lag: {timedelta(seconds=round(status['lag_seconds'] or 0))}")


@rollups_app.command("rebuild")
def rollups_rebuild(from_: FromOpt = None, to: ToOpt = None, as_json: JsonOpt = False) -> None:
    """Rewrite rollups from raw results (default: all raw results still kept). Hours
    whose raw results retention removed keep their rollups."""
    from core.db import utcnow
    from integrations.periods import parse_moment
    from integrations.rollups import rebuild

    try:
        start = parse_moment(from_, "--from") if from_ else None
        end = parse_moment(to, "--to") if to else None
    except ValueError as error:
        fail(str(error))
    if start and end and start >= end:
        fail("--from: must be before --to")
    rebuilt = rebuild(_database(), start, end, utcnow())
    summary = {"rebuilt": [rebuilt[0], rebuilt[1]] if rebuilt else None}
    if as_json:
        print_json(summary)
    elif rebuilt:
        console.print(f"rebuilt hours {when(rebuilt[0])} – {when(rebuilt[1])} UTC and their days")
    else:
        console.print("nothing to rebuild: no raw results in that period")


@report_app.command("monthly")
def report_monthly(
    client: Annotated[str, typer.Option("--client", "-c", help="The client (tenant) id.")],
    month: Annotated[str, typer.Option("--month", help="YYYY-MM, e.g. 2026-11.")],
    format_: Annotated[str, typer.Option("--format", help="csv, html or json.")] = "html",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="The HTML page's language: en or ru.")] = "en",
) -> None:
    """A client's month: availability per integration and check, maintenance time,
    incidents with their durations, and the lead liability figures."""
    from alerts.monthly_report import monthly_report
    from core.db import utcnow
    from intmon.languages import LANGUAGES
    from intmon.report_monthly import FORMATS, render_csv

    if format_ not in FORMATS:
        fail(f"--format: one of {', '.join(FORMATS)}; not {format_!r}")
    if lang not in LANGUAGES:
        fail(f"--lang: one of {', '.join(LANGUAGES)}; not {lang!r}")
    try:
        report = monthly_report(_database(), client, month, utcnow())
    except ValueError as error:
        fail(f"--{error}")
    if format_ == "json":
        import json

        text = json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n"
    elif format_ == "csv":
        text = render_csv(report)
    else:
        from intmon.web.report_print import printable_report

        text = printable_report(report, lang)
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"wrote {escape(str(output))}")
