"""The engine thread: synchronous callers on any thread, one loop per process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from checks import loop
from checks.engine import ProbeSettings
from checks.errors import EngineClosed
from checks.loop import EngineThread, shared_engine
from checks.outcomes import CheckResult, Outcome
from integrations.config import IntegrationSpec


@pytest.fixture
def engine_thread() -> Iterator[EngineThread]:
    thread = EngineThread(ProbeSettings(transport="httpx"))
    yield thread
    thread.close()


@pytest.fixture
def no_shared_engine() -> Iterator[None]:
    yield
    if loop._shared is not None:
        loop._shared.close()
        loop._shared = None


def test_run_batch_from_several_threads(
    engine_thread: EngineThread, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    spec = integration(partners.http)
    results: list[list[CheckResult]] = []

    def worker() -> None:
        results.append(engine_thread.run_batch([(spec, spec.checks[0], None)] * 3, timeout=10))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.outcome for batch in results for r in batch] == [Outcome.OK] * 12


def test_closed_thread_refuses_work(
    partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    engine_thread = EngineThread()
    engine_thread.close()
    engine_thread.close()  # idempotent
    spec = integration(partners.http)

    with pytest.raises(EngineClosed):
        engine_thread.run_batch([(spec, spec.checks[0], None)])


def test_batch_timeout_raises(
    engine_thread: EngineThread, partners: Any, integration: Callable[..., IntegrationSpec]
) -> None:
    spec = integration(partners.stall, timeout_s=2)

    with pytest.raises(TimeoutError):
        engine_thread.run_batch([(spec, spec.checks[0], None)], timeout=0.2)


@pytest.mark.usefixtures("no_shared_engine")
def test_shared_engine_is_one_per_process() -> None:
    settings = ProbeSettings(transport="httpx")

    first = shared_engine(settings)

    assert shared_engine(ProbeSettings(transport="httpx")) is first
    with pytest.raises(ValueError, match="already runs"):
        shared_engine(ProbeSettings(transport="aiohttp"))


@pytest.mark.usefixtures("no_shared_engine")
def test_shared_engine_is_recreated_in_a_forked_child() -> None:
    parent = shared_engine()
    parent.pid = -1  # as seen from a forked child: the engine belongs to another process
    try:
        child = shared_engine()
        assert child is not parent
        assert child.pid > 0
    finally:
        parent.close()
