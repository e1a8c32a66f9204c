"""What a principal may see, as FastAPI dependencies and lookups that answer 404.

Anything a client may not see is reported exactly like something that does not
exist (404 with the same message), so a client cannot learn that another
client's integration or ticket exists. A role that may not use an endpoint at
all gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection, Engine

from alerts import tickets
from alerts.errors import TicketNotFound
from core import db
from integrations.registry import RegisteredIntegration, load_specs
from intmon.api.auth import Principal, authenticate

bearer = HTTPBearer(auto_error=False, description="An API token from `intmon tokens create`.")


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller, from `Authorization: Bearer <token>`; 401 without a valid token."""
    found = (
        authenticate(engine_of(request), credentials.credentials, db.utcnow())
        if credentials is not None and credentials.scheme.lower() == "bearer"
        else None
    )
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or invalid bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return found


def require(*roles: str) -> Callable[..., Principal]:
    """A dependency: the caller, if their role is one of `roles`, else 403."""

    def check(caller: Annotated[Principal, Depends(principal)]) -> Principal:
        if caller.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {caller.role} token cannot do this")
        return caller

    return check


Caller = Annotated[Principal, Depends(principal)]
Support = Annotated[Principal, Depends(require("support"))]
TicketReader = Annotated[Principal, Depends(require("support", "client"))]
Db = Annotated[Engine, Depends(engine_of)]


def visible_integrations(engine: Engine, caller: Principal) -> dict[str, RegisteredIntegration]:
    return {
        integration_id: registered
        for integration_id, registered in sorted(load_specs(engine).items())
        if caller.sees_client(registered.spec.client)
    }


def visible_integration(engine: Engine, caller: Principal, integration_id: str) -> Any:
    """The spec of one integration the caller may see; 404 otherwise."""
    registered = load_specs(engine, [integration_id]).get(integration_id)
    if registered is None or not caller.sees_client(registered.spec.client):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"integration {integration_id} not found")
    return registered.spec


def visible_ticket(
    connection: Connection, caller: Principal, reference: str, *, support_only: bool = False
) -> Any:
    """The ticket row if the caller may see it; TicketNotFound (404) otherwise.

    With `support_only`, a ticket the caller may see but not change is 403:
    visibility is checked first, so another client's ticket stays "not found"."""
    row = tickets.load(connection, reference)
    if not caller.sees_client(row.client):
        raise TicketNotFound(tickets.ticket_number(row.id))
    if support_only and not caller.is_support:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {caller.role} token cannot do this")
    return row
