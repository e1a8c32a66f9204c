"""What a ticket shows support to reproduce a failure: the request as configured
(secrets replaced by a marker, never resolved), the response and a curl line.

Built from the integration's spec, which holds secret *references* only, and
the probe's result, whose detail and excerpt the probe already redacted.
"""

from __future__ import annotations

import shlex
from typing import Any
from urllib.parse import urlencode

from core.vocabulary.outcomes import CheckResult
from integrations.config import CheckSpec, IntegrationSpec
from integrations.redaction import SENSITIVE_NAME
from integrations.secrets import REDACTED, REFERENCE

EXCERPT_CHARS = 2000


def _hide(name: str, value: str) -> str:
    """A value as shown: a credential-like header or parameter written in the file
    without a `${…}` reference is a secret all the same (the engine treats it so)."""
    return REDACTED if SENSITIVE_NAME.search(name) else REFERENCE.sub(REDACTED, value)


def request_of(spec: IntegrationSpec, check: CheckSpec) -> dict[str, Any]:
    headers = {name: _hide(name, value) for name, value in check.headers.items()}
    query = {name: _hide(name, value) for name, value in check.query.items()}
    auth = spec.auth
    if auth.type in ("bearer", "basic", "oauth2_client_credentials"):
        headers["Authorization"] = REDACTED
    elif auth.type == "header":
        headers[auth.header] = REDACTED
    elif auth.type == "query":
        query[auth.param] = REDACTED
    url = spec.base_url + check.path + (f"?{urlencode(query)}" if query else "")
    return {"method": check.method, "url": url, "headers": headers}


def evidence_of(
    spec: IntegrationSpec, check: CheckSpec | None, result: CheckResult
) -> dict[str, Any]:
    request = request_of(spec, check) if check is not None else {}
    return {
        "check": result.check_name,
        "outcome": result.outcome.value,
        "at": result.started_at.isoformat(),
        "request": request,
        "response": {
            "status": result.http_status,
            "duration_ms": round(result.duration_s * 1000, 1),
            "excerpt": result.response_excerpt[:EXCERPT_CHARS],
            "detail": result.detail,
        },
        "curl": curl_of(request) if request else "",
    }


def curl_of(request: dict[str, Any]) -> str:
    parts = ["curl", "-sS", "-X", request["method"], shlex.quote(request["url"])]
    for name, value in request["headers"].items():
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    return " ".join(parts)
