"""A ticket's evidence shows no credential, even one written in the file as is."""

from __future__ import annotations

from alerts.evidence import curl_of, request_of
from integrations.loader import load_text
from tests.alerts.helpers import config_text

CHECKS = (
    "[{name: health, path: /health,"
    " headers: {X-Api-Key: literal-key-123, Accept: application/json},"
    " query: {session: literal-session-456, page: '2'}}]"
)


def test_credential_like_headers_and_parameters_are_hidden_even_without_a_reference() -> None:
    spec = load_text(config_text("a", checks=CHECKS)).integrations[0]
    request = request_of(spec, spec.checks[0])
    assert request["headers"] == {
        "X-Api-Key": "[REDACTED]",
        "Accept": "application/json",
        "Authorization": "[REDACTED]",
    }
    assert request["url"] == "http://127.0.0.1:9/health?session=%5BREDACTED%5D&page=2"
    curl = curl_of(request)
    assert "literal-key-123" not in curl and "literal-session-456" not in curl
