"""`intmon e2e run | load | history | show`: end-to-end scenarios from the command line.

`e2e run` is what a test team's CI calls: with `-f FILE` it needs nothing but the
file and the partner (no database, no API); the partner's postbacks come to a
listener it opens itself (`--callback-host/--callback-port`, `--public-url` for
the address handed to the partner). Without `-f` the integration comes from the
registry and the run is kept in the history. Exit 0 when every scenario passed,
1 when one did not, 2 for bad input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from intmon.cli.e2e_output import load_table, print_reports, runs_table
from intmon.cli.output import EXIT_FAILED, console, fail, print_json, write_output

e2e_app = typer.Typer(
    name="e2e", help="End-to-end scenarios: run, load-test, history.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
FileOpt = Annotated[
    Path | None,
    typer.Option("--file", "-f", help="Integrations file (default: the registry in the database)."),
]
IntegrationArg = Annotated[str, typer.Argument(help="Integration id.", show_default=False)]


def register(app: typer.Typer) -> None:
    app.add_typer(e2e_app)


def _spec(integration: str, file: Path | None, as_json: bool) -> Any:
    """The integration from the file, or from the registry; exit 2 when unknown."""
    if file is not None:
        from intmon.cli.config_commands import load_config_arg

        config = load_config_arg(file, as_json)
        found = next((i for i in config.integrations if i.id == integration), None)
    else:
        from integrations.registry import load_specs
        from intmon.cli.database import open_database

        registered = load_specs(open_database(migrate=False), [integration]).get(integration)
        found = registered.spec if registered is not None else None
    if found is None:
        fail(f"unknown integration {integration!r}")
    return found


@e2e_app.command("run")
def run(
    integration: IntegrationArg,
    file: FileOpt = None,
    scenario: Annotated[
        list[str] | None, typer.Option("--scenario", "-s", help="Only this one (repeatable).")
    ] = None,
    junit: Annotated[
        Path | None, typer.Option(help="Write a JUnit XML report here (- for stdout).")
    ] = None,
    callback_host: Annotated[str, typer.Option(help="Address the listener binds.")] = "127.0.0.1",
    callback_port: Annotated[int, typer.Option(help="Its port (0: any free one).")] = 0,
    public_url: Annotated[
        str | None, typer.Option(help="Base URL the partner reaches the listener at.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the integration's scenarios now; exit 1 if one does not pass."""
    import asyncio

    from checks.scenarios.junit import junit_xml

    spec = _spec(integration, file, as_json)
    chosen = _scenarios(spec, scenario)
    listener = (callback_host, callback_port, public_url)
    if as_json:
        reports = asyncio.run(_run_all(spec, chosen, listener, record=file is None))
    else:
        with console.status(f"running {len(chosen)} scenario(s) of {spec.id}…"):
            reports = asyncio.run(_run_all(spec, chosen, listener, record=file is None))
    to_stdout = junit is not None and write_output(junit, junit_xml(reports))
    passed = all(report.passed for report in reports)
    if to_stdout:
        pass  # the XML is the output
    elif as_json:
        print_json({"passed": passed, "runs": [report.as_dict() for report in reports]})
    else:
        print_reports(reports)
    if not passed:
        raise typer.Exit(EXIT_FAILED)


def _scenarios(spec: Any, names: Sequence[str] | None) -> list[Any]:
    if not spec.scenarios:
        fail(f"{spec.id} has no scenarios")
    if not names:
        return list(spec.scenarios)
    unknown = sorted(set(names) - {s.name for s in spec.scenarios})
    if unknown:
        known = ", ".join(s.name for s in spec.scenarios)
        fail(f"{spec.id} has no scenario {', '.join(unknown)} (known: {known})")
    return [s for s in spec.scenarios if s.name in names]


