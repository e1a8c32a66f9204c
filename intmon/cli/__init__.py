"""The `intmon` command line (typer + rich).

Exit codes a CI pipeline can rely on: 0 ok, 1 a check failed, 2 bad input.
Every command that prints a table also takes `--json`.

Each command module registers its commands (`register(app)`). A run builds the
app from the one module its command is in (`COMMANDS`), so `intmon validate`
neither imports the other modules nor has typer build their seventy-odd
commands' parameters; `--help`, no command and an unknown name get every module.
`app` (what tests drive) is the whole command line.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.gc_tuning import raise_thresholds, spare_the_last_collection

if TYPE_CHECKING:
    import typer

# The command modules, in the order `intmon --help` lists their commands.
MODULES = (
    "config_commands",
    "service_commands",
    "demo_command",
    "e2e_commands",
    "incident_commands",
    "ticket_commands",
    "maintenance_commands",
    "lead_commands",
    "mail_commands",
    "notice_commands",
    "notify_commands",
    "token_commands",
    "user_commands",
    "result_commands",
    "history_commands",
    "heartbeat_commands",
    "postback_commands",
)
# Each top-level command or group, by the module that registers it; a test checks
# it against what the modules register (tests/test_cli_modules.py).
COMMANDS = {
    "validate": "config_commands",
    "apply": "config_commands",
    "check": "config_commands",
    "status": "config_commands",
    "migrate": "service_commands",
    "run": "service_commands",
    "scheduler": "service_commands",
    "worker": "service_commands",
    "metrics": "service_commands",
    "demo": "demo_command",
    "e2e": "e2e_commands",
    "outages": "incident_commands",
    "incidents": "incident_commands",
    "tickets": "ticket_commands",
    "maintenance": "maintenance_commands",
    "leads": "lead_commands",
    "mail-in": "mail_commands",
    "notices": "notice_commands",
    "contacts": "notify_commands",
    "notifications": "notify_commands",
    "notify": "notify_commands",
    "api": "token_commands",
    "tokens": "token_commands",
    "users": "user_commands",
    "results": "result_commands",
    "uptime": "history_commands",
    "rollups": "history_commands",
    "report": "history_commands",
    "heartbeats": "heartbeat_commands",
    "postbacks": "postback_commands",
}


def build_app(modules: Sequence[str] = MODULES) -> typer.Typer:
    """The command line with the commands of `modules`."""
    import typer

    app = typer.Typer(
        name="intmon",
        help="Integration monitoring: scheduled API health checks, classified results, metrics.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    # A group even when the modules register a single command (typer would
    # otherwise make that command the whole program and take its name for an argument).
    app.callback()(_no_options)
    for module in modules:
        importlib.import_module(f"intmon.cli.{module}").register(app)
    return app


def _no_options() -> None:
    """Integration monitoring: scheduled API health checks, classified results, metrics."""


def modules_for(args: Sequence[str]) -> Sequence[str]:
    """The module of the command `args` name; every module for `--help` (or another
    option first), no command, or a name no module has (click then lists them all)."""
    if args and args[0] in COMMANDS:
        return (COMMANDS[args[0]],)
    return MODULES


@functools.cache
def _whole_app() -> typer.Typer:
    return build_app()


def __getattr__(name: str) -> typer.Typer:
    # `from intmon.cli import app`: every command, built on first use.
    if name == "app":
        return _whole_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    # The long-running commands (run, scheduler, serve) tune the collector again
    # once booted (core.gc_tuning.tune_gc); a test that drives `app` keeps Python's.
    raise_thresholds()
    try:
        build_app(modules_for(sys.argv[1:]))()
    finally:
        spare_the_last_collection()
