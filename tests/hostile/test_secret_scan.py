"""Secret scanning: the whole demo runs on known secrets, and none of them comes out.

`intmon demo --json` runs in this process (typer's CliRunner) with every secret
its configuration can hold set to a known value: the partner's bearer token and
OAuth2 client secret, an API key in a query and one in a header, the SMTP
password (the demo's mailbox here demands AUTH), the HMAC keys of the webhook
notification channel and of a webhook ticket sink, and a Slack webhook URL.
The last four are added to the demo's own file by `with_every_secret`; they
point at a local receiver. Each secret is checked to have been used, so the
scan cannot pass by the secret never leaving the environment.

Then everything the demo left behind is searched for each secret in every
spelling an encoder produces (`written_forms`: as written, URL-encoded in either
case, JSON-escaped, HTML-escaped, Python's repr, and base64-encoded at every
alignment, so inside a longer base64 blob too): every log record (DEBUG and
up), the command's output, every row of every table of the demo's database and
the database file itself, every e-mail the mailbox received (raw and decoded),
every body the receiver got, the /metrics exposition, and the answer of every
GET endpoint of the API (lists, then each item's detail) as support. Zero hits.

The property test below does the same for generated secrets: every special
character, Unicode and control characters, sent by each auth scheme to a
partner that echoes them back in every spelling.

The sandbox and the mailbox play the partners, so what they log is theirs and
is not searched (the request lines that carry a Slack URL's token, for one).
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import html
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import pytest
import yaml
from aiosmtpd.smtp import AuthResult, LoginPassword
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY, generate_latest
from pydantic import SecretStr
from sqlalchemy import MetaData, select
from typer.testing import CliRunner

import intmon.demo.config as demo_config_module
import intmon.demo.mailbox as mailbox_module
import intmon.demo.sandbox as sandbox_module
from alerts.housekeeping import housekeep
from alerts.policy import Policy
from core import db
from core.settings import Settings, get_settings
from integrations.redaction import REDACTED
from intmon.api.auth import create_token
from intmon.app import create_app
from intmon.cli import app
from intmon.config_file import apply_config, load_config_text
from intmon.migrations import upgrade
from intmon.web.users import create_user

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
    "DEMO_POSTBACK_SECRET": "postback-S3cret=+/pb77",
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


def utf16_escaped(value: str, upper: bool) -> str:
    units = value.encode("utf-16-be")
    escaped = "".join(
        f"\\u{int.from_bytes(units[i : i + 2], 'big'):04x}" for i in range(0, len(units), 2)
    )
    return escaped.replace("\\u", "\\U").upper().replace("\\U", "\\u") if upper else escaped


def lower_escapes(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), text)


def written_forms(value: str) -> set[str]:
    """Every spelling of `value` an encoder produces, found without intmon's code:
    URL-encoded (either case), JSON (ASCII or not, `\\/`, every character `\\u`),
    HTML, Python's repr, and base64 at every alignment."""
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value)}
    forms |= {lower_escapes(form) for form in forms}
    for ensure_ascii in (True, False):
        written = json.dumps(value, ensure_ascii=ensure_ascii)[1:-1]
        forms |= {written, written.replace("/", "\\/")}
    forms |= {utf16_escaped(value, upper=False), utf16_escaped(value, upper=True)}
    forms |= {html.escape(value), repr(value)[1:-1]}
    return forms | base64_cores(value.encode())


class Scanner:
    """Every form of every secret, and where each was found."""

    def __init__(self, secrets: dict[str, str], composites: dict[str, str]) -> None:
        self.forms: dict[str, set[str]] = {}
        for name, value in secrets.items():
            self.forms[name] = written_forms(value)
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
    """A secret written as is, URL-encoded (either case), HTML- or JSON-escaped, or
    base64-encoded inside a longer blob at any alignment is found; the forms of the
    demo's secrets are not found by chance."""
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
        f"<p>{html.escape(secret)}</p>",
        '{"k": "' + "".join(f"\\u{ord(c):04X}" for c in secret) + '"}',
        f"url {lower_escapes(quote(secret, safe=''))}",
    ]
    for text in leaks:
        scanner.hits.clear()
        scanner.scan("leak", text)
        assert scanner.hits, text


