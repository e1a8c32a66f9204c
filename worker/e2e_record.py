"""A scenario run recorded in the database: the runner (checks) around the run's row
and its postbacks (integrations.e2e_store).

    run_and_record   start_run → `ScenarioRunner.run` → finish_run
    DatabaseInbox    the runner's inbox over the `e2e_callbacks` table, filled by the
                     API's `/callbacks` route when the API and the runner are
                     different processes

Used by the e2e actor (`worker.e2e`) and by `intmon e2e run`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from sqlalchemy import Engine

from checks.scenarios.inbox import CallbackInbox
from checks.scenarios.report import ScenarioReport
from checks.scenarios.runner import ScenarioRunner
from core.db import utcnow
from core.vocabulary.callbacks import Callback
from integrations.config import IntegrationSpec
from integrations.e2e_store import end_callbacks, finish_run, start_run, take_callback
from integrations.scenarios import ScenarioSpec


class DatabaseInbox(CallbackInbox):
    """Postbacks received by the API (`base_url` is where it is reachable), read from
    the `e2e_callbacks` table; the run's row must exist (`create_run`) first."""

    poll_interval_s = 0.25  # one indexed read per waiting run

    def __init__(self, engine: Engine, base_url: str) -> None:
        self.engine = engine
        self.base_url = base_url.rstrip("/")

    def url(self, run_id: str, name: str) -> str:
        return f"{self.base_url}/callbacks/{run_id}/{name}"

    async def open(self, run_id: str, names: Sequence[str]) -> None:
        return None  # create_run stored the names the run waits for

    async def take(self, run_id: str, name: str) -> Callback | None:
        return await asyncio.to_thread(take_callback, self.engine, run_id, name)

    async def close(self, run_id: str) -> None:
        await asyncio.to_thread(end_callbacks, self.engine, run_id, utcnow())


async def run_and_record(
    engine: Engine,
    runner: ScenarioRunner,
    spec: IntegrationSpec,
    scenario: ScenarioSpec,
    *,
    inbox: CallbackInbox,
    run_id: str,
    variables: Mapping[str, str] | None = None,
) -> ScenarioReport:
    """Run a scenario whose row exists (queued or running) and store its report."""
    await asyncio.to_thread(start_run, engine, run_id, utcnow())
    report = await runner.run(spec, scenario, inbox=inbox, run_id=run_id, variables=variables)
    await asyncio.to_thread(finish_run, engine, report, utcnow())
    return report
