"""When the probe shapes an answer for the learned contracts (`core.vocabulary.shapes`).

Shaping costs a parse of the body, and checks run thousands of times a second,
so the probe shapes only what is needed (`ShapeSampler`): always an answer that
failed as auth or contract, at most once per `every_s` a passing one. Stored by
the worker (`integrations.contracts`), compared in `alerts.contract_changes`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from core.vocabulary.outcomes import Outcome
from core.vocabulary.shapes import Shape, header_value, shape_of

__all__ = ["CHANGE_OUTCOMES", "ShapeSampler"]

# Outcomes whose answer is always shaped: the families `auth` and `contract`
# (alerts.families), the ones an unannounced broker change shows up as.
CHANGE_OUTCOMES = frozenset(
    {Outcome.AUTH_FAILURE, Outcome.CLIENT_ERROR, Outcome.CONTRACT_VIOLATION}
)


class ShapeSampler:
    """When the probe shapes an answer: always for an auth or contract failure
    (the evidence an incident needs), at most once per `every_s` per check for
    any other answer (what the learned contract is refreshed from).

    A failing answer identical to the check's previous one (status, media type,
    challenge and body hash) reuses its shape: during an outage the partner
    sends the same error every time, and parsing it is most of the cost.

    One per probe engine (one process); a worker restart shapes each check once.
    """

    MAX_CHECKS = 100_000

    def __init__(self, every_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if every_s < 0:
            raise ValueError(f"every_s must not be negative, not {every_s!r}")
        self.every_s = every_s
        self._clock = clock
        self._next: dict[tuple[str, str], float] = {}
        self._failing: dict[tuple[str, str], tuple[tuple[Any, ...], Shape]] = {}

    def shape(
        self,
        integration_id: str,
        check_name: str,
        outcome: Outcome,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        *,
        truncated: bool = False,
        hide: Callable[[str], str] | None = None,
    ) -> Shape | None:
        """The answer's shape (redacted with `hide`) if it is wanted now, else None."""
        if not self.wanted(integration_id, check_name, outcome):
            return None
        if outcome not in CHANGE_OUTCOMES:
            return _made(status, headers, body, truncated, hide)
        key = (integration_id, check_name)
        seen = (
            status,
            header_value(headers, "content-type"),
            header_value(headers, "www-authenticate"),
            truncated,
            hash(body),
        )
        known = self._failing.get(key)
        if known is not None and known[0] == seen:
            return known[1]
        made = _made(status, headers, body, truncated, hide)
        if len(self._failing) >= self.MAX_CHECKS:
            self._failing.clear()
        self._failing[key] = (seen, made)
        return made

    def wanted(self, integration_id: str, check_name: str, outcome: Outcome) -> bool:
        if outcome in CHANGE_OUTCOMES:
            return True
        if not outcome.is_up:
            return False  # an outage or a server error says nothing about the contract
        key, now = (integration_id, check_name), self._clock()
        if self._next.get(key, 0.0) > now:
            return False
        if len(self._next) >= self.MAX_CHECKS:
            self._next.clear()  # specs changed a lot; start over rather than track age
        self._next[key] = now + self.every_s
        return True


def _made(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    truncated: bool,
    hide: Callable[[str], str] | None,
) -> Shape:
    shape = shape_of(status, headers, body, truncated=truncated)
    return shape if hide is None else shape.redacted(hide)
