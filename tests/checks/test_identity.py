"""`IdentityCache`: one build per live object, entries gone with their objects."""

from __future__ import annotations

import gc

from checks._identity import IdentityCache


class Spec:
    def __init__(self, name: str) -> None:
        self.name = name


def test_builds_once_per_live_object_and_forgets_it_when_it_dies() -> None:
    built: list[str] = []
    cache: IdentityCache[Spec, str] = IdentityCache(lambda s: built.append(s.name) or s.name)
    a, b = Spec("a"), Spec("b")
    assert [cache.get(a), cache.get(b), cache.get(a)] == ["a", "b", "a"]
    assert built == ["a", "b"] and len(cache) == 2
    del a
    gc.collect()
    assert len(cache) == 1
    assert cache.get(b) == "b" and built == ["a", "b"]


def test_a_new_object_at_a_dead_ones_address_is_built_afresh() -> None:
    cache: IdentityCache[Spec, str] = IdentityCache(lambda s: s.name)
    # Many short-lived objects: CPython reuses their addresses, so ids repeat.
    seen = [cache.get(Spec(str(n))) for n in range(200)]
    assert seen == [str(n) for n in range(200)]
    gc.collect()
    assert len(cache) == 0
