"""A worker killed with `kill -9` in the middle of 1,000 deliveries, on the real Redis
and PostgreSQL: after a restart every lead is delivered exactly once, none is lost.

The ground truth is the fake broker, which stores a lead before it answers and
deduplicates on the Idempotency-Key, as brokers do: the lead whose answer the
kill swallowed is resent, answered "duplicate", and recorded as delivered.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from core.db import make_engine, utcnow
from integrations.apply import apply
from integrations.leads.ledger import ATTEMPTS, LEADS, LeadIn, submit
from integrations.loader import load_text
from integrations.registry import load_specs
from intmon.migrations import upgrade
from tests.conftest import REDIS_URL
from tests.leads.broker import broker, delivery_config
from tests.test_production_pipeline import Processes, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

LEADS_COUNT = 1000


def test_kill_9_mid_delivery_loses_nothing_and_delivers_once(
    pg_url: str, namespace: str, tmp_path: Path
) -> None:
    engine = make_engine(pg_url)
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            text("TRUNCATE leads, lead_attempts, lead_dispatch, integrations CASCADE")
        )
    with broker() as (fake, url):
        fake.delay_s = 0.01
        apply(engine, load_text(delivery_config(url, delivery_extra="      concurrency: 4\n")))
        specs = {i: r.spec for i, r in load_specs(engine).items()}
        fields = {"email": "k@x", "first": "K", "last": "N", "age": 40}
        leads = [
            LeadIn(id=f"K{n:04d}", integration="bx", fields=fields) for n in range(LEADS_COUNT)
        ]
        submit(engine, leads, specs, utcnow())
        env = {
            **os.environ,
            "INTMON_DATABASE_URL": pg_url,
            "INTMON_REDIS_URL": REDIS_URL,
            "INTMON_NAMESPACE": namespace,
            "INTMON_LEADER_TTL_S": "1.5",
            "INTMON_LEAD_DISPATCH_INTERVAL_S": "0.5",
            "INTMON_LEAD_LEASE_S": "2",
            "PARTNER_TOKEN": "kill-test-token",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        }
        processes = Processes(env, tmp_path)
        try:
            processes.start("scheduler", "scheduler")
            processes.start("worker", "worker", "--processes", "1", "--threads", "2")
            wait_for(lambda: len(fake.accepted) >= 200, 60, "200 leads at the broker")
            processes.kill("worker")
            at_kill = len(fake.accepted)
            assert at_kill < LEADS_COUNT, "the kill came too late to prove anything"
            processes.start("worker-2", "worker", "--processes", "1", "--threads", "2")

            def all_done() -> bool:
                with engine.connect() as connection:
                    waiting = connection.execute(
                        select(func.count())
                        .select_from(LEADS)
                        .where(LEADS.c.state.in_(["queued", "held"]))
                    ).scalar_one()
                return waiting == 0

            wait_for(all_done, 120, "every lead to reach a final state")
        except AssertionError:
            print(processes.log("worker")[-3000:], processes.log("scheduler")[-2000:])
            raise
        finally:
            processes.stop_all()
    assert sorted(fake.accepted) == [lead.id for lead in leads]  # each stored once at the broker
    with engine.connect() as connection:
        states = Counter(connection.execute(select(LEADS.c.state)).scalars())
        delivered = Counter(
            connection.execute(
                select(ATTEMPTS.c.lead_id).where(ATTEMPTS.c.outcome == "delivered")
            ).scalars()
        )
    assert states == {"delivered": LEADS_COUNT}
    assert len(delivered) == LEADS_COUNT and set(delivered.values()) == {1}  # one delivery each
    engine.dispose()
