"""In-process coordination for the embedded mode: always the leader, a dict of claims."""

from __future__ import annotations

import threading

from worker.coordination import claim_value


class MemoryCoordinator:
    def __init__(self) -> None:
        self._claims: dict[str, str] = {}
        self._lock = threading.Lock()
        self._fence = 0

    @property
    def fence(self) -> int:
        return self._fence

    def ensure_leadership(self) -> bool:
        if self._fence == 0:
            self._fence = 1
        return True

    def resign(self) -> None:
        self._fence = 0

    def claim(self, keys: list[str], now: float, deadline: float) -> list[str] | None:
        if self._fence == 0:
            return None
        value = claim_value(deadline)
        claimed = []
        with self._lock:
            for key in keys:
                current = self._claims.get(key)
                if current is None or float(current) <= now:
                    self._claims[key] = value
                    claimed.append(key)
        return claimed

    def start(self, claims: dict[str, str], until: float) -> list[str]:
        value = claim_value(until)
        started = []
        with self._lock:
            for key, expected in claims.items():
                if self._claims.get(key) == expected:
                    self._claims[key] = value
                    started.append(key)
        return started

    def release(self, claims: dict[str, str], not_before: dict[str, float]) -> None:
        with self._lock:
            for key, value in claims.items():
                if self._claims.get(key) != value:
                    continue
                if key in not_before:
                    self._claims[key] = claim_value(not_before[key])
                else:
                    del self._claims[key]

    def held(self, keys: list[str]) -> dict[str, str]:
        with self._lock:
            return {key: self._claims[key] for key in keys if key in self._claims}

    def in_flight(self, now: float) -> int:
        with self._lock:
            return sum(1 for value in self._claims.values() if float(value) > now)