async def _run_all(
    spec: Any, scenarios: list[Any], listener: tuple[str, int, str | None], *, record: bool
) -> list[Any]:
    from checks.scenarios.http import StepClient
    from checks.scenarios.listener import CallbackListener
    from checks.scenarios.runner import ScenarioRunner, new_run_id
    from core.settings import get_settings
    from worker.runtime import probe_settings

    host, port, public_url = listener
    client = StepClient(probe_settings(get_settings()))
    runner = ScenarioRunner(client)
    reports = []
    try:
        async with CallbackListener(host, port, public_url=public_url) as inbox:
            for scenario in scenarios:
                run_id = new_run_id()
                if record:
                    reports.append(await _recorded(runner, spec, scenario, inbox, run_id))
                else:
                    reports.append(await runner.run(spec, scenario, inbox=inbox, run_id=run_id))
    except OSError as error:  # the listener's port is taken or not ours to bind
        fail(f"cannot listen for callbacks on {host}:{port}: {error.strerror or error}")
    finally:
        await client.aclose()
    return reports


async def _recorded(runner: Any, spec: Any, scenario: Any, inbox: Any, run_id: str) -> Any:
    import asyncio

    from core import db
    from integrations.e2e_store import create_run
    from intmon.cli.database import open_database
    from worker.e2e_record import run_and_record

    engine = open_database(migrate=False)
    now = db.utcnow()
    await asyncio.to_thread(
        create_run, engine, run_id, spec, scenario, trigger="cli", now=now, status="running"
    )
    return await run_and_record(engine, runner, spec, scenario, inbox=inbox, run_id=run_id)


# --- load -------------------------------------------------------------------------


@e2e_app.command("load")
def load(
    integration: IntegrationArg,
    rps: Annotated[float, typer.Option(help="Requests started per second.", show_default=False)],
    duration: Annotated[float, typer.Option(help="Seconds to keep it up.", show_default=False)],
    file: FileOpt = None,
    check: Annotated[str | None, typer.Option(help="Send this check (default: first).")] = None,
    step: Annotated[str | None, typer.Option(help="Send this scenario step instead.")] = None,
    scenario: Annotated[str | None, typer.Option(help="The scenario of --step.")] = None,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at most.")] = 64,
    as_json: JsonOpt = False,
) -> None:
    """A bounded open-loop load test: latency percentiles and errors by outcome class.

    Capped by INTMON_E2E_LOAD_MAX_RPS / _MAX_DURATION_S / _MAX_CONCURRENCY, and by the
    partner's rate-limit budget (`delivery.rate_limit_rps`) when it declares one.
    Exit 1 when any request did not pass."""
    from checks.load import LoadPlan
    from core.settings import get_settings

    settings = get_settings()
    _within_caps(settings, rps, duration, concurrency)
    spec = _spec(integration, file, as_json)
    target = _load_target(spec, check, step, scenario)
    plan = LoadPlan(rps=rps, duration_s=duration, max_concurrency=concurrency)
    report = _run_load(spec, target, plan, settings, show_progress=not as_json)
    if as_json:
        print_json({"integration": spec.id, "request": target.name, **report.as_dict()})
    else:
        console.print(load_table(spec.id, target.name, report))
    if report.errors() or report.completed == 0:
        raise typer.Exit(EXIT_FAILED)


def _within_caps(settings: Any, rps: float, duration: float, concurrency: int) -> None:
    caps = (
        ("--rps", rps, settings.e2e_load_max_rps, "INTMON_E2E_LOAD_MAX_RPS"),
        (
            "--duration",
            duration,
            settings.e2e_load_max_duration_s,
            "INTMON_E2E_LOAD_MAX_DURATION_S",
        ),
        (
            "--concurrency",
            concurrency,
            settings.e2e_load_max_concurrency,
            "INTMON_E2E_LOAD_MAX_CONCURRENCY",
        ),
    )
    for option, value, cap, variable in caps:
        if not 0 < value <= cap:
            fail(f"{option} must be above 0 and at most {cap:g} ({variable})")


