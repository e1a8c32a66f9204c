"""The README's Python client ("Coding against the API") runs as it stands.

The fenced block after the `<!-- tested: tests/e2e/test_readme_client.py … -->` marker
is copied out of README.md into a file of its own and run by pytest, in a process
of its own, against the API served by uvicorn on 127.0.0.1 with the scenario
tests' fake partner behind `acme-broker`: it triggers `lead-flow` with a variable,
long-polls with `?wait=`, and asserts on the report. A change to the API that
breaks the example, or an edit that breaks the example, fails here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import Engine

from core import db
from core.settings import Settings
from integrations.apply import apply
from integrations.loader import load_text
from intmon.api.auth import create_token
from intmon.app import create_app
from intmon.migrations import upgrade
from tests.e2e.conftest import ENVIRON, T0, Served, lead_flow

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- tested: tests/e2e/test_readme_client.py runs the next block -->"


def readme_client() -> str:
    text = README.read_text()
    assert MARKER in text, "the README lost the client example's marker"
    block = re.search(r"```python\n(.*?)```", text[text.index(MARKER) :], re.DOTALL)
    assert block is not None, "no ```python block after the marker"
    return block.group(1)


@pytest.fixture
def engine(served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    engine = db.make_engine(f"sqlite:///{tmp_path / 'api.db'}")
    upgrade(engine)
    # The README's names: integration acme-broker, scenario lead-flow (variable `email`).
    config = lead_flow(served.url).replace("  - id: acme\n", "  - id: acme-broker\n")
    apply(engine, load_text(config), T0)
    yield engine
    engine.dispose()


@pytest.fixture
def served_api(engine: Engine) -> Iterator[str]:
    """The API on a free port of 127.0.0.1; without Redis it runs triggered scenarios
    itself, as a one-machine install does."""
    app = create_app(engine, Settings(redis_url=None))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    app.state.e2e_runs.join(timeout=30)


def test_the_readme_client_example_passes_against_a_served_api(
    engine: Engine, served_api: str, served: Served, tmp_path: Path
) -> None:
    suite = tmp_path / "suite" / "test_partner_journeys.py"
    suite.parent.mkdir()
    suite.write_text(readme_client())
    token = create_token(engine, role="tester", name="ci", now=T0)[1]
    env = {**os.environ, "INTMON_URL": served_api, "INTMON_TOKEN": token}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
        cwd=suite.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
    # The variable reached the partner: the example really ran the scenario.
    assert [lead["email"] for lead in served.partner.leads.values()] == ["qa+ci@example.com"]
