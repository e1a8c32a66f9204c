"""Read views of contacts for the CLI (`intmon contacts list`, `intmon notify test`).

Nothing here writes or sends. Contacts come from the applied configuration, as
`alerts.notify` reads them: the clients document (`clients:` in the file) and each
registered integration's `contacts:`.

No secret is ever shown: an e-mail address and a Telegram chat are addresses, a
webhook URL is shown by its host only (its path or query may carry a token), and
a Slack URL is stored as a `${ENV}` reference, shown as that reference or just
"slack" and never resolved here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine

from alerts import documents
from alerts.contacts import CHANNEL_FIELDS, ContactSpec, NotificationsConfig, missing_roles
from alerts.errors import AlertsError
from integrations.registry import load_specs
from integrations.secrets import is_pure_reference
from integrations.windows import DAYS, WeeklySchedule, aware

_contacts: TypeAdapter[list[ContactSpec]] = TypeAdapter(list[ContactSpec])


class UnknownName(AlertsError):
    """A client, integration or contact the configuration does not have."""


class AmbiguousName(AlertsError):
    """A contact name that matches several different contacts."""


# --- showing addresses --------------------------------------------------------------


def shown_address(channel: str, value: str | None) -> str | None:
    """An address as it may be printed: the e-mail, the webhook's host, the Slack
    `${ENV}` reference (None for anything else), the Telegram chat."""
    if not value:
        return None
    if channel == "webhook":
        try:
            return httpx.URL(value).host or None
        except (httpx.InvalidURL, ValueError):
            return None
    if channel == "slack":
        return value.strip() if is_pure_reference(value) else None
    return value


@dataclass(frozen=True, slots=True)
class Reach:
    """One channel a contact can be reached on."""

    channel: str
    address: str | None  # as shown (see `shown_address`); None for Slack in contact lists
    configured: bool  # the `channels:` block has this channel

    def as_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "address": self.address, "configured": self.configured}

    def label(self) -> str:
        text = f"{self.channel} {self.address}" if self.address else self.channel
        return text if self.configured else f"{text} (channels.{self.channel} not configured)"


# --- contacts -------------------------------------------------------------------------


def describe_days(days: Sequence[str]) -> str:
    """`mon–fri`, `sat,sun`, `mon,wed–fri`: runs of three or more days as a range."""
    indexes = sorted({DAYS.index(day) for day in days})
    runs: list[list[int]] = []
    for index in indexes:
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{DAYS[run[0]]}–{DAYS[run[-1]]}")
        else:
            parts.extend(DAYS[index] for index in run)
    return ",".join(parts)


def describe_schedule(schedule: WeeklySchedule) -> str:
    return f"{describe_days(schedule.days)} {schedule.start:%H:%M}–{schedule.end:%H:%M}"


def describe_hours(contact: ContactSpec) -> str | None:
    """`mon–fri 09:00–18:00 Europe/Moscow`; None when the contact has no hours."""
    if contact.hours is None:
        return None
    schedules = "; ".join(describe_schedule(s) for s in contact.hours.weekly)
    return f"{schedules} {contact.hours.timezone}"


@dataclass(frozen=True, slots=True)
class ContactView:
    source: str  # "client acme" or "integration a"
    client: str
    integration_id: str | None
    contact: ContactSpec
    reach: tuple[Reach, ...]
    hours: str | None  # described; None: reachable at any hour
    open_now: bool
    next_open: datetime | None  # when closed: when the hours open next (UTC)

    @property
    def name(self) -> str:
        return self.contact.name

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "client": self.client,
            "integration_id": self.integration_id,
            "name": self.contact.name,
            "roles": list(self.contact.roles),
            "channels": [r.as_dict() for r in self.reach],
            "locale": self.contact.locale,
            "hours": self.hours,
            "timezone": self.contact.timezone,
            "open_now": self.open_now,
            "next_open": self.next_open.isoformat() if self.next_open else None,
            "escalation_level": self.contact.escalation_level,
        }


@dataclass(frozen=True, slots=True)
class Coverage:
    """A production integration and the required roles no first-line contact holds."""

    integration_id: str
    client: str
    missing_roles: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "integration_id": self.integration_id,
            "client": self.client,
            "missing_roles": self.missing_roles,
        }


@dataclass
class ContactsReport:
    contacts: list[ContactView] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)
    required_roles: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "contacts": [c.as_dict() for c in self.contacts],
            "required_roles": self.required_roles,
            "production_coverage": [c.as_dict() for c in self.coverage],
        }


@dataclass(frozen=True, slots=True)
class _Integration:
    id: str
    client: str
    production: bool
    contacts: list[ContactSpec]


def _client_contacts(document: Any) -> dict[str, list[ContactSpec]]:
    clients: Mapping[str, Any] = document or {}
    return {
        client: _contacts.validate_python((block or {}).get("contacts", []))
        for client, block in clients.items()
    }


def _integrations(engine: Engine) -> list[_Integration]:
    found = []
    for integration_id, registered in sorted(load_specs(engine).items()):
        spec = registered.spec
        try:
            own = _contacts.validate_python(spec.contacts)
        except ValidationError:
            # `intmon apply` refuses such a file; a row written otherwise shows no contacts.
            own = []
        found.append(_Integration(integration_id, spec.client, spec.production, own))
    return found


def configured_channels(engine: Engine) -> set[str]:
    document: Mapping[str, Any] = documents.load(engine, documents.CHANNELS) or {}
    return {kind for kind in CHANNEL_FIELDS if document.get(kind) is not None}


def contact_view(
    contact: ContactSpec,
    *,
    source: str,
    client: str,
    integration_id: str | None,
    channels: set[str],
    now: datetime,
) -> ContactView:
    reach = tuple(
        Reach(
            channel,
            # In a contact list Slack is just "slack": the reference names an
            # environment variable of the server, not an address.
            None
            if channel == "slack"
            else shown_address(channel, getattr(contact, CHANNEL_FIELDS[channel])),
            channel in channels,
        )
        for channel in contact.channels()
    )
    open_now = contact.hours is None or contact.hours.is_open(now)
    return ContactView(
        source=source,
        client=client,
        integration_id=integration_id,
        contact=contact,
        reach=reach,
        hours=describe_hours(contact),
        open_now=open_now,
        next_open=None if open_now or contact.hours is None else contact.hours.next_open(now),
    )


def list_contacts(
    engine: Engine,
    now: datetime,
    *,
    client: str | None = None,
    integration_id: str | None = None,
) -> ContactsReport:
    """Every contact, grouped by client: the client's own, then each of its
    integrations' (by id). With `integration_id`, the contacts told about that
    integration: its own and its client's. Coverage lists each production
    integration shown with the required roles it lacks (none after `intmon validate`)."""
    now = aware(now)
    by_client = _client_contacts(documents.load(engine, documents.CLIENTS))
    integrations = _integrations(engine)
    config = NotificationsConfig.model_validate(
        documents.load(engine, documents.NOTIFICATIONS) or {}
    )
    channels = configured_channels(engine)

    known_clients = sorted(set(by_client) | {i.client for i in integrations})
    if integration_id is not None:
        chosen = [i for i in integrations if i.id == integration_id]
        if not chosen:
            raise UnknownName(f"integration {integration_id!r} is not registered")
        if client is not None and chosen[0].client != client:
            raise UnknownName(
                f"integration {integration_id!r} belongs to client {chosen[0].client!r}"
            )
        client = chosen[0].client
        integrations = chosen
    elif client is not None:
        if client not in known_clients:
            known = ", ".join(known_clients) or "none"
            raise UnknownName(f"client {client!r} has no contacts or integrations; known: {known}")
        integrations = [i for i in integrations if i.client == client]

    report = ContactsReport(required_roles=list(config.required_roles))
    for name in [client] if client is not None else known_clients:
        for contact in by_client.get(name, []):
            report.contacts.append(
                contact_view(
                    contact,
                    source=f"client {name}",
                    client=name,
                    integration_id=None,
                    channels=channels,
                    now=now,
                )
            )
        for integration in (i for i in integrations if i.client == name):
            for contact in integration.contacts:
                report.contacts.append(
                    contact_view(
                        contact,
                        source=f"integration {integration.id}",
                        client=name,
                        integration_id=integration.id,
                        channels=channels,
                        now=now,
                    )
                )
            if integration.production:
                everyone = integration.contacts + by_client.get(name, [])
                missing = missing_roles(everyone, config.required_roles)
                report.coverage.append(Coverage(integration.id, name, missing))
    return report


def find_contacts(engine: Engine, name: str, now: datetime) -> list[ContactView]:
    """The contacts named `name` (case-insensitive). The same person listed in
    several places with the same name, addresses and locale is one match."""
    wanted = name.strip().casefold()
    matches: dict[tuple[Any, ...], ContactView] = {}
    for view in list_contacts(engine, now).contacts:
        contact = view.contact
        if contact.name.strip().casefold() != wanted:
            continue
        key = (
            contact.name,
            contact.locale,
            *(getattr(contact, f) for f in CHANNEL_FIELDS.values()),
        )
        matches.setdefault(key, view)
    return list(matches.values())


def the_contact(engine: Engine, name: str, now: datetime) -> ContactView:
    """The one contact named `name`; UnknownName or AmbiguousName otherwise."""
    matches = find_contacts(engine, name, now)
    if not matches:
        raise UnknownName(f"no contact named {name!r} (see `intmon contacts list`)")
    if len(matches) > 1:
        named = "; ".join(
            f"{m.name} ({m.source}: {', '.join(r.label() for r in m.reach)})" for m in matches
        )
        raise AmbiguousName(f"contact name {name!r} matches {len(matches)} contacts: {named}")
    return matches[0]