def _load_target(spec: Any, check: str | None, step: str | None, scenario: str | None) -> Any:
    """The check to send: a named check, a scenario step rendered as one, or the first check."""
    from checks.scenarios.errors import LoadRefused
    from checks.scenarios.runner import new_run_id
    from checks.scenarios.steps import step_as_check

    if check is not None and step is not None:
        fail("give --check or --step, not both")
    if step is None:
        found = spec.check(check) if check is not None else spec.checks[0]
        if found is None:
            fail(f"{spec.id} has no check {check!r}")
        return found
    candidates = [
        (s, st)
        for s in spec.scenarios
        if scenario is None or s.name == scenario
        for st in s.steps
        if st.name == step
    ]
    if len(candidates) != 1:
        where = f"scenario {scenario!r}" if scenario else "its scenarios"
        problem = "no" if not candidates else "more than one"
        fail(f"{spec.id} has {problem} step {step!r} in {where} (use --scenario)")
    owner, found_step = candidates[0]
    try:
        return step_as_check(spec, owner, found_step, f"load-{new_run_id()}")
    except LoadRefused as error:
        fail(str(error))


def _run_load(spec: Any, target: Any, plan: Any, settings: Any, *, show_progress: bool) -> Any:
    import asyncio

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from checks.engine import ProbeEngine
    from checks.load import run_load
    from worker.runtime import probe_settings

    # One connection per request in flight: the engine's per-host limit must not
    # queue what the plan means to send at once.
    probe = replace(
        probe_settings(settings),
        max_connections=plan.max_concurrency,
        max_connections_per_host=plan.max_concurrency,
    )
    budget = partner_budget(spec, settings)

    async def main(progress: Any) -> Any:
        engine = ProbeEngine(probe)
        try:
            return await run_load(
                lambda: engine.run_check(spec, target), plan, budget=budget, progress=progress
            )
        finally:
            await engine.aclose()

    if not show_progress:
        return asyncio.run(main(None))
    columns = (
        *Progress.get_default_columns()[:2],
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(f"{spec.id}/{target.name} at {plan.rps:g}/s", total=plan.planned)
        return asyncio.run(main(lambda sent, done, total: bar.update(task, completed=done)))


def partner_budget(spec: Any, settings: Any) -> Any:
    """The partner's shared request budget as the load runner's `RateBudget`, when the
    integration declares a rate limit (its `delivery.rate_limit_rps`); else None.

    A load test spends the checks' share of it, never the deliveries'."""
    from checks.budget import SharedBudget

    delivery = getattr(spec, "delivery", None)
    rate = getattr(delivery, "rate_limit_rps", None)
    if not rate:
        return None
    from worker.runtime import budget_for

    share = float(getattr(delivery, "checks_share", 1.0))
    return SharedBudget(budget_for(settings.redis_url, settings.namespace), spec.id, rate, share)


# --- history ------------------------------------------------------------------------


@e2e_app.command("history")
def history(
    integration: Annotated[str | None, typer.Option("--integration", "-i")] = None,
    scenario: Annotated[str | None, typer.Option("--scenario", "-s")] = None,
    limit: Annotated[int, typer.Option(help="Newest first, at most this many.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Recorded runs (scheduled, API and registry CLI runs), newest first."""
    from integrations.e2e_store import list_runs
    from intmon.cli.database import open_database

    engine = open_database(migrate=False)
    runs = list_runs(
        engine,
        integration_ids=[integration] if integration else None,
        scenario=scenario,
        limit=limit,
    )
    if as_json:
        print_json(runs)
        return
    console.print(runs_table(runs))


@e2e_app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="Run id (see `intmon e2e history`).")],
    junit: Annotated[
        Path | None, typer.Option(help="Also write its JUnit XML here (- for stdout).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """One run: its status and its report, step by step."""
    from checks.scenarios.junit import junit_xml
    from checks.scenarios.report import ScenarioReport
    from integrations.e2e_store import load_run
    from integrations.errors import RunNotFound
    from intmon.cli.database import open_database

    try:
        run_view = load_run(open_database(migrate=False), run_id)
    except RunNotFound as error:
        fail(str(error))
    report = ScenarioReport.from_dict(run_view["report"]) if run_view["report"] else None
    if junit is not None and report is not None and write_output(junit, junit_xml([report])):
        return
    if as_json:
        print_json(run_view)
    elif report is None:
        console.print(f"run {run_id}: {run_view['status']} {run_view['detail']}".rstrip())
    else:
        print_reports([report])
