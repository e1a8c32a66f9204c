"""Running one scenario: its steps in order, then its cleanup, into a `ScenarioReport`.

    ScenarioRunner.run(integration, scenario, inbox=…)
      → built-ins and `variables`                      (run_id, now, uuid, callback_url.*;
                                                        a run's given values replace defaults)
      → each step:  request  → judge → [poll until]  → extract
                    callback → wait in the inbox     → judge → extract
        the first step that fails stops the rest (they are `skipped`)
      → cleanup steps, always; one needing a value no step extracted is `skipped`
      → the report, with every secret the run saw redacted

Never raises for anything a partner or a template does: that is a step's
status. Time comes from the injected `Clock` (deadlines, polling, waits), so a
test moves a fake clock instead of sleeping. No database here: callbacks come
through the `CallbackInbox` the caller hands in.
"""

from __future__ import annotations

import secrets as tokens
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from checks.classify import Observation
from checks.errors import ProbeFailure
from checks.scenarios import steps as parts
from checks.scenarios.clock import Clock, SystemClock
from checks.scenarios.http import OutgoingRequest, StepClient
from checks.scenarios.inbox import CallbackInbox
from checks.scenarios.report import ScenarioReport, StepReport, StepStatus
from core.vocabulary.outcomes import Outcome
from integrations.config import IntegrationSpec
from integrations.errors import SecretUnavailable, TemplateProblem
from integrations.scenarios import ScenarioSpec, StepSpec
from integrations.secrets import REDACTED
from integrations.templating import render_value

__all__ = ["ScenarioRunner", "new_run_id"]


def new_run_id() -> str:
    """An unguessable run id: it is the only credential a callback URL carries.
    Hex, so it never starts with "-" (a command line would read that as an option:
    `intmon e2e show -x…`)."""
    return tokens.token_hex(16)


@dataclass
class _Run:
    integration: IntegrationSpec
    scenario: ScenarioSpec
    run_id: str
    inbox: CallbackInbox
    deadline: float
    environ: Mapping[str, str] | None
    variables: dict[str, Any] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)
    # Values the run was started with (the API's `variables`): literal text, never
    # rendered as a template, in place of the scenario's own values of those names.
    given: Mapping[str, str] = field(default_factory=dict)


