"""The README's command examples: each `intmon …` line of its shell blocks parses
against the real command line (the command exists, every option is known and
every value has its type), and the ones that need no partner and no service run,
against a fresh SQLite file, and succeed.

A line may write an option as optional (`[--json]`) or offer alternatives
(`table|csv|json`): the option is used, with the first alternative. A line that
elides a value (`…`) is checked only as far as its command's name.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from intmon.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"```(?:sh|bash|shell|console)\n(.*?)```", re.S)
# Commands that need nothing but a database (a fresh SQLite file) and the repository.
RUNNABLE = {
    ("validate",),
    ("status",),
    ("users", "list"),
    ("e2e", "history"),
    ("results", "prune"),
    ("results", "partitions"),
    ("rollups", "status"),
}


def example_lines() -> list[str]:
    lines = []
    for block in BLOCK.findall(README.read_text(encoding="utf-8")):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)  # not an `intmon` in a comment
            if any(word.rsplit("/", 1)[-1] == "intmon" for word in words):
                lines.append(line.strip())
    return lines


def arguments(line: str) -> list[str]:
    """The arguments after `intmon` as a shell would pass them; optional brackets
    dropped and the first of alternatives taken."""
    tokens = shlex.split(line, comments=True)
    if "|" in tokens:  # `producer | intmon …`: what intmon is given
        tokens = tokens[len(tokens) - tokens[::-1].index("|") :]
    start = next(i for i, token in enumerate(tokens) if token.rsplit("/", 1)[-1] == "intmon")
    return [token.strip("[]").split("|")[0] for token in tokens[start + 1 :]]


def command_of(args: list[str]) -> tuple[Any, tuple[str, ...], list[str]]:
    """The (sub)command the arguments name, its path, and the arguments it is given.
    (Typer carries its own click: its classes, not `click`'s, are what it builds.)"""
    command: Any = typer.main.get_command(app)
    path: list[str] = []
    rest = list(args)
    while hasattr(command, "list_commands"):  # a group
        name = rest.pop(0)
        found = command.get_command(command.context_class(command), name)
        assert found is not None, f"no command `{' '.join([*path, name])}`"
        command, path = found, [*path, name]
    return command, tuple(path), rest


LINES = example_lines()


def test_the_readme_has_command_examples() -> None:
    assert len(LINES) >= 25  # a parse that found few would check little


@pytest.mark.parametrize("line", LINES)
def test_an_example_parses(line: str) -> None:
    args = arguments(line)
    if "…" in line:  # an elided value: the command is named, its values are not
        args = [arg for arg in args if not arg.startswith("-") and arg != "…"][:2]
        command_of(args[:1] if args[0] in {"worker", "run"} else args)
        return
    command, path, rest = command_of(args)
    # Parsing checks names, types and choices, and never calls the command.
    command.make_context(" ".join(["intmon", *path]), rest)


@pytest.mark.parametrize(
    "line",
    [line for line in LINES if "…" not in line and command_of(arguments(line))[1] in RUNNABLE],
)
def test_an_example_that_needs_no_partner_runs(
    line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(README.parent)
    monkeypatch.setenv("INTMON_DATABASE_URL", f"sqlite:///{tmp_path / 'readme.db'}")
    from core.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["migrate"])
        assert result.exit_code == 0, result.output
        result = CliRunner().invoke(app, arguments(line))
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, f"{line}\n{result.output}"