# --- every form of a generated secret, echoed back by a real partner ---------------

# The characters that change under some encoding, then any Unicode (controls too).
SPECIAL = list("/+=\"\\%&?#' <>:")
SECRET_CORE = st.text(
    st.one_of(
        st.sampled_from(SPECIAL),
        st.characters(exclude_categories=["Cs"], exclude_characters="\0"),
    ),
    min_size=4,
    max_size=10,
)
JSON_STYLES = 5  # how the partner writes the secret as a JSON string (`json_string`)
HEADER_STYLES = 5  # how it writes it in a response header (`header_form`)
PARTNER_USER = "partner-user"


def json_string(secret: str, style: int) -> str:
    return [
        json.dumps(secret),
        json.dumps(secret, ensure_ascii=False),
        json.dumps(secret).replace("/", "\\/"),
        '"' + utf16_escaped(secret, upper=False) + '"',
        '"' + utf16_escaped(secret, upper=True) + '"',
    ][style]


def header_form(secret: str, style: int) -> str:
    encoded = secret.encode()
    forms = [
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(encoded).decode(),
        base64.urlsafe_b64encode(encoded).decode().rstrip("="),
        secret if header_safe(secret) else lower_escapes(quote(secret, safe="")),
    ]
    return forms[style]


def header_safe(text: str) -> bool:
    """Whether `text` can go in an HTTP header as is (printable ASCII)."""
    return all(" " <= c <= "~" for c in text)


def echo_body(secret: str, style: int, *, plain: bool) -> bytes:
    """The partner's answer: `status` holds the secret (so a JSON assertion quotes it in
    the detail), and every other spelling follows."""
    pair = base64.b64encode(f"{PARTNER_USER}:{secret}".encode()).decode()
    echo = {
        "quoted": lower_escapes(quote(secret, safe="")),
        "form": quote_plus(secret),
        "b64": base64.b64encode(secret.encode()).decode(),
        "b64url": base64.urlsafe_b64encode(b"x" + secret.encode()).decode().rstrip("="),
        "basic": f"Basic {pair}",
        "html": html.escape(secret),
    }
    body = f'{{"status": {json_string(secret, style)}, "echo": {json.dumps(echo)}}}'
    if plain:  # not JSON at all: the value as it came
        body += f"\nyou sent: {secret}"
    return body.encode()