class ScenarioRunner:
    def __init__(
        self,
        client: StepClient,
        *,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.client = client
        self.clock = clock or SystemClock()
        self.environ = environ

    async def run(
        self,
        integration: IntegrationSpec,
        scenario: ScenarioSpec,
        *,
        inbox: CallbackInbox,
        run_id: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> ScenarioReport:
        """`variables`: values for some of the scenario's `variables`, used as given."""
        run_id = run_id or new_run_id()
        started_at, started = self.clock.now(), self.clock.monotonic()
        run = _Run(integration, scenario, run_id, inbox, started + scenario.timeout_s, self.environ)
        run.given = dict(variables or {})
        reports: list[StepReport] = []
        await inbox.open(run_id, scenario.callback_names)
        try:
            problem = self._variables(run, started_at.isoformat())
            for step in scenario.steps:
                if problem is not None:
                    reports.append(_skipped(step, "step", problem))
                    continue
                report = await self._step(run, step, "step")
                reports.append(report)
                if report.status is not StepStatus.PASSED:
                    problem = f"step {step.name!r} did not pass"
            for step in scenario.cleanup:
                reports.append(await self._step(run, step, "cleanup"))
        finally:
            await inbox.close(run_id)
        summary = _summary(run, reports, started_at, self.clock.monotonic() - started)
        return summary.redacted(run.secrets)

    # --- set-up ----------------------------------------------------------------

    def _variables(self, run: _Run, now: str) -> str | None:
        """Fill the built-ins and the scenario's variables; the reason it failed, or None."""
        names = run.scenario.callback_names
        run.variables.update(
            run_id=run.run_id,
            now=now,
            uuid=uuid.uuid4().hex,
            integration=run.integration.id,
            scenario=run.scenario.name,
            callback_url={name: run.inbox.url(run.run_id, name) for name in names},
        )
        for name, value in run.scenario.variables.items():
            if name in run.given:
                run.variables[name] = run.given[name]
                continue
            try:
                run.variables[name] = render_value(
                    value, run.variables, run.secrets, run.environ, native=True
                )
            except (TemplateProblem, SecretUnavailable) as error:
                return f"variable {name}: {error}"
        return None

    # --- one step --------------------------------------------------------------

    async def _step(self, run: _Run, step: StepSpec, phase: str) -> StepReport:
        kind = "callback" if step.is_callback else "request"
        report = StepReport(step.name, phase, kind, StepStatus.PASSED, started_at=self.clock.now())
        began = self.clock.monotonic()
        if phase == "step" and began >= run.deadline:
            _fail(
                report, Outcome.TIMEOUT, f"the scenario ran out of its {run.scenario.timeout_s:g} s"
            )
        elif step.is_callback:
            await self._wait_callback(run, step, report)
        else:
            await self._request(run, step, report, phase)
        report.duration_s = self.clock.monotonic() - began
        return report

    async def _request(self, run: _Run, step: StepSpec, report: StepReport, phase: str) -> None:
        outgoing = self._render(run, step, report, phase)
        if outgoing is None:
            return
        report.request = parts.request_view(outgoing)
        answer = await self._send_until(run, step, report, outgoing, phase)
        if answer is not None:
            self._extract(run, step, report, answer)

    def _render(
        self, run: _Run, step: StepSpec, report: StepReport, phase: str
    ) -> OutgoingRequest | None:
        try:
            return parts.render_request(
                run.integration,
                step,
                run.scenario.test_marker,
                run.variables,
                run.secrets,
                run.environ,
            )
        except TemplateProblem as error:
            if phase == "cleanup" and "is undefined" in str(error):
                # A value the cleanup needs was never extracted: nothing to clean up.
                report.status, report.detail = StepStatus.SKIPPED, f"nothing to clean up: {error}"
            else:
                _error(report, Outcome.CONTRACT_VIOLATION, f"cannot build the request: {error}")
        except SecretUnavailable as error:
            _error(report, Outcome.CONFIG_ERROR, f"credentials unavailable here: {error}")
        return None

    async def _send_until(
        self, run: _Run, step: StepSpec, report: StepReport, outgoing: OutgoingRequest, phase: str
    ) -> Observation | None:
        """Send (again every `poll.every_s` until its condition holds); the passing
        answer, or None when the step failed."""
        poll = step.poll
        deadline = self.clock.monotonic() + poll.timeout_s if poll else 0.0
        if poll is not None and phase == "step":
            deadline = min(deadline, run.deadline)
        while True:
            report.attempts += 1
            try:
                sent = await self.client.send(run.integration, outgoing, run.secrets, run.environ)
            except ProbeFailure as failure:
                _error(report, failure.outcome, failure.detail)
                return None
            report.request = parts.request_view(outgoing, sent.url, sent.headers)
            report.response = parts.response_view(sent.observation)
            if not self._judged(run, step, report, sent.observation):
                return None
            waiting = None if poll is None else self._until(run, step, report, sent.observation)
            if poll is None or waiting is None:
                return sent.observation if report.status is StepStatus.PASSED else None
            if self.clock.monotonic() + poll.every_s > deadline:
                detail = f"condition still false after {report.attempts} attempts"
                _fail(report, Outcome.TIMEOUT, f"{detail} ({poll.timeout_s:g} s): {waiting}")
                return None
            await self.clock.sleep(poll.every_s)

    async def _wait_callback(self, run: _Run, step: StepSpec, report: StepReport) -> None:
        name = str(step.wait_callback)
        deadline = min(self.clock.monotonic() + step.timeout_s, run.deadline)
        report.request = {"waiting_for": run.inbox.url(run.run_id, name)}
        while True:
            callback = await run.inbox.take(run.run_id, name)
            if callback is not None:
                break
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                waited = min(step.timeout_s, run.scenario.timeout_s)
                _fail(
                    report, Outcome.TIMEOUT, f"callback {name!r} did not arrive within {waited:g} s"
                )
                return
            await self.clock.sleep(min(run.inbox.poll_interval_s, remaining))
        report.attempts = 1
        observation = parts.callback_observation(callback.body, callback.query, callback.headers)
        view = parts.response_view(observation)
        report.response = {
            "method": callback.method,
            "received_at": callback.received_at.isoformat(),
            "query": callback.query,
            "headers": view["headers"],
            "excerpt": view["excerpt"],
        }
        if self._judged(run, step, report, observation):
            self._extract(run, step, report, observation)

    # --- judging and extracting ------------------------------------------------

    def _judged(self, run: _Run, step: StepSpec, report: StepReport, answer: Observation) -> bool:
        """Whether the answer passes the step's expectations (else the report says why)."""
        try:
            verdict = parts.judge(step.expect, answer, run.variables, run.secrets, run.environ)
        except TemplateProblem as error:
            _error(report, Outcome.CONTRACT_VIOLATION, str(error))
            return False
        if verdict.outcome is not Outcome.OK:
            _fail(report, verdict.outcome, verdict.detail)
            return False
        return True

    def _until(
        self, run: _Run, step: StepSpec, report: StepReport, answer: Observation
    ) -> str | None:
        assert step.poll is not None
        try:
            return parts.until_failure(
                step.poll.until, answer, run.variables, run.secrets, run.environ
            )
        except TemplateProblem as error:
            _error(report, Outcome.CONTRACT_VIOLATION, str(error))
            return None

    def _extract(self, run: _Run, step: StepSpec, report: StepReport, answer: Observation) -> None:
        if report.status is not StepStatus.PASSED:
            return
        values, problem = parts.extract(step.extract, answer)
        for name, value in values.items():
            run.variables[name] = value
            if step.extract[name].secret:
                run.secrets.add(value if isinstance(value, str) else str(value))
                report.extracted[name] = REDACTED
            else:
                report.extracted[name] = value
        if problem is not None:
            _fail(report, Outcome.CONTRACT_VIOLATION, problem)


def _fail(report: StepReport, outcome: Outcome, detail: str) -> None:
    report.status, report.outcome, report.detail = StepStatus.FAILED, outcome, detail


def _error(report: StepReport, outcome: Outcome, detail: str) -> None:
    report.status, report.outcome, report.detail = StepStatus.ERROR, outcome, detail


def _skipped(step: StepSpec, phase: str, why: str) -> StepReport:
    kind = "callback" if step.is_callback else "request"
    return StepReport(step.name, phase, kind, StepStatus.SKIPPED, detail=why)


def _summary(
    run: _Run, reports: list[StepReport], started_at: Any, duration_s: float
) -> ScenarioReport:
    report = ScenarioReport(
        run_id=run.run_id,
        integration_id=run.integration.id,
        scenario=run.scenario.name,
        status=StepStatus.PASSED,
        started_at=started_at,
        duration_s=duration_s,
        steps=reports,
    )
    failing = report.failing_step
    if failing is not None:
        report.status = failing.status
        report.outcome = failing.outcome or Outcome.CONTRACT_VIOLATION
        report.detail = f"{failing.phase} {failing.name!r}: {failing.detail}"
    elif reports and all(
        r.status is StepStatus.SKIPPED for r in reports[: len(run.scenario.steps)]
    ):
        # Every step skipped: the variables could not be built.
        report.status, report.outcome = StepStatus.ERROR, Outcome.CONTRACT_VIOLATION
        report.detail = reports[0].detail
    return report
