"""kill -9 of the worker while it sends notifications.

Thirty partners fail at once (a port nothing listens on, failure threshold 1),
so thirty tickets open together and each client's contact is told by e-mail
and by webhook: sixty messages, each an outbox row with its idempotency key.
The receiver kills the worker when a message has arrived and before it
answers, the moment a resend is unavoidable (the server has it, the sender
never learnt so). Then the worker is started again.

Proves: every message arrives; the only repeats are messages that were in
flight at the kill, each with the same idempotency key and the same content,
so a receiver that drops keys it has seen shows every message exactly once;
no ticket is opened twice.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from alerts.deliver import _notice, _recipient, deliver
from alerts.housekeeping import open_channels
from alerts.sender import close_all
from core import outbox
from core.vocabulary.outcomes import Outcome
from integrations.registry import load_specs
from intmon.config_file import apply_config, load_config_text
from tests.alerts.helpers import T0, feed
from tests.faults.harness import FULL, Fleet, Inbox, duplicates

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

TICKETS = 60 if FULL else 30
KILL_AT = (10, 35) if FULL else (12,)  # kill when this many messages have arrived
WORKER = ("worker", "--processes", "2", "--threads", "4")
HOOK_KEY_ENV = "FAULTS_HOOK_KEY"


def config_yaml(count: int, refused_port: int, inbox: Inbox) -> str:
    lines = [
        "version: 1",
        "channels:",
        f"  email: {{host: 127.0.0.1, port: {inbox.smtp_port},",
        "          from_address: intmon@faults.example}",
        f"  webhook: {{secret: '${{{HOOK_KEY_ENV}}}'}}",
        "notifications: {digest_window_s: 0}",
        "clients:",
    ]
    # One client each, so every message is a message of its own, not a digest.
    for i in range(count):
        lines += [
            f"  c{i:03d}:",
            "    contacts:",
            f"      - {{name: Desk {i}, email: desk{i}@client.example,",
            f"         webhook_url: '{inbox.webhook_url}/hook/c{i:03d}',",
            "         roles: [operational_public]}",
        ]
    lines.append("integrations:")
    for i in range(count):
        lines += [
            f"  - id: p{i:03d}",
            f"    name: Partner {i}",
            "    kind: broker",
            f"    client: c{i:03d}",
            f"    base_url: http://127.0.0.1:{refused_port}",
            "    interval_s: 1",
            "    timeout_s: 1",
            "    retries: 0",
            "    thresholds: {failure_threshold: 1}",
            "    checks: [{name: health, path: /health}]",
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def refused_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connection refused
        yield int(sock.getsockname()[1])


def outbox_rows(engine: Engine) -> list[tuple[str, str, bool, bool]]:
    """(channel, idempotency key, sent, dead) of every notification row."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT target, idempotency_key, sent_at IS NOT NULL, dead_at IS NOT NULL "
                "FROM outbox WHERE target LIKE 'notify:%'"
            )
        ).all()
    return [(target.removeprefix("notify:"), key, sent, dead) for target, key, sent, dead in rows]


def expire_leases(engine: Engine) -> int:
    """Move the dead worker's leases (120 s) to their end instead of waiting for it."""
    with engine.begin() as connection:
        return connection.execute(
            text(
                "UPDATE outbox SET leased_until = now() - interval '1 second' "
                "WHERE sent_at IS NULL AND leased_until IS NOT NULL"
            )
        ).rowcount


