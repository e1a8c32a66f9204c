"""Slowing down password guessing without letting anyone lock a user out.

Failures are counted per (username, address) pair, so a guesser hammering
`support` from one address makes *that pair* wait, while the right password
from any other address still works. Three rules, all in memory per process
(the scrypt cost of every attempt does the rest):

- **pair back-off**: after `free_failures` failures of one pair, each further
  try waits `base_delay_s`, doubling per failure up to `max_delay_s`. A success
  clears the pair; a pair with no failure for `forget_s` is forgotten.
- **address ceiling**: `address_limit` failures from one address within
  `window_s` (any usernames: spraying) stop that address until they age out.
- **global ceiling**: when more than `global_limit` failures happened within
  `window_s` everywhere (a guesser with many addresses), every pair that has
  failed even once waits; a clean pair — a user at an address that has not
  guessed wrong — still gets in.

The address is the peer's, or with trusted proxies the one they forwarded
(`client_address`): an `X-Forwarded-For` from anyone else is ignored, or a
guesser would pick a new "address" for every try. Time comes from `clock`
(monotonic seconds), which tests move.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.settings import Network


@dataclass(slots=True)
class _Pair:
    failures: int
    last_failure: float


class LoginThrottle:
    """The three rules above, for one process; thread-safe."""

    def __init__(
        self,
        *,
        free_failures: int = 5,
        base_delay_s: float = 30.0,
        max_delay_s: float = 900.0,
        forget_s: float = 3600.0,
        address_limit: int = 20,
        global_limit: int = 200,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.free_failures = free_failures
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.forget_s = forget_s
        self.address_limit = address_limit
        self.global_limit = global_limit
        self.window_s = window_s
        self.clock = clock
        self.max_keys = max_keys
        self._pairs: dict[tuple[str, str], _Pair] = {}
        self._addresses: dict[str, deque[float]] = {}
        self._everywhere: deque[float] = deque()
        # Logins are answered on a thread pool: the tables change under one lock.
        self._lock = threading.Lock()

    def retry_after(self, username: str, address: str) -> float:
        """Seconds until this pair may try again; 0 when it may try now."""
        with self._lock:
            now = self.clock()
            return max(self._pair_wait(username, address, now), self._address_wait(address, now))

    def failed(self, username: str, address: str) -> None:
        with self._lock:
            self._failed(username, address, self.clock())

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._pairs.pop((username, address), None)

    # --- the rules ----------------------------------------------------------------------

    def _failed(self, username: str, address: str, now: float) -> None:
        if len(self._pairs) >= self.max_keys or len(self._addresses) >= self.max_keys:
            self._prune(now)
        pair = self._pairs.get((username, address))
        if pair is None or now - pair.last_failure >= self.forget_s:
            pair = self._pairs[(username, address)] = _Pair(0, now)
        pair.failures += 1
        pair.last_failure = now
        recent = self._recent(self._addresses.setdefault(address, deque()), now)
        recent.append(now)
        self._recent(self._everywhere, now).append(now)
        while len(self._everywhere) > self.global_limit + 1:  # only "over the ceiling" matters
            self._everywhere.popleft()

    def _pair_wait(self, username: str, address: str, now: float) -> float:
        pair = self._pairs.get((username, address))
        if pair is None or now - pair.last_failure >= self.forget_s:
            return 0.0
        under_attack = len(self._recent(self._everywhere, now)) > self.global_limit
        free = 1 if under_attack else self.free_failures
        if pair.failures < free:
            return 0.0
        delay = min(self.max_delay_s, self.base_delay_s * 2 ** (pair.failures - free))
        return max(0.0, pair.last_failure + delay - now)

    def _address_wait(self, address: str, now: float) -> float:
        recent = self._recent(self._addresses.get(address, deque()), now)
        if len(recent) < self.address_limit:
            return 0.0
        return recent[-self.address_limit] + self.window_s - now

    def _recent(self, times: deque[float], now: float) -> deque[float]:
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def _prune(self, now: float) -> None:
        """Drop what no rule needs any more; if a flood of addresses still fills the
        tables, keep the most recent half (a guesser cannot grow memory without bound)."""
        pairs = {k: p for k, p in self._pairs.items() if now - p.last_failure < self.forget_s}
        if len(pairs) >= self.max_keys:
            newest = sorted(pairs.items(), key=lambda item: item[1].last_failure)
            pairs = dict(newest[len(newest) // 2 :])
        self._pairs = pairs
        addresses = {a: t for a, t in self._addresses.items() if self._recent(t, now)}
        if len(addresses) >= self.max_keys:
            newest_a = sorted(addresses.items(), key=lambda item: item[1][-1])
            addresses = dict(newest_a[len(newest_a) // 2 :])
        self._addresses = addresses


# --- who is asking ------------------------------------------------------------------------


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(peer: str | None, forwarded_for: str | None, proxies: Sequence[Network]) -> str:
    """The address a login came from.

    The peer itself, unless it is one of our `proxies`: then the nearest address in
    `X-Forwarded-For` (read from the right, as each proxy appends) that is not a
    proxy of ours. What a client wrote further left could be anything."""
    address = peer or "unknown"
    if not forwarded_for or not _trusted(address, proxies):
        return address
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = hop
        if not _trusted(hop, proxies):
            break
    return address
