"""A run of `intmon` builds only its command's module: the map that says which
module that is must name every command, each at the module that registers it."""

from __future__ import annotations

import pytest
import typer.main

from intmon.cli import COMMANDS, MODULES, app, build_app, modules_for


def names(built: typer.Typer) -> set[str]:
    group = typer.main.get_command(built)
    assert isinstance(group, typer.main.TyperGroup)
    return set(group.commands)


@pytest.mark.parametrize("module", MODULES)
def test_each_module_registers_the_commands_the_map_gives_it(module: str) -> None:
    assert names(build_app([module])) == {c for c, m in COMMANDS.items() if m == module}


def test_the_map_names_every_command_of_the_command_line() -> None:
    assert names(app) == set(COMMANDS)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["validate", "x.yaml"], ("config_commands",)),
        (["leads", "report"], ("lead_commands",)),
        (["mail-in"], ("mail_commands",)),
        (["--help"], MODULES),
        ([], MODULES),
        (["valdate"], MODULES),  # click's "No such command" needs them all
    ],
)
def test_a_run_builds_the_module_of_its_command(args: list[str], expected: tuple[str]) -> None:
    assert tuple(modules_for(args)) == tuple(expected)
