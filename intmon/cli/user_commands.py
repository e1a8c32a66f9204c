"""`intmon users create | list | set-password | disable`: the people of the web console.

The password is read from a hidden prompt (asked twice), a file
(`--password-file`) or `INTMON_NEW_USER_PASSWORD`, and is never printed; the
database keeps only its salted scrypt hash (`intmon.web.users`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from intmon.cli.output import console, fail, print_json, when

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
PASSWORD_ENV = "INTMON_NEW_USER_PASSWORD"

users_app = typer.Typer(
    name="users", help="Web console users: support and client logins.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app)


def _password(password_file: Path | None) -> str:
    if password_file is not None:
        try:
            text = sys.stdin.read() if str(password_file) == "-" else password_file.read_text()
            return text.rstrip("\r\n")
        except OSError as error:
            fail(f"password-file: cannot read {password_file}: {error.strerror}")
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    try:
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    except typer.Abort:  # no terminal, or end of input
        fail(f"password: not given; use --password-file, ${PASSWORD_ENV} or a terminal")
    return password


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="The login name (stored lower-case).")],
    role: Annotated[str, typer.Option(help="support or client.", show_default=False)],
    client: Annotated[str | None, typer.Option(help="Required for --role client.")] = None,
    password_file: Annotated[
        Path | None,
        typer.Option(
            help=f"Read the password from this file, - for stdin (else ${PASSWORD_ENV}, else ask)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a login for the web console; the password is never echoed."""
    from core import db
    from intmon.cli.database import open_database
    from intmon.web.users import UserError, create_user

    engine = open_database(migrate=False)
    try:
        user_id = create_user(
            engine,
            username,
            role=role,
            client=client,
            password=_password(password_file),
            now=db.utcnow(),
        )
    except UserError as error:
        fail(str(error))
    name = username.strip().lower()
    if as_json:
        print_json({"id": user_id, "username": name, "role": role, "client": client})
        return
    console.print(f"user {escape(name)} created ({role}{f': {escape(client)}' if client else ''})")


@users_app.command("list")
def users_list(as_json: JsonOpt = False) -> None:
    """Every user (never the password hash) and whether each is disabled."""
    from intmon.cli.database import open_database
    from intmon.web.users import list_users

    rows = list_users(open_database(migrate=False))
    if as_json:
        print_json(rows)
        return
    table = Table(title="Web console users")
    for column in ("id", "username", "role", "client", "created", "disabled"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["id"]),
            escape(row["username"]),
            row["role"],
            escape(row["client"] or "-"),
            when(row["created_at"]),
            when(row["disabled_at"]),
        )
    console.print(table)


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument(help="The login name.")]) -> None:
    """Disable a user: they cannot log in, and every session of theirs ends at once."""
    from core import db
    from intmon.cli.database import open_database
    from intmon.web.users import UserError, disable_user

    try:
        disable_user(open_database(migrate=False), username, db.utcnow())
    except UserError as error:
        fail(str(error))
    console.print(f"user {escape(username.strip().lower())} disabled")


@users_app.command("set-password")
def users_set_password(
    username: Annotated[str, typer.Argument(help="The login name.")],
    password_file: Annotated[
        Path | None,
        typer.Option(
            help=f"Read the password from this file, - for stdin (else ${PASSWORD_ENV}, else ask)."
        ),
    ] = None,
) -> None:
    """Give a user a new password; every session of theirs ends at once."""
    from intmon.cli.database import open_database
    from intmon.web.users import UserError, set_password

    try:
        ended = set_password(open_database(migrate=False), username, _password(password_file))
    except UserError as error:
        fail(str(error))
    name = escape(username.strip().lower())
    console.print(f"password of {name} changed; {ended} session(s) ended")