def test_worker_killed_mid_send_loses_no_notification_and_repeats_carry_their_key(
    fleet: Fleet, fault_db: Engine, refused_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet.env[HOOK_KEY_ENV] = "faults-hook-signing-key"
    killed = threading.Event()
    kills_due = list(KILL_AT)

    def kill_before_answering(count: int) -> None:
        if kills_due and count >= kills_due[0]:
            kills_due.pop(0)
            fleet.kill("worker")
            killed.set()

    with Inbox(delay_s=0.05).serving() as inbox:
        monkeypatch.setenv(HOOK_KEY_ENV, fleet.env[HOOK_KEY_ENV])
        apply_config(fault_db, load_config_text(config_yaml(TICKETS, refused_port, inbox)))
        inbox.on_arrival = kill_before_answering
        fleet.start("scheduler", "scheduler")
        fleet.start("worker", *WORKER)
        for number in range(len(KILL_AT)):
            fleet.wait(killed.is_set, 60, f"kill {number + 1} of the worker mid-send")
            killed.clear()
            time.sleep(0.5)  # nothing of the dead worker is still on its way
            assert expire_leases(fault_db) >= 1, "the dead worker held no message"
            fleet.start("worker", *WORKER)
        expected = 2 * TICKETS
        fleet.wait(
            lambda: sum(sent for *_, sent, _ in outbox_rows(fault_db)) == expected,
            60,
            f"all {expected} notifications marked sent",
        )
        fleet.require_alive("scheduler", "worker")
        receipts = inbox.receipts()

    rows = outbox_rows(fault_db)
    assert len(rows) == expected and not any(dead for *_, dead in rows)
    with fault_db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM tickets")).scalar_one() == TICKETS
    # Every message arrived, under its own key, on its own channel.
    assert {(r.channel, r.key) for r in receipts} == {(channel, key) for channel, key, *_ in rows}
    # Repeats: only messages that were in flight at a kill, and identical to their first copy.
    repeated = duplicates(receipts)
    assert repeated, "the kill before the answer must have forced at least one resend"
    assert sum(n - 1 for n in repeated.values()) <= 8 * len(KILL_AT), repeated
    for channel, key in repeated:
        contents = {r.content for r in receipts if (r.channel, r.key) == (channel, key)}
        assert len(contents) == 1, f"{channel} {key} was resent with different content"
    # What a receiver that drops repeated keys shows: each message exactly once.
    shown = {(r.channel, r.key) for r in receipts}
    assert len(shown) == expected


DIGEST_CONFIG = """version: 1
channels:
  webhook: {secret: '${FAULTS_HOOK_KEY}'}
notifications: {digest_window_s: 0}
clients:
  acme:
    contacts:
      - {name: Acme Desk, webhook_url: '%s/hook/acme', roles: [operational_public]}
integrations:
%s"""


def test_a_digest_resent_with_a_newcomer_is_a_new_message(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same fault where a digest makes it matter: a dispatcher dies after the
    receiver took a digest of two tickets' mail; a third ticket's mail for the same
    desk is due when the lease ends, so the resend is a digest of three. Under the
    first message's key a receiver would drop it as a repeat, and the third
    ticket's mail with it; a digest's key names all its messages."""
    monkeypatch.setenv(HOOK_KEY_ENV, "faults-hook-signing-key")
    integrations = "".join(
        f"  - {{id: {i}, name: {i.upper()} Broker, kind: broker, client: acme,"
        f" base_url: 'http://127.0.0.1:9', interval_s: 60, checks: [{{name: health, path: /h}}]}}\n"
        for i in "abc"
    )
    with Inbox().serving() as inbox:
        apply_config(
            sqlite_engine, load_config_text(DIGEST_CONFIG % (inbox.webhook_url, integrations))
        )
        specs = {i: r.spec for i, r in load_specs(sqlite_engine).items()}
        for integration in "ab":
            feed(sqlite_engine, specs, [Outcome.CONNECTION_REFUSED] * 3, integration=integration)
        at = T0 + timedelta(minutes=3)
        channels = open_channels(sqlite_engine)
        # A dispatcher claims both, sends them as one digest, and dies before recording it.
        claimed = outbox.claim(sqlite_engine, ["notify:webhook"], at, lease_s=120)
        recipient = _recipient(claimed[0].payload["recipient"])
        channels["webhook"].send(recipient, _notice(claimed, recipient))
        feed(sqlite_engine, specs, [Outcome.CONNECTION_REFUSED] * 3, start=3, integration="c")
        report = deliver(sqlite_engine, channels, at + timedelta(seconds=121))
        close_all(channels)
        receipts = inbox.receipts()
    assert report.sent == 3
    # A receiver that drops keys it has seen still shows the third ticket's mail.
    shown: dict[str, str] = {}
    for receipt in receipts:
        shown.setdefault(receipt.key, receipt.content)
    assert any("INC-000003" in content for content in shown.values()), shown
