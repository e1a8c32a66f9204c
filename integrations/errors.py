"""Errors of the integrations package.

IntegrationsError
├── ConfigError          bad configuration file (permanent; lists every problem)
├── RunNotFound          no end-to-end scenario run with that id (permanent; also a LookupError)
├── SecretUnavailable    a referenced secret cannot be read (permanent until fixed)
└── TemplateProblem      a scenario template that does not compile or render (permanent; also
                         a ValueError, so the config validators report it with its line)
"""

from __future__ import annotations

from dataclasses import dataclass


class IntegrationsError(Exception):
    permanent = True


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One mistake in a configuration file: where it is and what is wrong."""

    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ConfigError(IntegrationsError):
    def __init__(self, source: str, problems: list[ConfigProblem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s)\n" + "\n".join(map(str, problems)))


class SecretUnavailable(IntegrationsError):
    """A `${VAR}` or `${file:…}` reference cannot be resolved where it is used."""


class TemplateProblem(IntegrationsError, ValueError):
    """A template that cannot be compiled or rendered; the message says why
    (`integrations.templating`)."""


class RunNotFound(IntegrationsError, LookupError):
    """No end-to-end scenario run with this id (`integrations.e2e_store`)."""
