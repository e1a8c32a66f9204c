"""Operations surfaces on the console's port: /metrics behind a token, /docs served
locally under a self-only policy, Secure cookies and HSTS by default."""

from __future__ import annotations

import re
from typing import Any

import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from core.settings import Settings
from intmon.app import create_app
from intmon.web.session import SESSION_COOKIE
from tests.test_compose import COMPOSE
from tests.web.conftest import PASSWORD, settings

METRICS_TOKEN = "a-metrics-token-0123456789"


def test_metrics_on_the_console_port_are_off_by_default(app: FastAPI) -> None:
    with TestClient(app, base_url="https://console.test") as client:
        response = client.get("/metrics")
    assert response.status_code == 404
    assert "intmon_" not in response.text and 'integration="a"' not in response.text


def test_metrics_on_the_console_port_want_their_token_when_on(engine: Engine) -> None:
    app = create_app(engine, settings(api_metrics_token=SecretStr(METRICS_TOKEN)))
    with TestClient(app, base_url="https://console.test") as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": METRICS_TOKEN}):
            refused = client.get("/metrics", headers=headers)
            assert refused.status_code == 401 and "intmon_" not in refused.text
        allowed = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert allowed.status_code == 200 and "intmon_tickets" in allowed.text


def test_docs_are_served_from_this_site_under_a_self_only_policy(app: FastAPI) -> None:
    with TestClient(app, base_url="https://console.test") as client:
        page = client.get("/docs")
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self';" in policy
        assert "unsafe-inline" not in policy and "http" not in policy
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(source.startswith("/docs/") for source in sources), sources
        assert "<script>" not in page.text  # no inline script for the policy to refuse
        for source in sources:
            asset = client.get(source)
            assert asset.status_code == 200, source
        assert "SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js").text
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/redoc").status_code == 404  # no local copy of ReDoc: off


def test_cookies_are_secure_and_hsts_is_sent_by_default(browser: Any) -> None:
    assert Settings().session_https_only is True
    someone = browser()
    login = someone.login("sup")
    assert login.status_code == 200
    (cookie,) = [c for c in login.history[0].headers.get_list("set-cookie")]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "; secure" in cookie.lower()
    assert login.headers["strict-transport-security"] == "max-age=31536000"
    health = someone.client.get("/healthz")
    assert health.headers["strict-transport-security"] == "max-age=31536000"


def test_plain_http_is_a_choice_made_explicitly(engine: Engine) -> None:
    app = create_app(engine, settings(session_https_only=False))
    with TestClient(app) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        login = client.post(
            "/login",
            data={"csrf": token.group(1), "username": "sup", "password": PASSWORD},
            follow_redirects=False,
        )
    assert login.status_code == 303
    assert "secure" not in login.headers["set-cookie"].lower()
    assert "strict-transport-security" not in login.headers


def test_compose_serves_the_console_with_secure_cookies() -> None:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    environment = compose["services"]["api"]["environment"]
    assert str(environment["INTMON_SESSION_HTTPS_ONLY"]).lower() == "true"
