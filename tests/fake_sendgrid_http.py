"""The fake SendGrid's HTTP layer: /v3/mail/send and the test-only /_stats, /_reset, /_script."""

from __future__ import annotations

import json
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
            self._reply(200, json.dumps(self.server.fake.stats()).encode())
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
        elif self.path == "/v3/mail/send":
            status, reply, headers = fake.handle_send(self.headers.get("Authorization"), body)
            self._reply(status, reply, headers)
        else:
            self._reply(404, error_body("not found"))
