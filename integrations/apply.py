"""Applying the integrations file to the registry (`intmon apply`), and the tables that
follow it: maintenance windows, change notices and heartbeats.

`apply` is idempotent: applying the same file twice changes nothing; a changed
integration gets a new `revision` (read back by `integrations.registry`). It sits
above the packages whose tables it keeps in step (`leads/`, `heartbeats/`),
which read the registry themselves.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, select

from core.db import session_scope, utcnow
from integrations.config import IntegrationsFile, IntegrationSpec
from integrations.heartbeats.store import sync_config_heartbeats
from integrations.leads.notices import sync_config_notices
from integrations.maintenance import sync_config_windows
from integrations.models import Integration


@dataclass
class ApplyReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "unchanged": self.unchanged,
        }


def spec_document(spec: IntegrationSpec) -> dict[str, object]:
    return spec.model_dump(mode="json", by_alias=True)


def spec_hash(document: dict[str, object]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def apply(engine: Engine, file: IntegrationsFile, now: datetime | None = None) -> ApplyReport:
    """Make the database match `file`; report what was added, changed and removed."""
    now = now or utcnow()
    report = ApplyReport()
    wanted = {spec.id: spec for spec in file.integrations}
    with session_scope(engine) as session:
        existing = {row.id: row for row in session.scalars(select(Integration))}
        for integration_id, spec in wanted.items():
            document = spec_document(spec)
            digest = spec_hash(document)
            row = existing.get(integration_id)
            if row is None:
                session.add(_new_row(spec, document, digest, now))
                report.added.append(integration_id)
            elif row.spec_hash != digest or row.removed_at is not None:
                _update_row(row, spec, document, digest, now)
                (report.added if row.removed_at else report.changed).append(integration_id)
                row.removed_at = None
            else:
                report.unchanged.append(integration_id)
        for integration_id, row in existing.items():
            if integration_id not in wanted and row.removed_at is None:
                row.removed_at = now
                row.revision += 1
                row.updated_at = now
                report.removed.append(integration_id)
        session.flush()
        sync_config_windows(session.connection(), file.integrations, now)
        sync_config_notices(session.connection(), file.integrations, now)
        sync_config_heartbeats(session.connection(), file.integrations, now)
    return report


def _new_row(
    spec: IntegrationSpec, document: dict[str, object], digest: str, now: datetime
) -> Integration:
    row = Integration(id=spec.id, revision=1, created_at=now)
    _update_row(row, spec, document, digest, now)
    row.revision = 1
    return row


def _update_row(
    row: Integration, spec: IntegrationSpec, document: dict[str, object], digest: str, now: datetime
) -> None:
    row.name = spec.name
    row.kind = spec.kind.value
    row.client = spec.client
    row.tier = spec.tier.value
    row.base_url = spec.base_url
    row.enabled = spec.enabled
    row.spec = document
    row.spec_hash = digest
    row.revision = (row.revision or 0) + 1
    row.updated_at = now
