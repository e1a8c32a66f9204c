"""The registry: the integrations in the database, read back.

`integrations.apply` writes it from the file. A changed integration gets a new
`revision`, which is how the scheduler and the workers notice it without
re-reading every spec: `active_revisions` is cheap, `load_specs` and `SpecCache`
read and validate only what changed.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, select

from integrations.config import IntegrationSpec
from integrations.models import Integration


@dataclass(frozen=True, slots=True)
class RegisteredIntegration:
    spec: IntegrationSpec
    revision: int


def active_revisions(engine: Engine) -> dict[str, int]:
    """Id → revision of every integration that should be checked: cheap, no specs."""
    query = select(Integration.id, Integration.revision).where(
        Integration.removed_at.is_(None), Integration.enabled.is_(True)
    )
    with engine.connect() as connection:
        return {row.id: row.revision for row in connection.execute(query)}


# Validated specs by engine, then id: (revision, spec hash, the spec). Every page and
# API call asks for the specs it may show; parsing a thousand JSON documents and
# validating them each time was most of the board's time, so only what changed since
# (a new revision or hash) is read and validated again. Specs are frozen models.
_VALIDATED: weakref.WeakKeyDictionary[Engine, dict[str, tuple[int, str, IntegrationSpec]]] = (
    weakref.WeakKeyDictionary()
)


# Parts that are mostly the same across a fleet (defaults, shared auth, the checks'
# expectations): each distinct value once per engine, bounded by the distinct
# configurations. A worker holds every spec; one copy of each part instead of one
# per integration took a third off a spec's memory (10,000 specs: 74 → 49 MB).
SHARED_PARTS = ("auth", "tls", "thresholds")
_PARTS: weakref.WeakKeyDictionary[Engine, dict[object, object]] = weakref.WeakKeyDictionary()


def _validated(engine: Engine, document: Any) -> IntegrationSpec:
    """A stored spec validated, its common parts shared. Done here, where specs are
    memoized, so a process holds one copy of each spec: the worker's cache used to
    keep a shared copy beside the memoized original, two specs per integration."""
    spec = IntegrationSpec.model_validate(document)
    parts = _PARTS.setdefault(engine, {})
    shared = {}
    for name in SHARED_PARTS:
        value = getattr(spec, name)
        try:
            shared[name] = parts.setdefault(value, value)
        except TypeError:  # a part that holds a list or dict cannot be a key: keep it
            shared[name] = value
    # Equal values, so the copy needs no validation; the models are frozen.
    copy = spec.model_copy(update=shared)
    for check in copy.checks:
        # Most checks of a fleet expect the same (any 2xx, the same assertion): one
        # object per distinct expectation. The checks are this load's own, not yet
        # seen by anyone, so the equal value is put in place.
        expect = parts.setdefault(("expect", check.expect.value_key()), check.expect)
        if expect is not check.expect:
            check.__dict__["expect"] = expect
    _share_field_sets(copy)
    return copy


# pydantic keeps in each model the names of the fields its input gave
# (`model_fields_set`). A stored document gives all of them, so every spec held a
# full set per model: 2.3 KB for the integration, 0.7 KB for each check and its
# expectation, three quarters of a spec's memory in a worker. The sets are equal
# across a fleet; each distinct one is held once. pydantic changes a model's set
# only when a field is assigned, which the frozen specs refuse, and copies it into
# a model made by `model_copy`.
_FIELD_SETS: dict[frozenset[str], set[str]] = {}


def _share_field_sets(value: object) -> None:
    if isinstance(value, BaseModel):
        names = value.__pydantic_fields_set__
        shared = _FIELD_SETS.setdefault(frozenset(names), names)
        if shared is not names:
            object.__setattr__(value, "__pydantic_fields_set__", shared)
        for field in value.__dict__.values():
            _share_field_sets(field)
    elif isinstance(value, list | tuple):
        for item in value:
            _share_field_sets(item)
    elif isinstance(value, dict):
        for item in value.values():
            _share_field_sets(item)


def load_specs(engine: Engine, ids: list[str] | None = None) -> dict[str, RegisteredIntegration]:
    """Validated specs of active integrations (all, or just `ids`)."""
    query = select(Integration.id, Integration.revision, Integration.spec_hash).where(
        Integration.removed_at.is_(None)
    )
    if ids is not None:
        query = query.where(Integration.id.in_(ids))
    known = _VALIDATED.setdefault(engine, {})
    with engine.connect() as connection:
        current = connection.execute(query).all()
        stale = [
            row.id
            for row in current
            if (held := known.get(row.id)) is None or held[:2] != (row.revision, row.spec_hash)
        ]
        if stale:
            documents = select(
                Integration.id, Integration.revision, Integration.spec_hash, Integration.spec
            ).where(Integration.id.in_(stale))
            for row in connection.execute(documents):
                spec = _validated(engine, row.spec)
                known[row.id] = (row.revision, row.spec_hash, spec)
    found = {}
    for row in current:
        held = known.get(row.id)
        if held is not None and held[:2] == (row.revision, row.spec_hash):
            found[row.id] = RegisteredIntegration(held[2], row.revision)
        else:  # changed again between the two reads: the newer one, read alone
            found.update(_read_specs(engine, [row.id]))
    return found


def _read_specs(engine: Engine, ids: list[str]) -> dict[str, RegisteredIntegration]:
    query = select(Integration.id, Integration.spec, Integration.revision).where(
        Integration.removed_at.is_(None), Integration.id.in_(ids)
    )
    with engine.connect() as connection:
        return {
            row.id: RegisteredIntegration(_validated(engine, row.spec), row.revision)
            for row in connection.execute(query)
        }


class SpecCache:
    """Per-process cache of integration specs, keyed by id and revision.

    Workers see only (id, revision) in a message; a miss or a stale revision
    costs one query for the whole batch.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cache: dict[str, RegisteredIntegration] = {}

    def get_many(self, wanted: dict[str, int]) -> dict[str, IntegrationSpec]:
        missing = [
            integration_id
            for integration_id, revision in wanted.items()
            if (cached := self._cache.get(integration_id)) is None or cached.revision < revision
        ]
        if missing:
            fresh = load_specs(self.engine, missing)
            self._cache.update(fresh)
            for integration_id in missing:
                if integration_id not in fresh:
                    self._cache.pop(integration_id, None)  # removed since it was scheduled
        return {
            integration_id: self._cache[integration_id].spec
            for integration_id in wanted
            if integration_id in self._cache
        }
