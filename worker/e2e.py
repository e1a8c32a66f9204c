"""End-to-end scenarios in the worker: the schedule, the message, and what a run does.

    Scheduler.tick ─▶ ScenarioSchedule.dispatch ─claim─▶ message on the `e2e` queue
    API trigger    ─▶ create_run (queued)      ─────────▶ message on the `e2e` queue
                                                           │
    run_e2e (actor, max_retries=0) ─▶ run_job: run the scenario (its own event loop),
        store the report; a scheduled run also becomes a check result `e2e:<name>`
        through `alerts.intake.ingest`, so thresholds, the one open incident per
        family (`e2e`) and its ticket work exactly as for checks.

A scheduled scenario has one run in flight at most: the leader claims
`e2e:<integration>/<scenario>` through the same coordinator as checks, for its
period plus the longest a run may take, and the run releases the claim.
Postbacks go to the API (`INTMON_E2E_CALLBACK_URL`, the database inbox) or,
without one, to a listener this process opens for the run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dramatiq
from dramatiq import Message

from alerts.policy import policy_of
from checks.scenarios.http import StepClient
from checks.scenarios.report import ScenarioReport
from checks.scenarios.runner import ScenarioRunner, new_run_id
from core.db import utcnow
from core.settings import Settings
from integrations.config import IntegrationSpec
from integrations.e2e_store import create_run, fail_run
from integrations.scenarios import ScenarioSpec
from worker.batch import E2E_QUEUE
from worker.broker import declare_actor
from worker.coordination import Coordinator, claim_value
from worker.e2e_record import DatabaseInbox, run_and_record
from worker.phases import first_due

log = logging.getLogger(__name__)

E2E_ACTOR = "run_e2e"
# Beyond the scenario's own timeout: its cleanup requests and storing the report.
CLEANUP_MARGIN_S = 30.0


def claim_key(integration_id: str, scenario: str) -> str:
    return f"e2e:{integration_id}/{scenario}"


def run_budget(spec: IntegrationSpec, scenario: ScenarioSpec) -> float:
    """The longest one run may take: the scenario, then every cleanup request."""
    cleanup = len(scenario.cleanup) * spec.timeout_s * (spec.retries + 1)
    return scenario.timeout_s + cleanup + CLEANUP_MARGIN_S


@dataclass(frozen=True, slots=True)
class Job:
    integration_id: str
    scenario: str
    trigger: str  # "api" | "schedule"
    run_id: str | None = None  # set by the API, which created the row
    revision: int | None = None
    due: float | None = None  # Unix time a scheduled run was due
    claim: str | None = None  # the claim to release afterwards
    budget_s: float | None = None  # the longest the run may take
    # Values for the scenario's variables given with an API trigger (checked there).
    variables: dict[str, str] | None = None

    @property
    def deadline(self) -> float | None:
        return None if self.claim is None else float(self.claim)

    def stale(self, now: float) -> bool:
        """A scheduled run that waited in the queue so long that it could still be
        running when its claim lapses (and the next run is claimed): skip it."""
        if self.deadline is None:
            return False
        return now > self.deadline - (self.budget_s or 0.0)

    def to_payload(self) -> dict[str, Any]:
        return {
            "integration_id": self.integration_id,
            "scenario": self.scenario,
            "trigger": self.trigger,
            "run_id": self.run_id,
            "revision": self.revision,
            "due": self.due,
            "claim": self.claim,
            "budget_s": self.budget_s,
            "variables": self.variables,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Job:
        return cls(**{key: payload.get(key) for key in cls.__slots__})  # type: ignore[arg-type]


def message_of(job: Job) -> Message[Any]:
    return Message(
        queue_name=E2E_QUEUE, actor_name=E2E_ACTOR, args=(job.to_payload(),), kwargs={}, options={}
    )


# --- the schedule -------------------------------------------------------------------


@dataclass(slots=True)
class _Scheduled:
    integration_id: str
    scenario: str
    revision: int
    period_s: float
    budget_s: float
    next_due: float


class ScenarioSchedule:
    """The scheduled scenarios of the registry, each on a stable phase of its period
    (the same rule as checks), claimed and enqueued by the leading scheduler."""

    def __init__(
        self, broker: dramatiq.Broker, coordinator: Coordinator, *, spread: float = 1.0
    ) -> None:
        self.broker = broker
        self.coordinator = coordinator
        self.spread = spread
        self._entries: dict[str, _Scheduled] = {}
        broker.declare_queue(E2E_QUEUE)

    def add(self, spec: IntegrationSpec, revision: int, now: float) -> None:
        for scenario in spec.scenarios:
            if scenario.schedule_s is None:
                continue
            key = claim_key(spec.id, scenario.name)
            self._entries[key] = _Scheduled(
                integration_id=spec.id,
                scenario=scenario.name,
                revision=revision,
                period_s=scenario.schedule_s,
                budget_s=run_budget(spec, scenario),
                next_due=first_due(key, scenario.schedule_s, self.spread, now),
            )

    def drop(self, integration_id: str) -> None:
        for key in [k for k, e in self._entries.items() if e.integration_id == integration_id]:
            del self._entries[key]

    def restart(self, now: float) -> None:
        """On taking the lead: carry on each scenario on its phase, without catching up."""
        for key, entry in self._entries.items():
            entry.next_due = first_due(key, entry.period_s, self.spread, now)

    def __len__(self) -> int:
        return len(self._entries)

    def dispatch(self, now: float) -> int:
        """Claim and enqueue every scenario due by `now`; the number sent."""
        sent = 0
        for key, entry in self._entries.items():
            if entry.next_due > now:
                continue
            due = entry.next_due
            missed = int((now - due) // entry.period_s)
            entry.next_due = due + (missed + 1) * entry.period_s
            deadline = now + entry.period_s + entry.budget_s
            claimed = self.coordinator.claim([key], now, deadline)
            if not claimed:
                continue  # still running, or no longer the leader
            job = Job(
                entry.integration_id,
                entry.scenario,
                "schedule",
                revision=entry.revision,
                due=due,
                claim=claim_value(deadline),
                budget_s=entry.budget_s,
            )
            self.broker.enqueue(message_of(job))
            sent += 1
        return sent


# --- one run ---------------------------------------------------------------------------


@dataclass(slots=True)
class Standalone:
    """What `run_job` needs of a worker runtime, for a process without one (the API
    running a triggered scenario itself when no Redis queue is configured)."""

    db: Any
    settings: Settings
    coordinator: Coordinator | None = None


async def execute(
    settings: Settings,
    engine: Any,
    spec: IntegrationSpec,
    scenario: ScenarioSpec,
    run_id: str,
    probe_settings: Any,
    variables: dict[str, str] | None = None,
) -> ScenarioReport:
    """Run a recorded scenario with the inbox the settings choose."""
    client = StepClient(probe_settings)
    runner = ScenarioRunner(client)
    try:
        if settings.e2e_callback_url:
            inbox = DatabaseInbox(engine, settings.e2e_callback_url)
            return await run_and_record(
                engine, runner, spec, scenario, inbox=inbox, run_id=run_id, variables=variables
            )
        # aiohttp's server: imported by the runs that open a listener, not by every worker.
        from checks.scenarios.listener import CallbackListener

        async with CallbackListener(settings.e2e_callback_host) as listening:
            return await run_and_record(
                engine, runner, spec, scenario, inbox=listening, run_id=run_id, variables=variables
            )
    finally:
        await client.aclose()


def run_job(rt: Any, payload: dict[str, Any]) -> tuple[ScenarioReport | None, bool]:
    """Run one job; returns its report (None when it was not run) and whether
    incidents changed (their messages are then sent at once)."""
    from alerts.intake import ingest
    from checks import metrics
    from integrations.registry import load_specs
    from worker.runtime import probe_settings

    job = Job.from_payload(payload)
    if job.stale(time.time()):
        log.warning(
            "e2e %s/%s waited too long in the queue; skipped", job.integration_id, job.scenario
        )
        return None, False
    try:
        registered = load_specs(rt.db, [job.integration_id]).get(job.integration_id)
        spec = registered.spec if registered is not None else None
        scenario = spec.scenario(job.scenario) if spec is not None else None
        if spec is None or scenario is None:
            log.info("e2e %s/%s is gone; not run", job.integration_id, job.scenario)
            if job.run_id is not None:
                fail_run(rt.db, job.run_id, "the integration or scenario was removed", utcnow())
            return None, False
        run_id = job.run_id
        if run_id is None:
            run_id = new_run_id()
            create_run(rt.db, run_id, spec, scenario, trigger=job.trigger, now=utcnow())
        settings = rt.settings
        report = asyncio.run(
            execute(
                settings, rt.db, spec, scenario, run_id, probe_settings(settings), job.variables
            )
        )
        changed = False
        if job.trigger == "schedule":
            due = datetime.fromtimestamp(job.due, UTC) if job.due is not None else None
            result = report.as_check_result(scenario.check_name, scheduled_at=due)
            changed = bool(ingest(rt.db, [result], {spec.id: spec}, policy_of(settings)))
            # Counted like a check (its own `check` label); the integration's `up`
            # gauge stays with its checks.
            metrics.observe_results([result], every_check=False)
        return report, changed
    finally:
        if job.claim is not None:
            key = claim_key(job.integration_id, job.scenario)
            rt.coordinator.release({key: job.claim}, {})


def run_e2e(payload: dict[str, Any]) -> None:
    """The actor: run the job; when incidents moved, send their messages now."""
    from worker.batch import HOUSEKEEPING_QUEUE, SEND_ACTOR
    from worker.enqueue import send_now
    from worker.runtime import runtime

    _report, changed = run_job(runtime(), payload)
    if changed:
        send_now(HOUSEKEEPING_QUEUE, SEND_ACTOR)


def declare_e2e(broker: dramatiq.Broker) -> dramatiq.Actor[Any, Any]:
    # An API-triggered run that fails reports its failure instead of retrying.
    return declare_actor(broker, run_e2e, E2E_ACTOR, E2E_QUEUE, minutes=120)
