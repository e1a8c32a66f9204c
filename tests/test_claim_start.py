"""A worker runs only the checks whose claim it could start (`worker.pipeline.start_runs`).

Between the scheduler claiming a batch's checks and a worker taking the message, a
claim may lapse and be taken again by the next batch. The worker that holds the old
batch must then leave that check alone: running it would probe the partner twice at
once and store two results for one slot.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.settings import Settings
from integrations.apply import apply
from integrations.loader import load_text
from integrations.results import count_results
from tests.conftest import Partner
from worker.batch import Batch, BatchItem
from worker.coordination import claim_value
from worker.pipeline import run_batch
from worker.runtime import Runtime, build_runtime

CONFIG = """version: 1
integrations:
  - id: shop
    name: Shop
    kind: shop
    client: acme
    base_url: {url}
    interval_s: 60
    checks: [{{name: a, path: /health}}, {{name: b, path: /health}}, {{name: c, path: /health}}]
"""


@pytest.fixture
def runtime(tmp_path: Path, partner: Partner) -> Iterator[Runtime]:
    # Its own namespace: the embedded coordinator is one per namespace and process.
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'claims.db'}", redis_url=None, namespace=tmp_path.name
    )
    rt = build_runtime(settings)
    from intmon.migrations import upgrade

    upgrade(rt.db)
    apply(rt.db, load_text(CONFIG.format(url=partner.url)), now=datetime.now(UTC))
    assert rt.coordinator.ensure_leadership()
    yield rt
    rt.close()
    rt.db.dispose()


def claimed_batch(rt: Runtime, names: list[str], now: float, deadline: float) -> Batch:
    keys = [f"shop/{name}" for name in names]
    assert rt.coordinator.claim(keys, now, deadline) == keys
    items = [BatchItem("shop", 1, name, now, 5.0) for name in names]
    return Batch(rt.coordinator.fence, claim_value(deadline), deadline, items)


def test_a_check_whose_claim_was_taken_again_is_not_run(runtime: Runtime, partner: Partner) -> None:
    rt = runtime
    now = time.time()
    old = claimed_batch(rt, ["a", "b", "c"], now, now + 30)
    # Check b's claim lapsed and the next batch took it before a worker got `old`.
    rt.coordinator.release({"shop/b": old.claim}, {})
    newer = claimed_batch(rt, ["b"], now, now + 60)

    outcome = run_batch(rt, old.to_payload())

    assert sorted(r.check_name for r in outcome.results) == ["a", "c"]
    assert outcome.skipped == {"stale": 1}
    assert partner.hits == 2 and count_results(rt.db) == 2
    # The newer batch still owns b and runs it.
    assert [r.check_name for r in run_batch(rt, newer.to_payload()).results] == ["b"]
    assert partner.hits == 3


def test_a_batch_whose_claims_all_ran_out_runs_nothing(runtime: Runtime, partner: Partner) -> None:
    rt = runtime
    now = time.time()
    old = claimed_batch(rt, ["a", "b"], now, now + 30)
    for name in ("a", "b"):
        rt.coordinator.release({f"shop/{name}": old.claim}, {})
    claimed_batch(rt, ["a", "b"], now, now + 60)

    outcome = run_batch(rt, old.to_payload())

    assert outcome.results == [] and outcome.skipped == {"stale": 2}
    assert partner.hits == 0 and count_results(rt.db) == 0
