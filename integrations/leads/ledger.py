"""Leads in: `submit` (intmon delivers them) and `record` (the platform delivered them itself).

Both check the whole batch before writing anything: one bad lead refuses the
batch with every problem listed by index and field, so nothing is half-written.
Both are idempotent: a lead already submitted, or an attempt already recorded,
is counted as a duplicate and not stored again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.dialects import postgresql, sqlite

from core.db import table_of
from integrations.config import IntegrationSpec
from integrations.errors import IntegrationsError
from integrations.lead_templates import LeadDataError
from integrations.leads.delivery import LeadOutcome, validate_lead
from integrations.leads.models import Lead, LeadAttempt
from integrations.redaction import (
    REDACTED,
    SENSITIVE_NAME,
    credential_values,
    redact,
    redact_data,
)
from integrations.results import storable
from integrations.strict import SLUG, StorableAwareDatetime

LEADS = table_of(Lead)
ATTEMPTS = table_of(LeadAttempt)
LEAD_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$"
MAX_ATTEMPT = 1000


class LeadError(IntegrationsError):
    """Leads refused as a batch; `problems` are (index, field, message). Permanent."""

    def __init__(self, problems: list[tuple[int, str, str]]) -> None:
        self.problems = problems
        lines = [f"lead {index}: {field}: {message}" for index, field, message in problems]
        super().__init__("\n".join(lines))


class LeadIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=LEAD_ID, description="The platform's lead id: the idempotency key.")
    integration: str = Field(pattern=SLUG)
    fields: dict[str, Any] = Field(description="The lead's data, used by the delivery template.")
    test: bool = Field(default=False, description="A test lead (e2e runs, demos).")


class AttemptIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lead_id: str = Field(pattern=LEAD_ID)
    integration: str = Field(pattern=SLUG)
    # Omitted: the next number for this lead at this integration (an attempt already
    # stored with the same `at` keeps its number, so a resent file is still a duplicate).
    attempt: int | None = Field(default=None, ge=1, le=MAX_ATTEMPT)
    at: StorableAwareDatetime
    outcome: LeadOutcome
    http_status: int | None = Field(default=None, ge=100, le=599)
    duration_s: float | None = Field(default=None, ge=0)
    broker_lead_id: str | None = Field(default=None, max_length=128)
    request: dict[str, Any] | None = None
    response_excerpt: str = Field(default="", max_length=4000)
    detail: str = Field(default="", max_length=2000)


@dataclass
class Accepted:
    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"stored": len(self.stored), "duplicates": self.duplicates}


def parse(model: type[BaseModel], items: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Validate raw dictionaries; LeadError lists every problem by index and field."""
    parsed, problems = [], []
    for index, item in enumerate(items):
        try:
            parsed.append(model.model_validate(item))
        except ValidationError as error:
            for e in error.errors():
                problems.append((index, ".".join(map(str, e["loc"])) or "lead", e["msg"]))
    if problems:
        raise LeadError(problems)
    return parsed


def submit(
    engine: Engine, leads: Sequence[LeadIn], specs: Mapping[str, IntegrationSpec], now: datetime
) -> Accepted:
    """Queue leads for delivery. `specs`: the registered integrations by id."""
    problems: list[tuple[int, str, str]] = []
    rows = []
    for index, lead in enumerate(leads):
        spec = specs.get(lead.integration)
        if spec is None or spec.delivery is None:
            why = "unknown integration" if spec is None else "has no delivery block"
            problems.append((index, "integration", f"{lead.integration!r} {why}"))
            continue
        try:
            validate_lead(spec.delivery, lead.id, lead.fields)
        except LeadDataError as error:
            problems.append((index, error.field, str(error).split(": ", 1)[1]))
            continue
        rows.append(_lead_row(lead, spec, now))
    if problems:
        raise LeadError(problems)
    done = Accepted()
    with engine.begin() as connection:
        for row in rows:
            statement = _ignore_duplicates(connection, LEADS, row).returning(LEADS.c.id)
            stored = connection.execute(statement).first() is not None
            (done.stored if stored else done.duplicates).append(row["lead_id"])
    return done


