"""Secret scanning: the whole demo runs on known secrets, and none of them comes out.

`intmon demo --json` runs in this process (typer's CliRunner) with every secret
its configuration can hold set to a known value: the partner's bearer token and
OAuth2 client secret, an API key in a query and one in a header, the SMTP
password (the demo's mailbox here demands AUTH), the HMAC keys of the webhook
notification channel and of a webhook ticket sink, and a Slack webhook URL.
The last four are added to the demo's own file by `with_every_secret`; they
point at a local receiver. Each secret is checked to have been used, so the
scan cannot pass by the secret never leaving the environment.

Then everything the demo left behind is searched for each secret, as written,
URL-encoded and base64-encoded (at every alignment, so inside a longer base64
blob too): every log record (DEBUG and up), the command's output, every row of
every table of the demo's database and the database file itself, every e-mail
the mailbox received (raw and decoded), every body the receiver got, the
/metrics exposition, and the answer of every GET endpoint of the API (lists,
then each item's detail) as support. Zero hits.

The sandbox and the mailbox play the partners, so what they log is theirs and
is not searched (the request lines that carry a Slack URL's token, for one).
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import yaml
from aiosmtpd.smtp import AuthResult, LoginPassword
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY, generate_latest
from pydantic import SecretStr
from sqlalchemy import MetaData, select
from typer.testing import CliRunner

import intmon.demo.config as demo_config_module
import intmon.demo.mailbox as mailbox_module
import intmon.demo.sandbox as sandbox_module
from intmon import db
from intmon.api.app import create_app
from intmon.api.auth import create_token
from intmon.cli import app
from intmon.settings import Settings

SMTP_USER = "intmon"
# Values that change under URL-encoding, long enough that no hit is a coincidence.
SECRETS = {
    "DEMO_BROKER_TOKEN": "brk-T0ken+/=7f3a9c2e",
    "DEMO_OAUTH_SECRET": "oauth-S3cret&x=1/2qz",
    "DEMO_SMTP_PASSWORD": "smtp-P4ss+w0rd/42zq",
    "DEMO_NOTIFY_HMAC_KEY": "notify-hmac=K3y&zz81",
    "DEMO_SINK_HMAC_KEY": "sink-hmac+K3y/qq7710",
    "DEMO_QUOTA_API_KEY": "quota-key?a=b&c=d9917",
    "DEMO_CATALOG_API_KEY": "catalog-K3y#fr4g+x20",
}
SLACK_TOKEN = "sl4ck-S3cret-path-0042"
PARTNER_LOGGERS = ("mail.log", "aiohttp.access", "aiohttp.server", "intmon.demo")


# --- the partners' side: a receiver, a sandbox and a mailbox with known secrets ------


class Receiver:
    """Webhooks, Slack and the ticket sink land here; every request is kept."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.requests.append((self.path, dict(self.headers), body))
                answer = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def bodies(self, prefix: str) -> list[tuple[dict[str, str], bytes]]:
        return [(headers, body) for path, headers, body in self.requests if path.startswith(prefix)]


class KnownSandbox(sandbox_module.Sandbox):
    """The demo's partner, holding our known token and client secret."""

    made: list[KnownSandbox] = []  # noqa: RUF012  (the instance the demo creates)

    def __init__(self, **options: Any) -> None:
        options.setdefault("token", SECRETS["DEMO_BROKER_TOKEN"])
        options.setdefault("client_secret", SECRETS["DEMO_OAUTH_SECRET"])
        super().__init__(**options)
        KnownSandbox.made.append(self)

    def access_tokens(self) -> list[str]:
        """The OAuth2 access tokens it issued: secrets of the run, too."""
        return list(self._issued)


class AuthMailbox(mailbox_module.Mailbox):
    """The demo's mailbox, refusing mail from anyone without the known password."""

    made: list[AuthMailbox] = []  # noqa: RUF012

    def __init__(self) -> None:
        self.logins: list[bool] = []
        super().__init__(auth_require_tls=False, authenticator=self._authenticate)
        AuthMailbox.made.append(self)

    def _authenticate(self, *args: Any) -> AuthResult:
        *_, auth_data = args
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            SMTP_USER.encode(),
            SECRETS["DEMO_SMTP_PASSWORD"].encode(),
        )
        self.logins.append(ok)
        return AuthResult(success=ok)


