"""Which integrations take postbacks, re-read from the registry at most every few seconds.

The postback endpoint needs no login, so anyone can call it with any integration
id and any signature. Looking the integration up in the database for each
request let an unauthenticated flood cost one query per request (the limit is
only charged after the signature checks out, so a forger cannot spend a broker's
budget). Here the whole map of integrations with postbacks (id → the secret's
reference, never its value) is read in one query when it is older than `ttl_s`
(5 s), by one thread while the others keep answering from the copy they have:
a flood of made-up ids or signatures costs no database work at all.

So a change to `postbacks:` (a new secret, a new integration) reaches the
endpoint within `ttl_s` of `intmon apply`. The secret's value is still read per
request (`integrations.secrets.resolve`: an environment variable or a file), so a
rotated secret file takes effect at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine

from integrations.registry import load_specs

TTL_S = 5.0


class PostbackEndpoints:
    def __init__(
        self, engine: Engine, ttl_s: float = TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self.clock = clock
        self._refs: dict[str, str] | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def is_fresh(self) -> bool:
        """Whether `secret_ref` answers from memory now (no database read)."""
        return self._refs is not None and self.clock() - self._read_at < self.ttl_s

    def secret_ref(self, integration_id: str) -> str | None:
        """The reference to `integration_id`'s postback secret; None: no such endpoint."""
        return self._current().get(integration_id)

    def _current(self) -> dict[str, str]:
        refs = self._refs
        if refs is not None and self.clock() - self._read_at < self.ttl_s:
            return refs
        # One reader; the others answer from the previous copy meanwhile (the first
        # read of all waits for it).
        if not self._lock.acquire(blocking=refs is None):
            assert refs is not None
            return refs
        try:
            if self._refs is None or self.clock() - self._read_at >= self.ttl_s:
                self._refs = {
                    integration_id: registered.spec.postbacks.secret
                    for integration_id, registered in load_specs(self.engine).items()
                    if registered.spec.postbacks is not None
                }
                self._read_at = self.clock()
            return self._refs
        finally:
            self._lock.release()