def _lead_row(lead: LeadIn, spec: IntegrationSpec, now: datetime) -> dict[str, Any]:
    assert spec.delivery is not None
    return {
        "integration_id": spec.id,
        "lead_id": lead.id,
        "fields": lead.fields,
        "test": lead.test,
        "received_at": now,
        "expires_at": now + timedelta(seconds=spec.delivery.max_hold_s),
        "state": "queued",
        "sends": 0,
        "next_attempt_at": now,
        "updated_at": now,
    }


def _ignore_duplicates(connection: Connection, table: Any, row: dict[str, Any]) -> Any:
    module: Any = postgresql if connection.dialect.name == "postgresql" else sqlite
    return module.insert(table).values(**row).on_conflict_do_nothing()


def request_secrets(request: Mapping[str, Any] | None) -> set[str]:
    """The credentials a recorded request carries: the values of its credential-like
    headers and query parameters (in `headers`, `params`, `query` or the URL's own
    query), with the token or password inside each (`credential_values`)."""
    if not request:
        return set()
    named: list[tuple[str, Any]] = []
    for part in ("headers", "params", "query"):
        values = request.get(part)
        if isinstance(values, dict):
            named += [(str(k), v) for k, v in values.items()]
    url = request.get("url")
    if isinstance(url, str):
        named += parse_qsl(urlsplit(url).query, keep_blank_values=False)
    found: set[str] = set()
    for name, value in named:
        if isinstance(value, str) and value and SENSITIVE_NAME.search(name):
            found |= credential_values(value)
    return found


def redact_request(
    request: dict[str, Any] | None, secrets: set[str] | frozenset[str]
) -> dict[str, Any] | None:
    """Drop the values of credential-like headers and query parameters, and every
    form of `secrets` from every string of the request (URL, body, other headers)."""
    if request is None:
        return None
    clean = dict(request)
    for part in ("headers", "params", "query"):
        values = clean.get(part)
        if isinstance(values, dict):
            clean[part] = {
                k: REDACTED if SENSITIVE_NAME.search(str(k)) else v for k, v in values.items()
            }
    redacted: dict[str, Any] = redact_data(clean, secrets)
    return redacted


def record(engine: Engine, attempts: Sequence[AttemptIn], known: set[str]) -> Accepted:
    """Store attempts the platform made itself (`known`: registered integration ids).

    INSERT … ON CONFLICT DO NOTHING, executemany: a resent report is not stored
    twice, and a thousand rows go in per round trip."""
    problems = [
        (index, "integration", f"{a.integration!r} is not registered")
        for index, a in enumerate(attempts)
        if a.integration not in known
    ]
    if problems:
        raise LeadError(problems)
    done = Accepted()
    if not attempts:
        return done
    with engine.begin() as connection:
        rows = [attempt_row(a) for a in _numbered(connection, attempts)]
        if connection.dialect.name == "postgresql":
            done.stored.extend(_copy_attempts(connection, rows))
        else:
            statement = (
                sqlite.insert(ATTEMPTS).on_conflict_do_nothing().returning(ATTEMPTS.c.lead_id)
            )
            done.stored.extend(connection.execute(statement, rows).scalars().all())
    if len(done.stored) < len(rows):
        left = {r["lead_id"] for r in rows} - set(done.stored)
        done.duplicates.extend(sorted(left))
    return done


