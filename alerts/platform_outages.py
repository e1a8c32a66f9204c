"""Platform outages: when intmon's own network or resolver fails, it is us, not them.

The leader's housekeeping pass calls `evaluate` (README "Is it them or us?"):
it runs the canaries of `self_check:` (`checks.canary`), counts what the latest
partner results of the last minute say (`correlation_counts`), asks the pure
`alerts.platform_verdict` what that means, and opens or ends the one open row
of `platform_outages` (a partial unique index keeps it one, whoever races).

While an outage covers a result, `alerts.intake` marks connectivity failures
`inhibited`: stored, but they open or resolve no incident and neither extend
nor break a streak (`outage_spans`). Leads lost meanwhile are the platform's
(`alerts.lead_report` reads the spans). The platform's operators (role
`operational_internal` of every integration and client, each address once) hear
of its beginning and its end; partners and clients hear nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import TypeAdapter
from sqlalchemy import Connection, Engine, Row, select, update
from sqlalchemy.dialects import postgresql, sqlite

from alerts import documents
from alerts.contacts import ContactSpec
from alerts.families import Family
from alerts.models import PlatformOutage
from alerts.notify import INTERNAL_ROLE, INTERNAL_RULE, TARGET_PREFIX, client_contacts, recipient
from alerts.platform_verdict import (
    EXAMPLES,
    Action,
    CorrelationCounts,
    CorrelationRule,
    OpenOutage,
    Verdict,
    next_step,
    platform_verdict,
)
from alerts.routing import route
from alerts.self_check_config import SelfCheckConfig
from checks.canary import CanaryResult, run_canaries
from core import outbox
from core.db import table_of
from core.vocabulary.outcomes import Outcome
from integrations.models import CheckState, Integration

log = logging.getLogger(__name__)

OUTAGES = table_of(PlatformOutage)
STATE = table_of(CheckState)
INTEGRATIONS = table_of(Integration)
OPEN = "open"
ENDED = "ended"
# What the operators' messages name instead of an integration.
PLATFORM_NAME = "intmon platform (its own network)"


def load_config(engine: Engine) -> SelfCheckConfig:
    return SelfCheckConfig.model_validate(documents.load(engine, documents.SELF_CHECK) or {})


@dataclass(frozen=True, slots=True)
class Evaluation:
    verdict: Verdict
    action: Action
    outage_id: int | None  # the open (or just ended) outage


def evaluate(engine: Engine, now: datetime) -> Evaluation:
    """One self-check: canaries, correlation, and the outage row moved accordingly."""
    config = load_config(engine)
    canaries = probe(config)
    with engine.begin() as connection:
        counts = (
            correlation_counts(connection, config.correlated, now)
            if config.correlated.enabled
            else CorrelationCounts()
        )
        verdict = platform_verdict(canaries, counts, now, config.correlated)
        return _apply(connection, verdict, now)


def probe(config: SelfCheckConfig) -> list[CanaryResult]:
    """The canaries and DNS names, all at once (nothing to do when none are named)."""
    if not config.canaries and not config.dns_names:
        return []
    return asyncio.run(run_canaries(config.canaries, config.dns_names))


def correlation_counts(
    connection: Connection, rule: CorrelationRule, now: datetime
) -> CorrelationCounts:
    """Per partner endpoint (scheme, host and port of the base URL), the outcomes of
    the latest results of its checks that ran in the last `window_s` outside
    maintenance. One query over `check_state` (one row per check)."""
    rows = connection.execute(
        select(INTEGRATIONS.c.base_url, STATE.c.integration_id, STATE.c.outcome, STATE.c.started_at)
        .join(INTEGRATIONS, INTEGRATIONS.c.id == STATE.c.integration_id)
        .where(
            STATE.c.started_at >= now - timedelta(seconds=rule.window_s),
            STATE.c.in_maintenance.is_(False),
            INTEGRATIONS.c.removed_at.is_(None),
        )
    ).all()
    outcomes: dict[str, set[Outcome]] = defaultdict(set)
    since: dict[Outcome, datetime] = {}
    examples: dict[Outcome, list[str]] = defaultdict(list)
    for base_url, integration_id, outcome_text, started_at in rows:
        outcome = Outcome(outcome_text)
        outcomes[endpoint(base_url)].add(outcome)
        if outcome.is_up:
            continue
        if outcome not in since or started_at < since[outcome]:
            since[outcome] = started_at
        if len(examples[outcome]) < EXAMPLES and integration_id not in examples[outcome]:
            examples[outcome].append(integration_id)
    failing: dict[Outcome, int] = defaultdict(int)
    for seen in outcomes.values():
        for outcome in seen:
            failing[outcome] += 1
    return CorrelationCounts(
        checked=len(outcomes),
        failing={o: n for o, n in failing.items() if not o.is_up},
        since=since,
        examples={o: tuple(sorted(ids)) for o, ids in examples.items()},
    )


def endpoint(base_url: str) -> str:
    """Where a partner lives: its scheme, host and port (paths and clients aside)."""
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL:
        return base_url
    return f"{url.scheme}://{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"


def _apply(connection: Connection, verdict: Verdict, now: datetime) -> Evaluation:
    current = open_outage(connection)
    step = next_step(
        OpenOutage(current.id, current.clear_streak) if current is not None else None, verdict
    )
    if step.action is Action.OPEN:
        return Evaluation(verdict, step.action, _open(connection, verdict, now))
    if current is None:
        return Evaluation(verdict, step.action, None)
    if step.action is Action.KEEP and current.clear_streak:
        connection.execute(update(OUTAGES).where(OUTAGES.c.id == current.id).values(clear_streak=0))
    elif step.action is Action.CLEARING:
        connection.execute(
            update(OUTAGES)
            .where(OUTAGES.c.id == current.id, OUTAGES.c.state == OPEN)
            .values(clear_streak=step.clear_streak)
        )
    elif step.action is Action.END:
        ended = connection.execute(
            update(OUTAGES)
            .where(OUTAGES.c.id == current.id, OUTAGES.c.state == OPEN)
            .values(state=ENDED, ended_at=now, clear_streak=step.clear_streak)
        ).rowcount
        if ended:
            log.warning("platform outage #%d ended: %s", current.id, current.detail)
            _tell_operators(connection, "incident.resolved", current, now)
    return Evaluation(verdict, step.action, current.id)


def _open(connection: Connection, verdict: Verdict, now: datetime) -> int | None:
    assert verdict.cause is not None and verdict.outcome is not None
    module: Any = postgresql if connection.dialect.name == "postgresql" else sqlite
    started_at = min(verdict.started_at or now, now)
    row = connection.execute(
        module.insert(OUTAGES)
        .values(
            state=OPEN,
            started_at=started_at,
            opened_at=now,
            cause=verdict.cause,
            outcome=verdict.outcome.value,
            detail=verdict.detail,
            evidence=verdict.evidence,
            clear_streak=0,
        )
        .on_conflict_do_nothing(
            index_elements=[OUTAGES.c.state], index_where=OUTAGES.c.state == OPEN
        )
        .returning(*OUTAGES.c)
    ).first()
    if row is None:  # another housekeeping pass opened it a moment ago
        return None
    log.warning("platform outage #%d opened (%s): %s", row.id, row.cause, row.detail)
    _tell_operators(connection, "incident.opened", row, now)
    return int(row.id)


def open_outage(connection: Connection) -> Row[Any] | None:
    """The open outage, if any: one lookup on the partial unique index."""
    return connection.execute(select(OUTAGES).where(OUTAGES.c.state == OPEN)).first()


def outage_spans(
    connection: Connection, start: datetime, end: datetime
) -> list[tuple[datetime, datetime | None]]:
    """(started_at, ended_at or None) of the outages overlapping [start, end]."""
    rows = connection.execute(
        select(OUTAGES.c.started_at, OUTAGES.c.ended_at).where(
            OUTAGES.c.started_at <= end,
            OUTAGES.c.ended_at.is_(None) | (OUTAGES.c.ended_at > start),
        )
    ).all()
    return [(row[0], row[1]) for row in rows]


def covered(spans: Sequence[tuple[datetime, datetime | None]], at: datetime) -> bool:
    """Whether a moment falls in one of the spans (half-open: the end is outside)."""
    return any(start <= at and (end is None or at < end) for start, end in spans)


def list_outages(engine: Engine, limit: int = 20) -> list[dict[str, Any]]:
    """The latest outages, newest first, as plain dicts."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(OUTAGES).order_by(OUTAGES.c.started_at.desc(), OUTAGES.c.id.desc()).limit(limit)
        ).all()
    return [dict(row._mapping) for row in rows]


