"""Recording why due checks were skipped, cheaply enough for the scheduler's hot path.

The scheduler skips a check whose previous run is still in flight; a worker skips
checks the partner's request budget has no room for. Each skip is noted in
memory (a dict write) and the latest skip per check is written at most every
`flush_s` seconds, one upsert for all of them, into `check_skips`. A skip a few
seconds late in the table changes nothing: a check is only called stale after
two intervals without a result (`integrations.staleness`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Insert
from sqlalchemy.dialects import postgresql, sqlite

from core.db import table_of
from integrations.models import CheckSkip
from integrations.staleness import CheckId, QuietReason

SKIPS = table_of(CheckSkip)


class SkipLog:
    """Skips noted by one process, written in batches. Thread-safe."""

    def __init__(self, flush_s: float = 5.0) -> None:
        self.flush_s = flush_s
        self._pending: dict[CheckId, tuple[QuietReason, float]] = {}
        self._flushed_at: float | None = None
        self._lock = threading.Lock()

    def note(self, checks: Iterable[CheckId], reason: QuietReason, now: float) -> None:
        """`checks` had a due run skipped for `reason` at Unix time `now`."""
        with self._lock:
            for check in checks:
                self._pending[check] = (reason, now)

    def flush(self, engine: Engine, now: float, *, force: bool = False) -> int:
        """Write what is pending when `flush_s` has passed since the last write (or
        `force`); returns the number of checks written."""
        with self._lock:
            if not self._pending:
                return 0
            if not force and self._flushed_at is not None and now < self._flushed_at + self.flush_s:
                return 0
            pending, self._pending = self._pending, {}
            self._flushed_at = now
        rows = [
            {
                "integration_id": integration_id,
                "check_name": check_name,
                "reason": reason.value,
                "skipped_at": datetime.fromtimestamp(at, UTC),
            }
            # Sorted: processes upserting the same checks lock rows in one order.
            for (integration_id, check_name), (reason, at) in sorted(pending.items())
        ]
        try:
            with engine.begin() as connection:
                connection.execute(_upsert(connection.dialect.name), rows)
        except Exception:
            # Keep them for the next try (newer skips noted meanwhile win).
            with self._lock:
                for key, value in pending.items():
                    self._pending.setdefault(key, value)
            raise
        return len(rows)


def _upsert(dialect: str) -> Insert:
    module: Any = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(SKIPS)
    return stmt.on_conflict_do_update(
        index_elements=[SKIPS.c.integration_id, SKIPS.c.check_name],
        set_={"reason": stmt.excluded.reason, "skipped_at": stmt.excluded.skipped_at},
    )
