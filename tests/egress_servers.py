"""Two real servers for the egress tests: a partner on 127.0.0.2 and an internal one on 127.0.0.1.

Linux routes all of 127/8 to loopback, so the two live on different addresses
of the same machine: a policy allowing `127.0.0.2/32` lets intmon reach the
partner and nothing else, which is what a partner's redirect to "its" internal
address must meet. The internal server counts its hits: a refused hop must
leave it at zero (nothing is sent there).
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from core.egress import EgressPolicy

INTERNAL_BODY = b"internal-metrics intmon_secret_gauge 42"
PARTNER_ONLY = EgressPolicy.parse("127.0.0.2/32")
HANDSHAKE_S = 10.0  # and each read after it: a test's client never waits that long


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    tls: ssl.SSLContext | None = None

    def get_request(self) -> tuple[socket.socket, object]:
        """A connection, its TLS handshake left to its own thread and bounded: with
        the listening socket wrapped instead, `accept` shook hands in the serving
        thread, so one client that connected and said nothing stopped the server
        and, with it, the test's `close()` (a CI run hung there)."""
        connection, address = self.socket.accept()
        connection.settimeout(HANDSHAKE_S)
        if self.tls is not None:
            connection = self.tls.wrap_socket(
                connection, server_side=True, do_handshake_on_connect=False
            )
        return connection, address

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client closing a redirect's connection unread is expected here


class Server:
    """A threaded HTTP server on `host` (HTTPS with `tls`).

    /go?to=URL answers 302 to URL; /ok answers 200 {"status": "ok"}; anything
    else answers 200 with INTERNAL_BODY. Every request is counted in `hits`."""

    def __init__(self, host: str, tls: ssl.SSLContext | None = None) -> None:
        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.hits.append(self.path)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                if parts.path == "/go":
                    self.send_response(302)
                    self.send_header("Location", parse_qs(parts.query)["to"][0])
                    body = b"redirecting"
                elif parts.path == "/ok":
                    self.send_response(200)
                    body = b'{"status": "ok"}'
                else:
                    self.send_response(200)
                    body = INTERNAL_BODY
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                # One request per connection: a chunked request body is never left unread.
                self.send_header("Connection", "close")
                self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = _QuietServer((host, 0), Handler)
        self.server.tls = tls
        self.scheme = "http" if tls is None else "https"
        self.server.daemon_threads = True
        self.host = host
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# Fixtures for the modules that pit an allow-listed partner against an internal
# address (import them with `# noqa: F401`): Linux routes all of 127/8 to loopback.
@pytest.fixture(name="internal")
def internal_server() -> Iterator[Server]:
    """What must stay out of reach: 127.0.0.1, outside `PARTNER_ONLY`."""
    server = Server("127.0.0.1")
    yield server
    server.close()


@pytest.fixture(name="outside")
def outside_partner() -> Iterator[Server]:
    """The partner, on 127.0.0.2: the one address `PARTNER_ONLY` allows."""
    server = Server("127.0.0.2")
    yield server
    server.close()