def with_every_secret(original: Callable[..., Any], receiver: str, slack_url: str) -> Any:
    """The demo's integrations file, plus every kind of secret a file can hold."""

    def demo_config(sandbox: Any, **options: Any) -> Any:
        config = original(sandbox, **options)
        document = yaml.safe_load(config.yaml_text)
        channels = document.setdefault("channels", {})
        channels["email"].update(username=SMTP_USER, password="${DEMO_SMTP_PASSWORD}")
        channels["webhook"] = {"secret": "${DEMO_NOTIFY_HMAC_KEY}"}
        channels["slack"] = {}
        document["sinks"] = [
            {
                "name": "mirror",
                "kind": "webhook",
                "url": f"{receiver}/sink",
                "secret": "${DEMO_SINK_HMAC_KEY}",
            }
        ]
        integrations = {spec["id"]: spec for spec in document["integrations"]}
        integrations["acme-broker"]["contacts"] += [
            {"name": "Hook", "webhook_url": f"{receiver}/notify", "roles": ["alert"]},
            {"name": "Chat", "slack_webhook_url": "${DEMO_SLACK_HOOK}", "roles": ["alert"]},
        ]
        integrations["quota-api"]["auth"] = {
            "type": "query",
            "param": "api_key",
            "value": "${DEMO_QUOTA_API_KEY}",
        }
        integrations["catalog-api"]["auth"] = {
            "type": "header",
            "header": "X-Api-Key",
            "value": "${DEMO_CATALOG_API_KEY}",
        }
        environ = {**config.environ, **SECRETS, "DEMO_SLACK_HOOK": slack_url}
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
        return demo_config_module.DemoConfig(yaml_text=text, environ=environ)

    return demo_config


# --- the search --------------------------------------------------------------


