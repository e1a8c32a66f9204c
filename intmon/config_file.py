"""The whole configuration file: the integrations (integrations/) plus the blocks
of later stages that are not per integration (ticket sinks, alerts/).

Composed here, in the glue, so that `integrations/` never imports `alerts/`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import Field, model_validator
from sqlalchemy import Engine

from alerts.mirror import store_sinks
from alerts.sinks import SinkConfig
from integrations.config import IntegrationsFile
from integrations.loader import load_file, load_text
from integrations.registry import ApplyReport, apply
from intmon.db import utcnow


class ConfigFile(IntegrationsFile):
    # External systems every ticket is mirrored to (Jira, Zendesk, a webhook).
    sinks: list[SinkConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_sink_names(self) -> ConfigFile:
        names = [sink.name for sink in self.sinks]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"sink names must be unique; repeated: {', '.join(duplicates)}")
        return self


def load_config(path: str | Path) -> ConfigFile:
    return load_file(path, model=ConfigFile)


def load_config_text(text: str, source: str = "<text>") -> ConfigFile:
    return load_text(text, source=source, model=ConfigFile)


def apply_config(
    engine: Engine, file: IntegrationsFile, now: datetime | None = None
) -> ApplyReport:
    """Apply the integrations and, when the file is a full ConfigFile, its sinks."""
    now = now or utcnow()
    report = apply(engine, file, now)
    sinks = file.sinks if isinstance(file, ConfigFile) else []
    with engine.begin() as connection:
        store_sinks(connection, sinks, now)
    return report
