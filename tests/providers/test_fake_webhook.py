"""The fake SendGrid's signed event webhook, and the fake run as its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from fake_sendgrid import FakeSendGrid, generate_webhook_keypair
from fake_sendgrid_client import KEY, TESTS_DIR, good_body, lesson_body, post
from sendgrid.helpers.eventwebhook import EventWebhook


class _Receiver(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        server: Any = self.server
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with server.lock:
            server.calls += 1
            fail = server.calls <= server.fail_first
            if not fail:
                server.received.append((dict(self.headers), body))
        self.send_response(500 if fail else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def receiver() -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.daemon_threads = True
    server.lock, server.calls, server.fail_first, server.received = threading.Lock(), 0, 1, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_webhook_events_are_signed_and_retried(receiver: Any) -> None:
    private_key, public_key = generate_webhook_keypair()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/webhooks/sendgrid"
    fake = FakeSendGrid(api_key=KEY, webhook_url=url, webhook_private_key=private_key).start()
    try:
        message_id = post(fake.url, good_body())[2]["X-Message-Id"]
        assert fake.webhook is not None and fake.webhook.wait_idle(timeout=10)
        assert fake.webhook.failed_attempts == 1 and fake.webhook.delivered == 1
    finally:
        fake.stop()
    [(headers, body)] = receiver.received
    assert body.endswith(b"\r\n")
    signature = headers["X-Twilio-Email-Event-Webhook-Signature"]
    timestamp = headers["X-Twilio-Email-Event-Webhook-Timestamp"]
    verifier = EventWebhook(public_key)
    assert verifier.verify_signature(body.decode(), signature, timestamp)
    assert not verifier.verify_signature(body.decode().replace("a@", "b@"), signature, timestamp)
    assert not verifier.verify_signature(body.decode(), signature, str(int(timestamp) + 1))
    [event] = json.loads(body)
    assert event["event"] == "processed" and event["email"] == "a@example.nl"
    assert event["sg_message_id"].startswith(message_id + ".filter")
    assert (event["course"], event["day"], event["delivery_id"]) == ("c", "1", "5")
    assert event["sg_event_id"]


def test_webhook_gives_each_recipient_its_own_message_id(receiver: Any) -> None:
    receiver.fail_first = 0
    url, key = f"http://127.0.0.1:{receiver.server_address[1]}/h", generate_webhook_keypair()[0]
    fake = FakeSendGrid(api_key=KEY, webhook_url=url, webhook_private_key=key).start()
    try:
        message_id = post(fake.url, lesson_body())[2]["X-Message-Id"]
        assert fake.webhook is not None and fake.webhook.wait_idle(timeout=10)
    finally:
        fake.stop()
    events = [event for _, body in receiver.received for event in json.loads(body)]
    got = [(e["email"], e["course"], e["delivery_id"]) for e in events]
    assert got == [("anna@x.nl", "c", "0"), ("bob@x.nl", "c", "5"), ("cor@x.nl", "c", "2")]
    ids = {event["sg_message_id"] for event in events}
    assert len(ids) == 3 and all(i.startswith(message_id + ".") for i in ids)


def test_runs_as_a_process_with_stats_and_reset(tmp_path: Path, receiver: Any) -> None:
    private_key, public_key = generate_webhook_keypair()
    pem = tmp_path / "webhook-key.pem"
    pem.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    receiver.fail_first = 0
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    process = subprocess.Popen(
        [
            sys.executable,
            str(TESTS_DIR / "fake_sendgrid.py"),
            "--port",
            "0",
            "--api-key",
            KEY,
            "--latency-ms",
            "5",
            "--webhook-url",
            hook,
            "--webhook-private-key-pem",
            str(pem),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        assert post(url, good_body())[0] == 202
        assert post(url, good_body())[0] == 202
        with urllib.request.urlopen(f"{url}/_stats", timeout=5) as response:
            stats = json.loads(response.read())
        assert stats["accepted"] == 2 and stats["duplicates"] == 1
        assert stats["counts"] == [{"email": "a@example.nl", "course": "c", "day": "1", "count": 2}]
        reset = urllib.request.Request(f"{url}/_reset", data=b"", method="POST")
        urllib.request.urlopen(reset, timeout=5).close()
        with urllib.request.urlopen(f"{url}/_stats", timeout=5) as response:
            assert json.loads(response.read())["accepted"] == 0
        deadline = time.monotonic() + 10
        while len(receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        headers, body = receiver.received[0]
        assert EventWebhook(public_key).verify_signature(
            body.decode(),
            headers["X-Twilio-Email-Event-Webhook-Signature"],
            headers["X-Twilio-Email-Event-Webhook-Timestamp"],
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