def base64_cores(data: bytes) -> set[str]:
    """What `data` looks like inside any base64 text: at each of the three alignments,
    the characters that depend on `data` alone (std and URL-safe alphabets)."""
    cores = set()
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * offset + data).decode()
            start, end = -(-8 * offset // 6), 8 * (offset + len(data)) // 6
            cores.add(encoded[start:end])
    return cores


class Scanner:
    """Every form of every secret, and where each was found."""

    def __init__(self, secrets: dict[str, str], composites: dict[str, str]) -> None:
        self.forms: dict[str, set[str]] = {}
        for name, value in secrets.items():
            self.forms[name] = {value, quote(value, safe=""), quote_plus(value)}
            self.forms[name] |= base64_cores(value.encode())
        for name, value in composites.items():  # e.g. the bytes of an AUTH PLAIN
            self.forms[name] = base64_cores(value.encode())
        self.hits: list[str] = []
        self.places = 0

    def scan(self, where: str, text: str | bytes) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        self.places += 1
        for name, forms in self.forms.items():
            for form in forms:
                at = text.find(form)
                if at >= 0:
                    context = text[max(0, at - 60) : at + len(form) + 20]
                    self.hits.append(f"{name} in {where}: …{context}…")


def scan_database(scanner: Scanner, path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{path}")
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(select(table)):
                    scanner.scan(f"table {table.name}", json.dumps(list(row), default=str))
    finally:
        engine.dispose()
    for file in path.parent.glob(path.name + "*"):  # the file, -wal, -shm: free pages too
        scanner.scan(f"file {file.name}", file.read_bytes())


def scan_mail(scanner: Scanner, raw: bytes) -> None:
    scanner.scan("e-mail (raw)", raw)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    scanner.scan("e-mail headers", "\n".join(f"{k}: {v}" for k, v in message.items()))
    for part in message.walk():
        if not part.is_multipart():
            scanner.scan("e-mail body", str(part.get_content()))


def get_everything(client: TestClient, token: str) -> Iterator[tuple[str, str]]:
    """(url, answer) for every GET operation of the OpenAPI schema; a path's parameters
    are filled from the listing one level up (each ticket of /api/tickets, …)."""
    headers = {"Authorization": f"Bearer {token}"}

    def get(url: str) -> Any:
        return client.get(url, headers=headers, follow_redirects=False)

    def listed(url: str, param: str) -> list[str]:
        answer = get(url)
        items = answer.json() if answer.headers.get("content-type") == "application/json" else []
        keys = (param, "number", "id", "name")
        found = [
            next((str(i[k]) for k in keys if k in i), "") for i in items if isinstance(i, dict)
        ]
        return [value for value in found if value][:25]

    def expand(path: str) -> list[str]:
        match = re.search(r"\{(\w+)(?::\w+)?\}", path)
        if match is None:
            return [path]
        parent, rest = path[: match.start()].rstrip("/"), path[match.end() :]
        urls = []
        for parent_url in expand(parent):
            for value in listed(parent_url, match.group(1)) or ["unknown"]:
                urls += expand(f"{parent_url}/{quote(value, safe='')}{rest}")
        return urls

    yield "/openapi.json", get("/openapi.json").text
    for path, operations in get("/openapi.json").json()["paths"].items():
        if "get" in operations:
            for url in expand(path):
                yield url, get(url).text


# --- the test ----------------------------------------------------------------


@pytest.mark.slow  # the whole demo story: about 20 s
def test_the_demo_leaks_no_secret(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    KnownSandbox.made.clear()
    AuthMailbox.made.clear()
    with Receiver() as receiver:
        slack_url = f"{receiver.url}/slack/T0/B0/{SLACK_TOKEN}"
        for name, value in {**SECRETS, "DEMO_SLACK_HOOK": slack_url}.items():
            monkeypatch.setenv(name, value)  # the demo puts them into os.environ; undone after
        monkeypatch.setattr(sandbox_module, "Sandbox", KnownSandbox)
        monkeypatch.setattr(mailbox_module, "Mailbox", AuthMailbox)
        original = demo_config_module.demo_config
        monkeypatch.setattr(
            demo_config_module, "demo_config", with_every_secret(original, receiver.url, slack_url)
        )

        ran = CliRunner().invoke(app, ["demo", "--json", "--duration", "60"])

    assert ran.exit_code == 0, ran.output
    summary = json.loads(ran.stdout)
    database = Path(summary["database"])
    (sandbox,), (mailbox,) = KnownSandbox.made, AuthMailbox.made

    # Every secret was used: the scan below is not vacuous.
    assert True in mailbox.logins and mailbox.mails()
    assert signed(receiver.bodies("/notify"), SECRETS["DEMO_NOTIFY_HMAC_KEY"])
    assert signed(receiver.bodies("/sink"), SECRETS["DEMO_SINK_HMAC_KEY"])
    assert receiver.bodies("/slack/T0/B0/")
    outcomes = outcomes_by_integration(database)
    assert "ok" in outcomes["acme-broker"] and "ok" in outcomes["orbit-ads"]
    assert {"ok", "rate_limited"} & outcomes["quota-api"]
    assert "auth_failure" not in outcomes["quota-api"] | outcomes["catalog-api"]

    secrets = {**SECRETS, "DEMO_SLACK_HOOK": slack_url, "slack token": SLACK_TOKEN}
    secrets |= {f"access token {i}": token for i, token in enumerate(sandbox.access_tokens())}
    scanner = Scanner(
        secrets,
        composites={
            "OAuth2 Basic credentials": f"{sandbox.client_id}:{SECRETS['DEMO_OAUTH_SECRET']}",
            "SMTP AUTH PLAIN": f"\0{SMTP_USER}\0{SECRETS['DEMO_SMTP_PASSWORD']}",
        },
    )
    assert any(record.name.startswith(("worker", "alerts")) for record in caplog.records)
    for record in caplog.records:
        if not record.name.startswith(PARTNER_LOGGERS):
            scanner.scan(f"log {record.name}", caplog.handler.format(record))
    scanner.scan("command output", ran.output)
    scan_database(scanner, database)
    for mail in mailbox.mails():
        scan_mail(scanner, mail.raw)
    for path, _headers, body in receiver.requests:
        scanner.scan(f"POST {path.split('/')[1]}", body)
    scanner.scan("/metrics (worker registry)", generate_latest(REGISTRY))
    engine = db.make_engine(f"sqlite:///{database}")
    try:
        token = create_token(engine, role="support", now=db.utcnow())[1]
        # The API's /metrics too: opened with the same token for this scan.
        settings = Settings(redis_url=None, api_metrics_token=SecretStr(token))
        with TestClient(create_app(engine, settings)) as client:
            answers = list(get_everything(client, token))
    finally:
        engine.dispose()
    for url, text in answers:
        scanner.scan(f"GET {url}", text)

    assert any(url.startswith("/api/tickets/INC-") for url, _ in answers)
    assert any(url == "/metrics" and "intmon_" in text for url, text in answers)
    assert scanner.places > 100
    assert scanner.hits == []


def signed(requests: list[tuple[dict[str, str], bytes]], key: str) -> bool:
    """Whether some request carries a valid `X-Intmon-Signature` made with `key`."""
    for headers, body in requests:
        timestamp = headers.get("X-Intmon-Timestamp", "")
        digest = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
        if headers.get("X-Intmon-Signature") == f"sha256={digest.hexdigest()}":
            return True
    return False


def outcomes_by_integration(database: Path) -> dict[str, set[str]]:
    engine = db.make_engine(f"sqlite:///{database}")
    try:
        metadata = MetaData()
        metadata.reflect(engine, only=["check_results"])
        results = metadata.tables["check_results"]
        with engine.connect() as connection:
            rows = connection.execute(select(results.c.integration_id, results.c.outcome))
            found: dict[str, set[str]] = {}
            for integration_id, outcome in rows:
                found.setdefault(integration_id, set()).add(outcome)
    finally:
        engine.dispose()
    return found


def test_the_scanner_finds_every_form() -> None:
    """A secret written as is, URL-encoded, or base64-encoded inside a longer blob at
    any alignment is found; the forms of the demo's secrets are not found by chance."""
    secret = SECRETS["DEMO_QUOTA_API_KEY"]
    scanner = Scanner({"key": secret}, composites={"pair": f"user:{secret}"})
    scanner.scan("clean", json.dumps(SECRETS | {"other": "quota-key"}).replace(secret, "x"))
    assert scanner.hits == []
    leaks = [
        f"?api_key={quote_plus(secret)}&x=1",
        f"url {quote(secret, safe='')}",
        *(base64.b64encode(pad + secret.encode() + b"tail").decode() for pad in (b"", b"a", b"ab")),
        base64.urlsafe_b64encode(b"ab" + secret.encode()).decode(),
        "Authorization: Basic " + base64.b64encode(f"user:{secret}".encode()).decode(),
    ]
    for text in leaks:
        scanner.hits.clear()
        scanner.scan("leak", text)
        assert scanner.hits, text
