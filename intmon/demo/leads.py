"""The demo's lead traffic: a lead every half second into `acme-broker`, through its outage.

While the broker rejects the token (an auth incident is open) the leads are held;
when it recovers they are replayed in arrival order, and those held longer than
the broker's `max_hold_s` expire. At the end the demo prints the lead report:
what was delivered, and who is liable for the leads lost.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from sqlalchemy import Engine

from alerts.lead_report import LeadReport, build_report
from core.db import utcnow
from integrations.leads.dispatch import pending_count
from integrations.leads.ledger import LeadIn, submit
from integrations.registry import load_specs

INTEGRATION = "acme-broker"


class LeadFeeder:
    def __init__(self, engine: Engine, every_s: float = 0.5) -> None:
        self.engine = engine
        self.every_s = every_s
        self.sent = 0
        self.started_at: datetime = utcnow()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-leads", daemon=True)

    def start(self) -> LeadFeeder:
        self.started_at = utcnow()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        specs = {key: registered.spec for key, registered in load_specs(self.engine).items()}
        while not self._stop.wait(self.every_s):
            number = self.sent + 1
            lead = LeadIn(
                id=f"demo-lead-{number:04d}",
                integration=INTEGRATION,
                fields={"email": f"lead{number}@example.com", "name": f"Lead {number}"},
            )
            submit(self.engine, [lead], specs, utcnow())
            self.sent = number

    def settle(self, timeout_s: float) -> None:
        """Wait (bounded) until no lead is queued or held any more."""
        deadline = time.monotonic() + timeout_s
        while pending_count(self.engine) and time.monotonic() < deadline:
            time.sleep(0.25)

    def report(self) -> LeadReport:
        return build_report(self.engine, [INTEGRATION], self.started_at, utcnow())
