"""Attempts the platform records itself are stored redacted on both databases
(PostgreSQL takes the COPY path, SQLite the INSERT one)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from integrations.leads.ledger import ATTEMPTS, AttemptIn, record, request_secrets
from integrations.redaction import REDACTED, reveals

PASSWORD = "pl4tform/pa55+word"
BASIC = base64.b64encode(f"platform:{PASSWORD}".encode()).decode()


def test_recorded_attempts_hold_no_form_of_the_credentials(db_engine: Engine) -> None:
    attempt = AttemptIn.model_validate(
        {
            "lead_id": "L1",
            "integration": "bx",
            "attempt": 1,
            "at": datetime(2026, 12, 1, tzinfo=UTC),
            "outcome": "failed_auth",
            "http_status": 401,
            "request": {
                "url": "https://b.example/x",
                "headers": {"Authorization": f"Basic {BASIC}"},
            },
            "response_excerpt": json.dumps({"password": PASSWORD}).replace("/", "\\/"),
            "detail": f"refused {BASIC[:-2]}",
        }
    )
    assert record(db_engine, [attempt], {"bx"}).stored == ["L1"]
    with db_engine.connect() as connection:
        (row,) = [dict(r._mapping) for r in connection.execute(select(ATTEMPTS))]
    assert not reveals(json.dumps(row, default=str), {PASSWORD, BASIC}), row
    assert row["request"]["headers"] == {"Authorization": REDACTED}
    assert row["response_excerpt"] == f'{{"password": "{REDACTED}"}}'


def test_request_secrets_reads_headers_params_and_the_urls_query() -> None:
    found = request_secrets(
        {
            "url": "https://b.example/x?api_key=key-in-url-123&page=2",
            "headers": {"Authorization": "Bearer header-token-456", "Accept": "text/plain"},
            "params": {"token": "param-token-789"},
        }
    )
    assert found == {
        "key-in-url-123",
        "Bearer header-token-456",
        "header-token-456",
        "param-token-789",
    }
    assert request_secrets(None) == set()
