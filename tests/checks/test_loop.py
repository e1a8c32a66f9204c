"""The engine thread: synchronous callers on any thread, one loop per process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from checks.engine import ProbeSettings
from checks.errors import EngineClosed
from checks.loop import EngineThread
from core.vocabulary.outcomes import CheckResult, Outcome
from integrations.config import IntegrationSpec


@pytest.fixture
def engine_thread() -> Iterator[EngineThread]:
    thread = EngineThread(ProbeSettings(transport="httpx"))
    yield thread
    thread.close()


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
