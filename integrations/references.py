"""Which secret references cannot be read where intmon runs now.

`intmon validate` and `intmon check` run this over the whole file: a `${TOKEN}`
that is not set, or a `${file:/run/secrets/x}` that cannot be read, is not the
partner's problem, and finding it before the first check is cheaper than an
incident. The walk is over the validated file's plain data, so every block that
may hold a reference (auth, headers, query, bodies, deliveries, scenarios,
channels, sinks) is covered without listing them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from integrations.errors import SecretUnavailable
from integrations.secrets import REFERENCE, resolve


@dataclass(frozen=True, slots=True)
class UnreadableReference:
    where: str  # "integrations[acme-broker].auth.token"
    reference: str  # "PARTNER_TOKEN" or "file:/run/secrets/token"
    problem: str  # "environment variable PARTNER_TOKEN is not set"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


def unreadable_references(
    document: Any, environ: Mapping[str, str] | None = None
) -> list[UnreadableReference]:
    """Every reference in `document` (a validated file's `model_dump(mode="json")`)
    that cannot be resolved with `environ` (the process environment by default)."""
    env = os.environ if environ is None else environ
    found: list[UnreadableReference] = []
    for where, text in _strings(document, ""):
        for match in REFERENCE.finditer(text):
            try:
                resolve(match.group(0), set(), env)
            except SecretUnavailable as exc:
                name = match.group("env") or f"file:{match.group('file')}"
                found.append(UnreadableReference(where, name, str(exc)))
    return found


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            # An integration is named by its id, not its position: that is what people search.
            label = (
                item.get("id") if isinstance(item, Mapping) and where == "integrations" else None
            )
            yield from _strings(item, f"{where}[{label if label is not None else index}]")
