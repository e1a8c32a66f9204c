"""The egress policy on what intmon sends besides checks: channels, sinks, SMTP, lead expiry.

Each sender meets an address the policy refuses (an internal server on
127.0.0.1 while only 127.0.0.2 is allowed, the metadata service, a name
resolving to loopback) and must fail permanently (a person must act; retrying
cannot help) with a message that says why, without sending a byte there.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import trustme
from pydantic import TypeAdapter
from sqlalchemy import Engine, select

from alerts.channels import EmailChannel, Notice, Recipient, SmtpConfig, WebhookChannel
from alerts.channels.base import ChannelError
from alerts.channels.webhook import WebhookChannelConfig
from alerts.errors import DeliveryError
from alerts.sinks import SinkConfig
from alerts.sinks.base import SinkError, TicketSnapshot
from alerts.sinks.webhook import WebhookSink
from core import outbox
from core.egress import EgressPolicy, denial_in
from core.egress_http import guarded_client
from integrations.leads.expiry import TARGET, send_expired
from tests.egress_servers import PARTNER_ONLY, Server

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NOTICE = Notice(subject="s", text="t", html=None, idempotency_key="egress-1", data={})
TICKET = TicketSnapshot(
    number="INC-000001",
    client="acme",
    integration_id="a",
    section="integration",
    subtype="api",
    topic="t",
    status="open",
    family="contract",
    form={},
    created_at=NOW,
    url="https://intmon.example/tickets/1",
)


@pytest.fixture
def internal() -> Iterator[Server]:
    server = Server("127.0.0.1")
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _hook_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_KEY", "hook-key-1")


def refused(error: DeliveryError, fragment: str) -> None:
    assert error.permanent, str(error)
    assert fragment in str(error)
    assert "refused by the egress policy" in str(error)


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://127.0.0.1:{port}/hook", "127.0.0.1 is loopback"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is link-local"),
        ("http://localhost:{port}/hook", "localhost resolved to"),
    ],
)
def test_a_webhook_channel_to_a_refused_address_fails_permanently(
    internal: Server, url: str, fragment: str
) -> None:
    config = WebhookChannelConfig.model_validate({"secret": "${HOOK_KEY}", "timeout_s": 2})
    with guarded_client(policy=PARTNER_ONLY) as client:
        channel = WebhookChannel(config, client=client, retry_wait_s=0)
        target = Recipient(name="ops", webhook_url=url.format(port=internal.port))
        with pytest.raises(ChannelError) as error:
            channel.send(target, NOTICE)
    refused(error.value, fragment)
    assert internal.hits == []


def test_a_channels_own_client_follows_the_process_policy(
    internal: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INTMON_EGRESS_ALLOW")  # production's default: nothing internal
    config = WebhookChannelConfig.model_validate({"secret": "${HOOK_KEY}", "timeout_s": 2})
    with WebhookChannel(config, retry_wait_s=0) as channel, pytest.raises(ChannelError) as error:
        channel.send(Recipient(name="ops", webhook_url=f"{internal.url}/hook"), NOTICE)
    refused(error.value, "127.0.0.1 is loopback")
    assert internal.hits == []


def test_a_ticket_sink_to_a_refused_address_fails_permanently(internal: Server) -> None:
    config = TypeAdapter(SinkConfig).validate_python(
        {"name": "hook", "kind": "webhook", "url": f"{internal.url}/t", "secret": "${HOOK_KEY}"}
    )
    with guarded_client(policy=PARTNER_ONLY) as client:
        sink = WebhookSink(config, client, retry_wait_s=0)  # type: ignore[arg-type]
        with pytest.raises(SinkError) as error:
            sink.create(TICKET, "key-1")
    refused(error.value, "127.0.0.1 is loopback")
    assert internal.hits == []


@pytest.mark.parametrize(
    ("host", "fragment"),
    [("127.0.0.1", "127.0.0.1 is loopback"), ("localhost", "localhost resolved to")],
)
def test_an_smtp_server_at_a_refused_address_fails_permanently(
    internal: Server, host: str, fragment: str
) -> None:
    config = SmtpConfig.model_validate(
        {"host": host, "port": internal.port, "from_address": "intmon@example.com", "timeout_s": 2}
    )
    channel = EmailChannel(config, retry_wait_s=0, egress=PARTNER_ONLY)
    with pytest.raises(ChannelError) as error:
        channel.send(Recipient(name="ops", email="ops@example.com"), NOTICE)
    refused(error.value, fragment)
    assert internal.hits == []


def test_the_lead_expired_webhook_to_a_refused_address_is_dead_at_once(
    sqlite_engine: Engine, internal: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTMON_EGRESS_ALLOW", "127.0.0.2/32")
    with sqlite_engine.begin() as connection:
        outbox.enqueue(
            connection,
            target=TARGET,
            kind="lead.expired",
            aggregate="lead:a:L1",
            payload={"url": f"{internal.url}/expired", "lead_id": "L1"},
            now=NOW,
        )
    assert send_expired(sqlite_engine, NOW) == 0
    with sqlite_engine.connect() as connection:
        row = connection.execute(select(outbox.OUT)).one()
    assert row.dead_at is not None  # permanent: not retried against the same address
    assert "127.0.0.1 is loopback: refused by the egress policy" in row.last_error
    assert internal.hits == []


def test_the_guarded_client_verifies_tls_against_the_host_name(tmp_path: Path) -> None:
    authority = trustme.CA()
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_side)
    server = Server("127.0.0.1", tls=server_side)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    try:
        allowed = EgressPolicy.parse("127.0.0.0/8")
        with guarded_client(policy=allowed, verify=trusting) as client:
            assert client.get(f"https://localhost:{server.port}/ok").status_code == 200
        with (
            guarded_client(policy=PARTNER_ONLY, verify=trusting) as client,
            pytest.raises(httpx.ConnectError) as error,
        ):
            client.get(f"https://localhost:{server.port}/ok")
        assert "localhost resolved to" in str(denial_in(error.value))
    finally:
        server.close()
    assert server.hits == ["/ok"]