def _numbered(connection: Connection, attempts: Sequence[AttemptIn]) -> list[AttemptIn]:
    """Attempts with their numbers: one left out gets the next free number for its lead
    at its integration, in the order they ran; one whose lead already has an attempt
    at the same moment takes that number (and is then a duplicate, not a new row)."""
    unnumbered = sorted(
        (i for i, a in enumerate(attempts) if a.attempt is None), key=lambda i: attempts[i].at
    )
    if not unnumbered:
        return list(attempts)
    pairs = sorted({(attempts[i].integration, attempts[i].lead_id) for i in unnumbered})
    if connection.dialect.name == "postgresql":
        # Two recorders numbering the same lead at once would pick the same number and
        # the second's row would be dropped as a duplicate: one numbers at a time.
        # One statement, the keys in a fixed order: two batches never wait on each other
        # in a cycle.
        keys = [f"lead-attempt:{integration}:{lead}" for integration, lead in pairs]
        connection.execute(
            text(
                "SELECT count(pg_advisory_xact_lock(hashtext(k))) "
                "FROM (SELECT unnest(CAST(:keys AS text[])) AS k ORDER BY 1) AS ordered"
            ),
            {"keys": keys},
        )
    taken: dict[tuple[str, str], dict[datetime, int]] = {pair: {} for pair in pairs}
    for chunk in (pairs[i : i + 500] for i in range(0, len(pairs), 500)):
        rows = connection.execute(
            select(
                ATTEMPTS.c.integration_id, ATTEMPTS.c.lead_id, ATTEMPTS.c.attempt, ATTEMPTS.c.at
            ).where(ATTEMPTS.c.lead_id.in_(sorted({lead for _, lead in chunk})))
        )
        for row in rows:
            if (row.integration_id, row.lead_id) in taken:
                taken[(row.integration_id, row.lead_id)][_utc(row.at)] = row.attempt
    for given in attempts:  # numbers given explicitly in this batch are taken too
        pair = (given.integration, given.lead_id)
        if given.attempt is not None and pair in taken:
            taken[pair][_utc(given.at)] = given.attempt
    numbered = list(attempts)
    problems = []
    for index in unnumbered:
        attempt = attempts[index]
        numbers = taken[(attempt.integration, attempt.lead_id)]
        number = numbers.get(_utc(attempt.at)) or max(numbers.values(), default=0) + 1
        if number > MAX_ATTEMPT:
            problems.append((index, "attempt", f"the lead already has {MAX_ATTEMPT} attempts"))
            continue
        numbers[_utc(attempt.at)] = number
        numbered[index] = attempt.model_copy(update={"attempt": number})
    if problems:
        raise LeadError(problems)
    return numbered


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


ATTEMPT_COLUMNS = (
    "integration_id",
    "lead_id",
    "attempt",
    "at",
    "source",
    "outcome",
    "check_outcome",
    "http_status",
    "duration_s",
    "broker_lead_id",
    "request",
    "response_excerpt",
    "detail",
)


def _copy_attempts(connection: Connection, rows: Sequence[dict[str, Any]]) -> list[str]:
    """COPY into a session-local staging table, then one INSERT … SELECT … ON CONFLICT
    DO NOTHING: COPY keeps its speed (no per-row statement to build or parse) and the
    unique key still drops an attempt recorded before."""
    from psycopg.types.json import Json

    columns = ", ".join(ATTEMPT_COLUMNS)
    connection.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS lead_attempts_in ON COMMIT DELETE ROWS AS "
        f"SELECT {columns} FROM lead_attempts WITH NO DATA"
    )
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY lead_attempts_in ({columns}) FROM STDIN") as copy:
        for row in rows:
            values = dict(row, request=None if row["request"] is None else Json(row["request"]))
            copy.write_row(tuple(values[column] for column in ATTEMPT_COLUMNS))
    stored = connection.exec_driver_sql(
        f"INSERT INTO lead_attempts ({columns}) SELECT {columns} FROM lead_attempts_in "
        "ON CONFLICT DO NOTHING RETURNING lead_id"
    )
    return list(stored.scalars())


def attempt_row(a: AttemptIn) -> dict[str, Any]:
    # The platform's own request may carry its credentials, and the partner's answer
    # echo them (JSON-escaped, URL-encoded…): stored redacted, in every form.
    secrets = request_secrets(a.request)
    return {
        "integration_id": a.integration,
        "lead_id": a.lead_id,
        "attempt": a.attempt,
        "at": a.at,
        "source": "record",
        "outcome": a.outcome.value,
        "check_outcome": None,
        "http_status": a.http_status,
        "duration_s": a.duration_s,
        "broker_lead_id": a.broker_lead_id,
        "request": redact_request(a.request, secrets),
        "response_excerpt": storable(redact(a.response_excerpt, secrets)),
        "detail": storable(redact(a.detail, secrets)),
    }


def insert_attempts(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append ledger rows inside the caller's transaction (the dispatcher's). A row
    that is already there (the same hold noted twice) is kept once."""
    module: Any = postgresql if connection.dialect.name == "postgresql" else sqlite
    for row in rows:
        connection.execute(module.insert(ATTEMPTS).values(**row).on_conflict_do_nothing())
