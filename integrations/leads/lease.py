"""Who dispatches an integration's lead queue: one dispatcher at a time, by lease.

The lease row is taken with a conditional UPDATE (as the outbox claims rows) and
carries a random owner token, so a dispatcher whose lease lapsed (it stalled, or
was killed) can neither renew nor release the lease another one has taken since:
it stops before its next chunk instead of sending leads twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from core.db import table_of
from integrations.leads.models import LeadDispatch

DISPATCH = table_of(LeadDispatch)


def lease(engine: Engine, integration_id: str, now: datetime, lease_s: float) -> str | None:
    """Take the integration's queue for `lease_s`; returns our owner token, or None
    when another dispatcher holds it."""
    owner = uuid.uuid4().hex
    until = now + timedelta(seconds=lease_s)
    with engine.begin() as connection:
        if (
            connection.execute(
                select(DISPATCH.c.integration_id).where(DISPATCH.c.integration_id == integration_id)
            ).first()
            is None
        ):
            try:
                with connection.begin_nested():
                    connection.execute(
                        insert(DISPATCH).values(
                            integration_id=integration_id, owner=owner, leased_until=until
                        )
                    )
                return owner
            except IntegrityError:  # another dispatcher inserted it first
                return None
        free = or_(DISPATCH.c.leased_until.is_(None), DISPATCH.c.leased_until < now)
        taken = connection.execute(
            update(DISPATCH)
            .where(and_(DISPATCH.c.integration_id == integration_id, free))
            .values(owner=owner, leased_until=until)
        ).rowcount
    return owner if taken else None


def renew(engine: Engine, integration_id: str, owner: str, now: datetime, lease_s: float) -> bool:
    """Extend our lease; False when it lapsed and another dispatcher took the queue."""
    with engine.begin() as connection:
        return bool(
            connection.execute(
                update(DISPATCH)
                .where(DISPATCH.c.integration_id == integration_id, DISPATCH.c.owner == owner)
                .values(leased_until=now + timedelta(seconds=lease_s))
            ).rowcount
        )


def release(engine: Engine, integration_id: str, owner: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(DISPATCH)
            .where(DISPATCH.c.integration_id == integration_id, DISPATCH.c.owner == owner)
            .values(owner=None, leased_until=None)
        )