def current_outage(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as connection:
        row = open_outage(connection)
    return None if row is None else dict(row._mapping)


# --- telling the operators ------------------------------------------------------

_contacts: TypeAdapter[list[ContactSpec]] = TypeAdapter(list[ContactSpec])


def operators(connection: Connection) -> list[ContactSpec]:
    """Contacts in role operational_internal of every integration and of its client."""
    rows = connection.execute(
        select(INTEGRATIONS.c.client, INTEGRATIONS.c.spec).where(
            INTEGRATIONS.c.removed_at.is_(None)
        )
    ).all()
    found: list[ContactSpec] = []
    for client in sorted({row.client for row in rows}):
        found += client_contacts(connection, client)
    for row in rows:
        found += _contacts.validate_python((row.spec or {}).get("contacts") or [])
    return [c for c in found if INTERNAL_ROLE in c.roles and c.escalation_level == 1]


def _tell_operators(connection: Connection, event: str, outage: Row[Any], now: datetime) -> None:
    """One message per address: intmon's network failing is urgent at any hour."""
    context = {
        "ticket": None,
        "incident": f"platform-outage-{outage.id}",
        "integration_name": PLATFORM_NAME,
        "integration_id": "platform",
        "family": Family.PLATFORM.value,
        "first_seen": outage.started_at.isoformat(),
        "outcome": outage.outcome,
        "detail": f"{outage.cause}: {outage.detail}",
        # Every partner looks down when our network is: nobody waits for office hours.
        "severity": "emergency",
        "command": "intmon status",
        **({"resolved_at": now.isoformat()} if event == "incident.resolved" else {}),
    }
    deliveries = route(
        event,
        family=Family.PLATFORM.value,
        tier="standard",
        contacts=operators(connection),
        rules=[INTERNAL_RULE],
        now=now,
    )
    sent: set[tuple[str, str]] = set()
    for delivery in deliveries:
        to = recipient(delivery.contact)
        address = (delivery.channel, str(to.get(_ADDRESS[delivery.channel])))
        if address in sent:
            continue
        sent.add(address)
        outbox.enqueue(
            connection,
            target=TARGET_PREFIX + delivery.channel,
            kind=event,
            aggregate=f"platform-outage:{outage.id}:{outbox.new_key()}",
            payload={
                "recipient": to,
                "event": event,
                "context": context,
                "reason": "intmon's own network or resolver is failing (platform outage)",
            },
            now=now,
        )


_ADDRESS = {
    "email": "email",
    "webhook": "webhook_url",
    "slack": "slack_webhook_url",
    "telegram": "telegram_chat",
}
