"""A cache keyed by object identity, for things compiled once per spec.

The pydantic specs are frozen but hold lists, so they cannot be hashed; their
identity is stable for as long as they live, and a weak reference drops the
entry when a reloaded configuration replaces them.

A worker holds one entry per integration, so an entry is kept small: the weak
reference itself carries the id it is filed under and the value, and one
callback serves every entry (a tuple, a reference and a closure per entry cost
~750 B, 7.5 MB per cache at 10,000 integrations; docs/benchmarks.md).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class _Entry(weakref.ref):  # type: ignore[type-arg]
    """A weak reference to the key object, with the cached value beside it."""

    __slots__ = ("ident", "value")

    def __new__(cls, key: Any, forget: Callable[[_Entry], None], value: Any) -> _Entry:
        return super().__new__(cls, key, forget)

    def __init__(self, key: Any, forget: Callable[[_Entry], None], value: Any) -> None:
        # `weakref.ref.__init__` only checks its arguments, which `__new__` took.
        self.ident = id(key)
        self.value = value


class IdentityCache(Generic[K, V]):
    """`get(obj)` computes `build(obj)` once per live object."""

    def __init__(self, build: Callable[[K], V]) -> None:
        self._build = build
        entries: dict[int, _Entry] = {}
        self._entries = entries

        def forget(entry: _Entry) -> None:
            # Only its own entry: the id may already belong to a newer object.
            if entries.get(entry.ident) is entry:
                del entries[entry.ident]

        self._forget = forget

    def get(self, key: K) -> V:
        entry = self._entries.get(id(key))
        if entry is not None and entry() is key:
            value: V = entry.value
            return value
        value = self._build(key)
        self._entries[id(key)] = _Entry(key, self._forget, value)
        return value

    def __len__(self) -> int:
        return len(self._entries)
