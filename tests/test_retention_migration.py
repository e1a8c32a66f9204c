"""Migration 0016 on an installation with results: nothing is copied, nothing lost."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from sqlalchemy import Engine, text

from core.db import utcnow
from integrations import partitions
from integrations.apply import apply
from integrations.partitions import day_of, list_partitions
from integrations.results import record_results
from integrations.retention import Retention, prune
from intmon.migrations import alembic_config, upgrade
from tests.test_registry import config
from tests.test_retention import result

DAY = timedelta(days=1)


def rows(engine: Engine) -> list[tuple[int, object, str]]:
    with engine.connect() as connection:
        return [
            (row.id, row.started_at, row.where)
            for row in connection.execute(
                text(
                    "SELECT id, started_at, tableoid::regclass::text AS where "
                    "FROM check_results ORDER BY id"
                )
            )
        ]


def relkind(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(
                text("SELECT relkind FROM pg_class WHERE relname = 'check_results'")
            ).scalar()
        )


def test_an_installation_with_results_is_partitioned_and_back(pg_engine: Engine) -> None:
    apply(pg_engine, config("a"))  # at head: today's registry writes today's tables
    command.downgrade(alembic_config(pg_engine), "0015")
    assert relkind(pg_engine) == "r"
    now = utcnow()
    today = day_of(now)
    record_results(pg_engine, [result(now - 20 * DAY), result(now - DAY), result(now)])
    before = [(id_, at) for id_, at, _ in rows(pg_engine)]

    upgrade(pg_engine)
    assert relkind(pg_engine) == "p"
    after = rows(pg_engine)
    assert [(id_, at) for id_, at, _ in after] == before
    assert {where for *_, where in after} == {"check_results_legacy"}
    with pg_engine.connect() as connection:
        found = {p.name: p for p in list_partitions(connection)}
    legacy = found.pop("check_results_legacy")
    assert (legacy.lower, legacy.upper) == (None, today + DAY)
    assert set(found) == {"check_results_default"} | {
        partitions.name_of(today + n * DAY) for n in (1, 2, 3)
    }

    # Ids keep increasing from the same sequence; tomorrow has its own partition.
    record_results(pg_engine, [result(now + DAY)])
    newest = rows(pg_engine)[-1]
    assert newest[0] > before[-1][0] and newest[2] == partitions.name_of(today + DAY)

    # The legacy partition goes whole, once its last day (today) is out of retention.
    keep = Retention(days=14)
    assert "check_results_legacy" not in prune(pg_engine, keep, now + 14 * DAY).partitions_dropped
    assert prune(pg_engine, keep, now + 15 * DAY).partitions_dropped[0] == "check_results_legacy"
    assert [where for *_, where in rows(pg_engine)] == [partitions.name_of(today + DAY)]
    record_results(pg_engine, [result(now + DAY)])  # the sequence outlived the legacy table
    assert rows(pg_engine)[-1][0] == newest[0] + 1

    # Downgrade: one ordinary table again, every row and id kept.
    kept = [(id_, at) for id_, at, _ in rows(pg_engine)]
    command.downgrade(alembic_config(pg_engine), "0015")
    assert relkind(pg_engine) == "r"
    assert [(id_, at) for id_, at, _ in rows(pg_engine)] == kept
    record_results(pg_engine, [result(now)])
    assert rows(pg_engine)[-1][0] == kept[-1][0] + 1

    upgrade(pg_engine)
    assert relkind(pg_engine) == "p" and len(rows(pg_engine)) == len(kept) + 1
    # Leave the database as a fresh installation has it, with no legacy partition.
    with pg_engine.begin() as connection:
        legacy = next(p for p in list_partitions(connection) if p.lower is None and p.upper)
        partitions.drop(connection, legacy)
