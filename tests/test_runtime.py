"""One runtime per process: built once, and built anew in a forked child."""

from __future__ import annotations

import os

import pytest

from core.settings import Settings
from worker import runtime as runtime_module
from worker.runtime import build_runtime, install, runtime


@pytest.fixture
def installed(tmp_path):  # type: ignore[no-untyped-def]
    rt = build_runtime(Settings(database_url=f"sqlite:///{tmp_path / 'rt.db'}"))
    install(rt)
    yield rt
    runtime_module._runtime = None
    rt.close()


def test_runtime_is_one_per_process(installed) -> None:  # type: ignore[no-untyped-def]
    assert runtime() is installed
    assert runtime() is installed


# dramatiq forks its worker processes; Python 3.12+ warns on fork with threads running.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_forked_child_builds_its_own(installed) -> None:  # type: ignore[no-untyped-def]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's probe thread did not survive the fork
        try:
            child = runtime()
            ok = child is not installed and child.probes is not installed.probes
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    assert answer == b"1"