class EchoPartner:
    """A partner on 127.0.0.1 that answers with the credential it got, in every
    spelling, in its body and in its headers. `/probe/{scheme}?mode=&style=&header=`:
    mode `json` answers 200 with a body a JSON assertion refuses, `header` 200
    with an X-Echo header a header expectation refuses, `401` refuses the caller."""

    def __init__(self) -> None:
        self.received: list[str] = []
        partner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                params = dict(parse_qsl(url.query))
                secret = partner.credential(url.path.rsplit("/", 1)[-1], self.headers, params)
                partner.received.append(secret)
                mode = params["mode"]
                body = echo_body(secret, int(params["style"]), plain=mode == "401")
                pair = base64.b64encode(f"{PARTNER_USER}:{secret}".encode()).decode()
                self.send_response(401 if mode == "401" else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Echo", header_form(secret, int(params["header"])))
                self.send_header("WWW-Authenticate", f'Basic realm="x", was="{pair}"')
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def credential(scheme: str, headers: Any, params: dict[str, str]) -> str:
        authorization = headers.get("Authorization", "")
        if scheme == "bearer":
            return str(authorization.removeprefix("Bearer "))
        if scheme == "basic":
            pair = base64.b64decode(authorization.removeprefix("Basic ")).decode()
            return pair.split(":", 1)[1]
        if scheme == "header":
            return str(headers.get("X-Api-Key", ""))
        return params.get("api_key", "")

    def __enter__(self) -> EchoPartner:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


AUTH_OF = {
    "bearer": '{type: bearer, token: "${ECHO_SECRET}"}',
    "basic": f'{{type: basic, username: {PARTNER_USER}, password: "${{ECHO_SECRET}}"}}',
    "header": '{type: header, header: X-Api-Key, value: "${ECHO_SECRET}"}',
    "query": '{type: query, param: api_key, value: "${ECHO_SECRET}"}',
}
EXPECT_OF = {
    "json": "{json: ['$.status == \"ok\"']}",
    "header": "{headers: {X-Echo: '^ok$'}}",
    "401": "{}",
}


def echo_config(
    partner: str, mailbox_port: int, n: int, scheme: str, mode: str, style: int, header: int
) -> str:
    """One integration per example (`echo-{n}`), failing at its first result, whose
    alert contact (a new address each time: no digest holds the mail back) is mailed."""
    path = f"/probe/{scheme}?mode={mode}&style={style}&header={header}"
    return f"""version: 1
channels:
  email: {{host: 127.0.0.1, port: {mailbox_port}, from_address: intmon@example.com}}
integrations:
  - id: echo-{n}
    name: Echo {n}
    kind: broker
    client: acme
    base_url: {partner}
    auth: {AUTH_OF[scheme]}
    interval_s: 60
    retries: 0
    thresholds: {{failure_threshold: 1}}
    production: true
    checks: [{{name: echo, path: "{path}", expect: {EXPECT_OF[mode]}}}]
    contacts:
      - {{name: Olga Oncall, email: oncall-{n}@broker.example, roles: [alert]}}
      - name: Dev
        email: dev-{n}@broker.example
        roles: [technical_emergency, technical_non_emergency]
"""


CONSOLE_PASSWORD = "correct horse battery"


def log_in(client: TestClient) -> None:
    """Sign the client in to the web console as support (cookies kept)."""
    form = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None, form
    signed_in = client.post(
        "/login", data={"csrf": csrf.group(1), "username": "sup", "password": CONSOLE_PASSWORD}
    )
    assert signed_in.status_code in (200, 303), signed_in.text


class Records(logging.Handler):
    """Every log record of the run, formatted, but the partners' own."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(PARTNER_LOGGERS):
            self.lines.append(self.format(record))


@pytest.mark.slow  # 50 runs of the whole pipeline: 20–70 s on 2 busy cores
def test_every_form_of_any_secret_echoed_by_a_partner_is_redacted_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Secrets with every special character, Unicode and control characters, sent by
    each auth scheme to a partner on 127.0.0.1 that answers with them in every
    spelling (body and headers; a JSON assertion and a header expectation quote
    them in the detail). Each failing result opens an incident and a ticket and
    mails the contact; then every output is searched for every spelling: the
    API's answers, the console's ticket page, the stored rows (and the database
    file), `intmon tickets show` (`--json` and table), `intmon status --json`,
    the e-mails and the logs."""
    database = tmp_path / "echo.db"
    monkeypatch.setenv("INTMON_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.delenv("INTMON_REDIS_URL", raising=False)
    get_settings.cache_clear()
    engine = db.make_engine(f"sqlite:///{database}")
    upgrade(engine)
    records = Records()
    root = logging.getLogger()
    root.addHandler(records)
    level, root.level = root.level, logging.DEBUG
    examples = iter(range(1, 10_000))
    try:
        token = create_token(engine, role="support", now=db.utcnow())[1]
        auth = {"Authorization": f"Bearer {token}"}
        create_user(engine, "sup", role="support", password=CONSOLE_PASSWORD, now=db.utcnow())
        console = Settings(redis_url=None, session_secret=SecretStr("s" * 48))
        with (
            EchoPartner() as partner,
            mailbox_module.Mailbox() as mailbox,
            TestClient(create_app(engine, console), base_url="https://console.test") as client,
        ):
            log_in(client)

            @settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
            @given(
                core=SECRET_CORE,
                scheme=st.sampled_from(sorted(AUTH_OF)),
                mode=st.sampled_from(sorted(EXPECT_OF)),
                style=st.integers(0, JSON_STYLES - 1),
                header=st.integers(0, HEADER_STYLES - 1),
            )
            def example(core: str, scheme: str, mode: str, style: int, header: int) -> None:
                # Letters around the generated part: no spelling of it is met by chance.
                secret = f"sK{core}7Q"
                if scheme in ("bearer", "header") and not header_safe(secret):
                    scheme = "query"  # a header cannot carry it as is; a query can
                n = next(examples)
                os.environ["ECHO_SECRET"] = secret  # read by the run in this process
                apply_config(
                    engine,
                    load_config_text(
                        echo_config(partner.url, mailbox.port, n, scheme, mode, style, header)
                    ),
                )
                mails_before = len(mailbox.mails())
                outputs = scan_one_run(client, auth, engine, n)
                assert partner.received[-1] == secret  # the secret went out: not vacuous
                run = json.loads(outputs["POST checks/run"])
                (result,) = run["results"]
                assert REDACTED in result["response_excerpt"], result
                if mode == "json" and len(json.dumps(secret, ensure_ascii=False)) < 78:
                    assert REDACTED in result["detail"], result  # not clipped: quoted whole
                housekeep(engine, Policy(), db.utcnow() + timedelta(minutes=1), sync=False)
                mails = mailbox.mails()[mails_before:]
                assert f"oncall-{n}@broker.example" in {m.to for m in mails}
                scanner = Scanner(
                    {"secret": secret}, composites={"Basic pair": f"{PARTNER_USER}:{secret}"}
                )
                for where, text in outputs.items():
                    scanner.scan(where, text)
                for mail in mails:
                    scan_mail(scanner, mail.raw)
                for line in records.lines:
                    scanner.scan("log", line)
                records.lines.clear()
                scan_database(scanner, database)
                assert scanner.hits == []

            example()
    finally:
        root.removeHandler(records)
        root.level = level
        os.environ.pop("ECHO_SECRET", None)
        engine.dispose()
        db.engine_for(f"sqlite:///{database}").dispose()
        get_settings.cache_clear()


def scan_one_run(client: TestClient, auth: dict[str, str], engine: Any, n: int) -> dict[str, str]:
    """Run integration `echo-{n}`'s check now through the API, then read what it
    left through the API and the command line: where → text."""
    outputs: dict[str, str] = {}
    ran = client.post(f"/api/integrations/echo-{n}/checks/run", headers=auth)
    assert ran.status_code == 200, ran.text
    outputs["POST checks/run"] = ran.text
    (ticket,) = ran.json()["incidents"]["tickets_opened"]
    for url in (
        f"/api/integrations/echo-{n}/results",
        f"/api/integrations/echo-{n}",
        f"/api/tickets/{ticket}",
        "/api/incidents",
    ):
        answer = client.get(url, headers=auth)
        assert answer.status_code == 200, (url, answer.text)
        outputs[f"GET {url}"] = answer.text
    page = client.get(f"/tickets/{ticket}")  # the web console, as support signed in
    assert page.status_code == 200 and ticket in page.text, page.text
    outputs[f"page /tickets/{ticket}"] = page.text
    runner = CliRunner()
    for command in (
        ["tickets", "show", ticket, "--json"],
        ["tickets", "show", ticket],
        ["status", "-i", f"echo-{n}", "--history", "5", "--json"],
    ):
        shown = runner.invoke(app, command)
        assert shown.exit_code in (0, 1), (command, shown.output)
        outputs[" ".join(["intmon", *command])] = shown.output
    return outputs
