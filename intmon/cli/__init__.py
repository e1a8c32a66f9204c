"""The `intmon` command line (typer + rich).

Exit codes a CI pipeline can rely on: 0 ok, 1 a check failed, 2 bad input.
Every command that prints a table also takes `--json`.
"""

from __future__ import annotations

import typer

from core.gc_tuning import raise_thresholds, spare_the_last_collection
from intmon.cli import (
    config_commands,
    demo_command,
    e2e_commands,
    heartbeat_commands,
    history_commands,
    incident_commands,
    lead_commands,
    mail_commands,
    maintenance_commands,
    notice_commands,
    notify_commands,
    postback_commands,
    result_commands,
    service_commands,
    ticket_commands,
    token_commands,
    user_commands,
)

app = typer.Typer(
    name="intmon",
    help="Integration monitoring: scheduled API health checks, classified results, metrics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_commands.register(app)
service_commands.register(app)
demo_command.register(app)
e2e_commands.register(app)
incident_commands.register(app)
ticket_commands.register(app)
maintenance_commands.register(app)
lead_commands.register(app)
mail_commands.register(app)
notice_commands.register(app)
notify_commands.register(app)
token_commands.register(app)
user_commands.register(app)
result_commands.register(app)
history_commands.register(app)
heartbeat_commands.register(app)
postback_commands.register(app)


def main() -> None:
    # The long-running commands (run, scheduler, serve) tune the collector again
    # once booted (core.gc_tuning.tune_gc); a test that drives `app` keeps Python's.
    raise_thresholds()
    try:
        app()
    finally:
        spare_the_last_collection()
