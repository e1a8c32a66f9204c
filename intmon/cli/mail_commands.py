"""`intmon mail-in`: receive replies to intmon's e-mails over SMTP (intmon.mail_server)."""

from __future__ import annotations

from typing import Annotated

import typer

from core.logs import setup_logging
from intmon.cli.output import console


def register(app: typer.Typer) -> None:
    app.command("mail-in")(mail_in)


def mail_in(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (INTMON_MAIL_IN_HOST).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="SMTP port (INTMON_MAIL_IN_PORT, 2525; 0: any free)."),
    ] = None,
) -> None:
    """Receive replies by e-mail: a client's answer becomes a comment on its ticket."""
    from alerts.policy import policy_of
    from core.settings import get_settings
    from intmon.cli.database import open_database
    from intmon.cli.service_commands import _stop_on_signals
    from intmon.mail_server import MailInLimits, MailInServer

    settings = get_settings()
    setup_logging(settings.log_level)
    limits = MailInLimits(settings.mail_in_max_bytes, settings.mail_in_max_recipients)
    server = MailInServer(
        open_database(migrate=False),
        policy_of(settings),
        host=host or settings.mail_in_host,
        port=settings.mail_in_port if port is None else port,
        limits=limits,
    )
    stop = _stop_on_signals()
    with server:
        console.print(
            f"mail-in listening on {server.host}:{server.port} "
            f"(at most {limits.max_bytes} bytes and {limits.max_recipients} recipients a message); "
            "Ctrl-C to stop"
        )
        stop.wait()
