"""The daily partitions of `check_results` on PostgreSQL (migration 0016).

    list_partitions(connection)   every partition with its range and a row estimate
    ensure_day(connection, day)   the partition of one UTC day, created when missing:
                                  its rows waiting in DEFAULT are moved into it first
    drop(connection, partition)   detach and drop one partition: O(1), no dead rows

A day's partition is `check_results_pYYYYMMDD`, covering [day, day + 1) in UTC.
The DEFAULT partition takes any row whose day has no partition yet, so a batch
never fails for want of one; the retention pass (`integrations.retention`) moves
such rows into their day later. Each function runs in the caller's transaction;
the caller holds the retention lock, so these only ever run one at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, text

from core.db import table_of
from integrations.models import CheckResultRow

PARENT = "check_results"
DEFAULT = "check_results_default"
DAY = timedelta(days=1)
DAY_NAME = re.compile(r"check_results_p(\d{8})")
COLUMNS = ", ".join(column.name for column in table_of(CheckResultRow).columns)

_LIST = text(
    """
    SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound,
           c.reltuples AS estimate
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = CAST(:parent AS regclass)
    ORDER BY c.relname
    """
)
_BOUNDS = re.compile(r"FOR VALUES FROM \((.+?)\) TO \((.+?)\)")


@dataclass(frozen=True, slots=True)
class Partition:
    """One partition. `lower` is None for one that starts at MINVALUE (the
    pre-partitioning table, `check_results_legacy`); both are None for DEFAULT.
    `rows_estimate` is PostgreSQL's statistic (None before the first ANALYZE)."""

    name: str
    lower: datetime | None
    upper: datetime | None
    rows_estimate: int | None

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "from": None if self.lower is None else self.lower.isoformat(),
            "to": None if self.upper is None else self.upper.isoformat(),
            "rows_estimate": self.rows_estimate,
            "default": self.is_default,
        }


def day_of(moment: datetime) -> datetime:
    """The start (00:00 UTC) of the day `moment` falls in."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def name_of(day: datetime) -> str:
    return f"{PARENT}_p{day_of(day):%Y%m%d}"


def list_partitions(connection: Connection) -> list[Partition]:
    rows = connection.execute(_LIST, {"parent": PARENT}).all()
    partitions = []
    for row in rows:
        lower = upper = None
        found = _BOUNDS.search(row.bound or "")
        if found is not None:
            lower, upper = _bound(found.group(1)), _bound(found.group(2))
        estimate = int(row.estimate) if row.estimate is not None and row.estimate >= 0 else None
        partitions.append(Partition(row.name, lower, upper, estimate))
    return partitions


def _bound(value: str) -> datetime | None:
    """A range bound as `pg_get_expr` prints it ('2026-12-07 00:00:00+00', in the
    session's time zone) → UTC; MINVALUE and MAXVALUE → None."""
    if value in ("MINVALUE", "MAXVALUE"):
        return None
    return datetime.fromisoformat(value.strip("'")).astimezone(UTC)


def exists(connection: Connection, name: str) -> bool:
    found = connection.execute(text("SELECT to_regclass(:name)"), {"name": name}).scalar()
    return found is not None


def ensure_day(connection: Connection, day: datetime) -> int | None:
    """Create the partition of `day` unless it exists (None). Returns how many of
    its rows were moved out of DEFAULT.

    PostgreSQL refuses a new partition while DEFAULT holds rows of its range, so
    the partition is built as a plain table, the rows are moved into it and it is
    attached, all in the caller's transaction.

    Writes to check_results wait for the commit (EXCLUSIVE still lets readers
    read): a batch that chose its partitions before the ATTACH would otherwise
    put a row of this day into DEFAULT after it, and fail on DEFAULT's new
    constraint, losing the batch. Waiting, it routes to the new partition. The
    lock is held for milliseconds, or while the rows of a day that waited in
    DEFAULT are moved."""
    day = day_of(day)
    name = name_of(day)
    if exists(connection, name):
        return None
    lower, upper = _literal(day), _literal(day + DAY)
    connection.exec_driver_sql(f"LOCK TABLE {PARENT} IN EXCLUSIVE MODE")
    connection.exec_driver_sql(f"LOCK TABLE {DEFAULT} IN ACCESS EXCLUSIVE MODE")
    connection.exec_driver_sql(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)")
    # ATTACH then need not scan the new table to prove its rows belong there.
    connection.exec_driver_sql(
        f"ALTER TABLE {name} ADD CONSTRAINT {name}_range "
        f"CHECK (started_at >= {lower} AND started_at < {upper})"
    )
    moved = connection.exec_driver_sql(
        f"WITH moved AS (DELETE FROM {DEFAULT} WHERE started_at >= {lower} "
        f"AND started_at < {upper} RETURNING {COLUMNS}) "
        f"INSERT INTO {name} ({COLUMNS}) SELECT {COLUMNS} FROM moved"
    ).rowcount
    connection.exec_driver_sql(
        f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ({lower}) TO ({upper})"
    )
    return max(moved, 0)


def drop(connection: Connection, partition: Partition) -> None:
    """Detach and drop a partition in the caller's transaction: both or neither.
    (DETACH … CONCURRENTLY would not take the parent's exclusive lock, but cannot
    run in a transaction; the plain one holds it for milliseconds.)"""
    if partition.is_default:
        raise ValueError("the DEFAULT partition of check_results is never dropped")
    if not exists(connection, partition.name):
        return
    connection.exec_driver_sql(f"ALTER TABLE {PARENT} DETACH PARTITION {partition.name}")
    connection.exec_driver_sql(f"DROP TABLE {partition.name}")


def _literal(moment: datetime) -> str:
    # Only ever a datetime computed here, never text from outside.
    return f"'{moment.astimezone(UTC).isoformat()}'"
