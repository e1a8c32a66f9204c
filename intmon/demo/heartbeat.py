"""The demo's partner job: pings its heartbeat over HTTP a few times, then stops.

It pings the demo's own API (the console's server, `intmon.serve`) at
`/ping/<key>` as a cron job would with curl, so the demo goes through the real
endpoint; once it stops, the detector records `missed_heartbeat` after the
period and grace, and an incident opens with its ticket.
"""

from __future__ import annotations

import logging
import threading

import httpx
from sqlalchemy import Engine

from integrations.heartbeats.store import list_heartbeats

log = logging.getLogger(__name__)


class DemoJob:
    def __init__(
        self, engine: Engine, base_url: str, integration_id: str, name: str, *, every_s: float
    ) -> None:
        self.engine = engine
        self.base_url = base_url.rstrip("/")
        self.integration_id = integration_id
        self.name = name
        self.every_s = every_s
        self.pinged = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-job", daemon=True)

    def start(self, times: int = 3) -> DemoJob:
        self.times = times
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _key(self) -> str:
        views = list_heartbeats(self.engine, [self.integration_id])
        return next(view.ping_key for view in views if view.name == self.name)

    def _run(self) -> None:
        url = f"{self.base_url}/ping/{self._key()}"
        with httpx.Client(timeout=5.0) as http:
            for _ in range(self.times):
                try:
                    http.post(url, content=b"export done").raise_for_status()
                    self.pinged += 1
                except httpx.HTTPError as error:
                    log.warning("demo job could not ping: %s", type(error).__name__)
                if self._stop.wait(self.every_s):
                    return
