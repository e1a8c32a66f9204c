"""A cache keyed by object identity, for things compiled once per spec.

The pydantic specs are frozen but hold lists, so they cannot be hashed; their
identity is stable for as long as they live, and a weak reference drops the
entry when a reloaded configuration replaces them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class IdentityCache(Generic[K, V]):
    """`get(obj)` computes `build(obj)` once per live object."""

    def __init__(self, build: Callable[[K], V]) -> None:
        self._build = build
        self._entries: dict[int, tuple[weakref.ref[K], V]] = {}

    def get(self, key: K) -> V:
        entry = self._entries.get(id(key))
        if entry is not None and entry[0]() is key:
            return entry[1]
        value = self._build(key)
        ident = id(key)
        entries = self._entries

        def forget(ref: weakref.ref[K]) -> None:
            current = entries.get(ident)
            if current is not None and current[0] is ref:
                del entries[ident]

        self._entries[ident] = (weakref.ref(key, forget), value)
        return value

    def __len__(self) -> int:
        return len(self._entries)
