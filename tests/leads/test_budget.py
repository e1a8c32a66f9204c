"""The partner's request budget: deliveries may fill a window, checks only their share,
in one process (memory) and across processes (Redis, atomic)."""

from __future__ import annotations

import threading

import pytest
import redis

from integrations.loader import load_text
from integrations.partner_budget import MemoryBudget, PartnerBudget, RedisBudget, allowance
from tests.conftest import REDIS_URL
from worker.batch import BatchItem
from worker.pipeline import within_budget

NOW = 1_800_000_000.0


@pytest.fixture(params=["memory", "redis"])
def budget(request: pytest.FixtureRequest) -> PartnerBudget:
    if request.param == "memory":
        return MemoryBudget()
    namespace = request.getfixturevalue("namespace")
    return RedisBudget(redis.Redis.from_url(REDIS_URL), namespace)


def test_deliveries_fill_the_window_and_checks_get_only_their_share(budget: PartnerBudget) -> None:
    assert budget.take("bx", 3, 10.0, 0.2, NOW) == 2  # checks: 20% of 10 a second
    assert budget.take("bx", 5, 10.0, 0.2, NOW) == 0
    assert budget.take("bx", 20, 10.0, 1.0, NOW) == 8  # deliveries: what is left
    assert budget.take("bx", 1, 10.0, 1.0, NOW + 0.5) == 0  # same one-second window
    assert budget.take("bx", 20, 10.0, 1.0, NOW + 1) == 10  # the next window
    assert budget.take("other", 1, 10.0, 1.0, NOW) == 1  # per partner


def test_a_rate_under_one_per_second_uses_longer_windows(budget: PartnerBudget) -> None:
    assert budget.take("slow", 5, 0.5, 1.0, NOW) == 1  # one request per 2 s window
    assert budget.take("slow", 5, 0.5, 1.0, NOW + 1) == 0
    assert budget.take("slow", 5, 0.5, 1.0, NOW + 2) == 1


def test_concurrent_takers_never_exceed_the_budget(budget: PartnerBudget) -> None:
    granted: list[int] = []

    def take() -> None:
        for _ in range(20):
            granted.append(budget.take("race", 1, 50.0, 1.0, NOW))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 50


def test_scheduled_checks_of_a_budgeted_partner_take_only_the_checks_share() -> None:
    spec_text = """version: 1
integrations:
  - id: bx
    name: B
    kind: broker
    client: acme
    base_url: http://127.0.0.1:9
    checks: [{name: a}, {name: b}, {name: c}]
    delivery:
      {path: /leads, body: {email: "{{ lead.email }}"}, rate_limit_rps: 10, checks_share: 0.2}
  - id: free
    name: F
    kind: broker
    client: acme
    base_url: http://127.0.0.1:9
    checks: [{name: a}]
"""
    specs = {spec.id: spec for spec in load_text(spec_text).integrations}
    runnable = [
        (BatchItem(spec.id, 1, check.name, NOW, 5.0), spec, check)
        for spec in specs.values()
        for check in spec.checks
    ]
    kept, over = within_budget(MemoryBudget(), runnable, NOW)
    assert [(spec.id, check.name) for _, spec, check in kept] == [
        ("bx", "a"),
        ("bx", "b"),
        ("free", "a"),
    ]
    assert over == 1


@pytest.mark.parametrize(
    ("capacity", "share", "expected"),
    [
        (2, 0.2, 1),  # a 2/s partner at the default share: was 0, every check skipped
        (10, 0.2, 2),
        (10, 0.01, 1),  # any positive share gets at least one request a window
        (10, 1.0, 10),
        (10, 0.0, 0),  # no share, no requests (validate refuses it)
    ],
)
def test_a_positive_share_never_rounds_to_no_request(
    capacity: int, share: float, expected: int
) -> None:
    assert allowance(capacity, share) == expected


def test_checks_of_a_slow_partner_at_the_default_share_still_run(budget: PartnerBudget) -> None:
    assert budget.take("slow2", 3, 2.0, 0.2, NOW) == 1
    assert budget.take("slow2", 3, 2.0, 1.0, NOW) == 1  # deliveries keep the rest
