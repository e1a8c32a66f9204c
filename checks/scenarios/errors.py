"""Errors of the scenario runner. Each is permanent: the same input fails the same way.

    ChecksError (checks.errors)
    └── ScenarioError          a scenario that cannot be run as written
        └── LoadRefused        a step `intmon e2e load` cannot send on its own

A template that does not compile or render raises `integrations.errors.TemplateProblem`:
the template language (`integrations.templating`) is the configuration's, below checks.

A partner's failure is never an exception here: the runner turns it into a step's
status and outcome (`checks.scenarios.report`).
"""

from __future__ import annotations

from checks.errors import ChecksError

__all__ = ["LoadRefused", "ScenarioError"]


class ScenarioError(ChecksError):
    permanent = True


class LoadRefused(ScenarioError, ValueError):
    """A step that cannot be sent on its own, as a load test would."""
