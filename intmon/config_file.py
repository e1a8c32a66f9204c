"""The whole configuration file: the integrations (integrations/) plus the blocks
of later stages that are not per integration (ticket sinks, ticket forms, alerts/).

Composed here, in the glue, so that `integrations/` never imports `alerts/`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, TypeAdapter, ValidationError

from alerts.channels import ChannelsConfig
from alerts.contacts import ContactSpec, NotificationsConfig, missing_roles, unreached_roles
from alerts.self_check_config import SelfCheckConfig
from alerts.sinks import SinksSection
from alerts.ticket_forms import TicketFormsConfig
from integrations.config import IntegrationsFile
from integrations.loader import load_file, load_text
from integrations.strict import Strict

if TYPE_CHECKING:
    # What applying needs (the database) is imported there: `intmon validate` loads
    # this module and should not pay for SQLAlchemy and the alerts' tables.
    from sqlalchemy import Engine

    from integrations.apply import ApplyReport

_contact_list: TypeAdapter[list[ContactSpec]] = TypeAdapter(list[ContactSpec])


class ClientBlock(Strict):
    contacts: list[ContactSpec] = Field(default_factory=list)


class ConfigFile(SinksSection, IntegrationsFile):
    """The integrations file as a whole: `integrations:` and `defaults:`, `sinks:`
    (from SinksSection: external systems every ticket is mirrored to), and:"""

    # Each client's contacts (an integration may add its own under `contacts:`).
    clients: dict[str, ClientBlock] = Field(default_factory=dict)
    # Required roles, the routing table, escalation and digest settings.
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)
    # How notifications are sent: SMTP server, webhook signing key, Telegram bot.
    channels: ChannelsConfig = Field(default_factory=ChannelsConfig)
    # Is it them or us: canaries, DNS names and the correlation rule (on by default).
    self_check: SelfCheckConfig = Field(default_factory=SelfCheckConfig)
    # Seed 001's ticket creation: categories → topics → fields, attachment limits
    # (default: the built-in forms, alerts.ticket_forms_default).
    ticket_forms: TicketFormsConfig = Field(default_factory=TicketFormsConfig)

    def cross_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Integration contacts have the contact shape; an integration in production
        monitoring has a first-line contact in every required role (seed 002)."""
        problems = super().cross_problems()
        for index, spec in enumerate(self.integrations):
            where: tuple[str | int, ...] = ("integrations", index, "contacts")
            try:
                own = _contact_list.validate_python(spec.contacts)
            except ValidationError as error:
                problems += [
                    (where + tuple(e["loc"]), e["msg"].removeprefix("Value error, "))
                    for e in error.errors(include_url=False)
                ]
                continue
            if not spec.production:
                continue
            client = self.clients.get(spec.client, ClientBlock())
            missing = missing_roles(own + client.contacts, self.notifications.required_roles)
            if missing:
                problems.append(
                    (
                        ("integrations", index, "production"),
                        f"production monitoring needs contacts in the roles {', '.join(missing)} "
                        f"(under this integration's contacts: or clients.{spec.client}.contacts)",
                    )
                )
        return problems

    def cross_warnings(self) -> list[tuple[tuple[str | int, ...], str]]:
        """A production integration whose SLA breaches or escalations are routed to a
        role none of its contacts holds: valid (the role is not required), but
        those messages would reach nobody."""
        warnings = super().cross_warnings()
        for index, spec in enumerate(self.integrations):
            if not spec.production:
                continue
            try:
                own = _contact_list.validate_python(spec.contacts)
            except ValidationError:
                continue  # reported as a problem already
            contacts = own + self.clients.get(spec.client, ClientBlock()).contacts
            rules = self.notifications.routing
            for event, role in unreached_roles(contacts, rules, spec.tier.value):
                who = "2 or 3" if event == "escalation" else "1"
                warnings.append(
                    (
                        ("integrations", index, "contacts"),
                        f"integration {spec.id}: {event} is routed to role {role}, which no "
                        f"contact at escalation level {who} holds, so it would reach nobody "
                        f"(add one under this integration's contacts: or "
                        f"clients.{spec.client}.contacts)",
                    )
                )
        return warnings


def load_config(path: str | Path) -> ConfigFile:
    return load_file(path, model=ConfigFile)


def load_config_text(text: str, source: str = "<text>") -> ConfigFile:
    return load_text(text, source=source, model=ConfigFile)


def apply_config(
    engine: Engine, file: IntegrationsFile, now: datetime | None = None
) -> ApplyReport:
    """Apply the integrations and, when the file is a full ConfigFile, its sinks."""
    from alerts import documents
    from alerts.mirror import sink_document
    from core.db import utcnow
    from integrations.apply import apply

    now = now or utcnow()
    report = apply(engine, file, now)
    full = file if isinstance(file, ConfigFile) else ConfigFile()
    with engine.begin() as connection:
        documents.store(
            connection,
            {
                documents.SINKS: sink_document(full.sinks),
                documents.CLIENTS: {
                    client: block.model_dump(mode="json") for client, block in full.clients.items()
                },
                documents.NOTIFICATIONS: full.notifications.model_dump(mode="json"),
                documents.CHANNELS: full.channels.model_dump(mode="json"),
                documents.SELF_CHECK: full.self_check.model_dump(mode="json"),
                documents.TICKET_FORMS: full.ticket_forms.model_dump(mode="json"),
            },
            now,
        )
    return report
