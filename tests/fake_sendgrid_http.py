"""The fake SendGrid's HTTP layer: /v3/mail/send, /v3/scopes, and the test-only endpoints.

GET /_stats gives the counters as JSON; POST /_reset forgets them; POST /_script
{"statuses": [429, 500]} answers the next sends so; POST /_down {"status": 503} answers every
send so until {"status": null} (an outage); POST /_hold {"hold": true} keeps every send
waiting unanswered (counted as `in_flight` in /_stats) until {"hold": false}, so a fault test
can strike while sends are surely under way.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from fake_sendgrid_rules import error_body

if TYPE_CHECKING:
    from fake_sendgrid import FakeSendGrid


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True
    fake: FakeSendGrid

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Listen as ThreadingHTTPServer does, with no send held."""
        super().__init__(*args, **kwargs)
        self.released = threading.Event()  # cleared while sends are held (POST /_hold)
        self.released.set()
        self.in_flight = 0
        self._flight_lock = threading.Lock()

    @contextmanager
    def in_flight_send(self) -> Iterator[None]:
        """Count one mail/send request as in flight while the block runs."""
        with self._flight_lock:
            self.in_flight += 1
        try:
            yield
        finally:
            with self._flight_lock:
                self.in_flight -= 1


class FakeHandler(BaseHTTPRequestHandler):
    server: FakeServer
    server_version = "FakeSendGrid/1.0"
    # HTTP/1.1 keeps connections open between requests, as SendGrid does; every reply carries
    # Content-Length, so the client knows where one answer ends and may send the next.
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a request per test line would drown pytest's output

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        chunks, left = [], length
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def do_GET(self) -> None:
        if self.path == "/_stats":
            stats = {**self.server.fake.stats(), "in_flight": self.server.in_flight}
            self._reply(200, json.dumps(stats).encode())
        elif self.path == "/v3/scopes":
            self._reply(*self.server.fake.handle_scopes(self.headers.get("Authorization")))
        else:
            self._reply(404, error_body("not found"))

    def do_POST(self) -> None:
        fake = self.server.fake
        body = self._read_body()
        if self.path == "/_reset":
            fake.reset()
            self._reply(200, b'{"ok":true}')
        elif self.path == "/_script":
            fake.script(*json.loads(body or b"{}").get("statuses", []))
            self._reply(200, b'{"ok":true}')
        elif self.path == "/_down":
            status = json.loads(body or b"{}").get("status")
            if status is None:
                fake.recover()
            else:
                fake.go_down(int(status))
            self._reply(200, b'{"ok":true}')
        elif self.path == "/_hold":
            if json.loads(body or b"{}").get("hold"):
                self.server.released.clear()
            else:
                self.server.released.set()
            self._reply(200, b'{"ok":true}')
        elif self.path == "/v3/mail/send":
            with self.server.in_flight_send():
                self.server.released.wait()
                status, reply, headers = fake.handle_send(self.headers.get("Authorization"), body)
            self._reply(status, reply, headers)
        else:
            self._reply(404, error_body("not found"))
