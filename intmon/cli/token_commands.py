"""`intmon tokens create | list | revoke`: bearer tokens for the HTTP API.

The token is printed once, at creation; the database keeps only its hash
(`intmon.api.auth`). `intmon api` serves the API itself.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from intmon.cli.output import console, fail, print_json, when

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

tokens_app = typer.Typer(
    name="tokens", help="API tokens: support, client and tester access.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(tokens_app)
    app.command()(api)


@tokens_app.command("create")
def tokens_create(
    role: Annotated[str, typer.Option(help="support, client or tester.", show_default=False)],
    client: Annotated[str | None, typer.Option(help="Required for --role client.")] = None,
    name: Annotated[str | None, typer.Option(help="Who holds it (shown as the author).")] = None,
    expires_in: Annotated[
        str | None,
        typer.Option(help="Lifetime: 90m, 12h, 30d or 2w; without it the token never expires."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a token and print it once: it cannot be shown again."""
    from core import db
    from intmon.api.auth import TokenError, create_token, parse_lifetime
    from intmon.cli.database import open_database

    now = db.utcnow()
    try:
        expires_at = now + parse_lifetime(expires_in) if expires_in is not None else None
        engine = open_database(migrate=False)
        token_id, token = create_token(
            engine, role=role, client=client, name=name, now=now, expires_at=expires_at
        )
    except TokenError as error:
        fail(str(error))
    if as_json:
        print_json(
            {
                "id": token_id,
                "role": role,
                "client": client,
                "expires_at": expires_at.isoformat() if expires_at else None,
                "token": token,
            }
        )
        return
    until = f", expires {when(expires_at)}" if expires_at else ""
    console.print(f"token {token_id} ({role}{until}); shown once, store it now:")
    console.print(token, markup=False, highlight=False, soft_wrap=True)


@tokens_app.command("list")
def tokens_list(as_json: JsonOpt = False) -> None:
    """Tokens (never the token itself): when each expires, was last used, was revoked."""
    from intmon.api.auth import list_tokens
    from intmon.cli.database import open_database

    rows = list_tokens(open_database(migrate=False))
    if as_json:
        print_json(rows)
        return
    table = Table(title="API tokens")
    for column in ("id", "name", "role", "client", "created", "expires", "last used", "revoked"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["id"]),
            escape(row["name"]),
            row["role"],
            escape(row["client"] or "-"),
            when(row["created_at"]),
            when(row["expires_at"]),
            when(row["last_used_at"]),
            when(row["revoked_at"]),
        )
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Revoke a token; requests with it get 401 from now on."""
    from core import db
    from intmon.api.auth import TokenError, revoke_token
    from intmon.cli.database import open_database

    try:
        revoke_token(open_database(migrate=False), token_id, db.utcnow())
    except TokenError as error:
        fail(str(error))
    console.print(f"token {token_id} revoked")


def api(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[
        int, typer.Option(min=1, help="Server processes (one per core; more than 1 needs Redis).")
    ] = 1,
) -> None:
    """Serve the HTTP API and the console (OpenAPI at /docs) with uvicorn."""
    import uvicorn

    from core.logs import setup_logging
    from core.settings import get_settings
    from intmon.cli.database import open_database
    from intmon.serve import APP_FACTORY, serve_processes

    settings = get_settings()
    setup_logging(settings.log_level)
    if workers > 1 and not settings.redis_url:
        # Request limits and triggered scenarios are shared through Redis; without it
        # each process would keep its own and N processes would allow N times the limit.
        fail("--workers above 1 needs INTMON_REDIS_URL (the processes share limits through it)")
    open_database(migrate=False)  # refuse a database without the schema before forking
    if workers > 1:  # a socket per process, so connections are spread evenly (intmon.serve)
        try:
            code = serve_processes(host, port, workers)
        except OSError as error:  # the port is taken, or the address is not ours
            fail(f"cannot listen on {host}:{port}: {error.strerror or error}")
        raise typer.Exit(code)
    # uvicorn would believe X-Forwarded-For from 127.0.0.1 by default; the app
    # believes it only from INTMON_TRUSTED_PROXIES (intmon.web.throttle). No access
    # log: a ping's path is its secret key.
    uvicorn.run(
        APP_FACTORY, factory=True, host=host, port=port, proxy_headers=False, access_log=False
    )
