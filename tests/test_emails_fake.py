"""The fake SendGrid server itself: its checks, scripted failures, signed webhook, process mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from fake_sendgrid import FakeSendGrid, generate_webhook_keypair
from sendgrid.helpers.eventwebhook import EventWebhook

KEY = "test-sendgrid-key"
TESTS_DIR = Path(__file__).resolve().parent


def good_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "personalizations": [{"to": [{"email": "a@example.nl"}]}],
        "from": {"email": "cursus@umoya.example"},
        "subject": "Les 1",
        "content": [
            {"type": "text/plain", "value": "tekst"},
            {"type": "text/html", "value": "<p>tekst</p>"},
        ],
        "custom_args": {"course": "c", "day": "1", "delivery_id": "5"},
        "headers": {"List-Unsubscribe": "<https://x.example/u/t>"},
        "categories": ["nurture"],
    }
    body.update(changes)
    return body


def post(url: str, body: Any, key: str = KEY) -> tuple[int, dict[str, Any] | None, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{url}/v3/mail/send",
        data=data,
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, None, response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), exc.headers


def test_accepts_a_valid_request_with_a_unique_message_id(fake_sendgrid: FakeSendGrid) -> None:
    ids = {post(fake_sendgrid.url, good_body())[2]["X-Message-Id"] for _ in range(20)}
    assert len(ids) == 20
    assert fake_sendgrid.counts[("a@example.nl", "c", "1")] == 20
    assert fake_sendgrid.duplicates == 19


def many(count: int) -> list[dict[str, Any]]:
    return [{"to": [{"email": f"u{n}@example.nl"}]} for n in range(count)]


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"personalizations": []}, "personalizations", "at least one"),
        ({"personalizations": many(1001)}, "personalizations", "1000 or fewer"),
        ({"personalizations": [{"to": []}]}, "personalizations.0.to", "to array is required"),
        (
            {"personalizations": [{"to": [{"email": "a@x.nl"}, {"email": "A@x.nl"}]}]},
            "personalizations.0.to.1.email",
            "unique",
        ),
        ({"personalizations": [{"to": [{"email": "nope"}]}]}, "personalizations.0.to.0.email", ""),
        ({"from": {"name": "x"}}, "from.email", "from object"),
        ({"subject": ""}, "subject", "subject is required"),
        ({"content": []}, "content", "content parameter is required"),
        (
            {
                "content": [
                    {"type": "text/html", "value": "<p>"},
                    {"type": "text/plain", "value": "p"},
                ]
            },
            "content",
            "text/plain must be first",
        ),
        ({"custom_args": {"day": 1}}, "custom_args.day", "Expected: string"),
        ({"custom_args": {"big": "x" * 10_000}}, "custom_args", "10,000 byte"),
        ({"categories": [f"c{n}" for n in range(11)]}, "categories", "maximum is 10"),
        ({"categories": ["x" * 256]}, "categories.0", "255"),
        ({"headers": {"Subject": "x"}}, "headers.Subject", "reserved"),
        ({"headers": {"X-Sg-Id": "x"}}, "headers.X-Sg-Id", "reserved"),
    ],
)
def test_refuses_what_sendgrid_refuses(
    fake_sendgrid: FakeSendGrid, changes: dict[str, Any], field: str, text: str
) -> None:
    status, error, _ = post(fake_sendgrid.url, good_body(**changes))
    assert status == 400 and error is not None
    assert error["errors"][0]["field"] == field
    assert text in error["errors"][0]["message"]
    assert fake_sendgrid.accepted == []


def test_template_id_replaces_content_and_subject(fake_sendgrid: FakeSendGrid) -> None:
    body = good_body(template_id="d-123")
    del body["content"], body["subject"]
    assert post(fake_sendgrid.url, body)[0] == 202


def test_bad_key_and_broken_json(fake_sendgrid: FakeSendGrid) -> None:
    status, error, _ = post(fake_sendgrid.url, good_body(), key="wrong")
    assert status == 401 and error is not None and "authorization" in error["errors"][0]["message"]
    assert post(fake_sendgrid.url, b"{not json")[0] == 400


def test_scripted_statuses_then_normal_service(fake_sendgrid: FakeSendGrid) -> None:
    fake_sendgrid.script(429, 500, 413)
    first = post(fake_sendgrid.url, good_body())
    assert first[0] == 429
    reset = int(first[2]["X-RateLimit-Reset"])
    assert first[2]["X-RateLimit-Remaining"] == "0" and reset >= time.time()
    assert [post(fake_sendgrid.url, good_body())[0] for _ in range(3)] == [500, 413, 202]
    with pytest.raises(ValueError, match="cannot script status 418"):
        fake_sendgrid.script(418)


def test_random_failures_follow_the_seed() -> None:
    def run() -> list[int]:
        fake = FakeSendGrid(api_key=KEY, fail_429=0.2, fail_500=0.1, seed=7).start()
        try:
            return [post(fake.url, good_body())[0] for _ in range(100)]
        finally:
            fake.stop()

    first, second = run(), run()
    assert first == second
    assert 8 <= first.count(429) <= 35 and 2 <= first.count(500) <= 20
    assert first.count(202) + first.count(429) + first.count(500) == 100


def test_many_parallel_requests_with_latency() -> None:
    fake = FakeSendGrid(api_key=KEY, latency=0.05).start()
    try:
        started = time.monotonic()
        threads = [
            threading.Thread(
                target=lambda n=n: post(
                    fake.url, good_body(custom_args={"course": "c", "day": str(n)})
                )
            )
            for n in range(200)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    finally:
        fake.stop()
    assert len(fake.accepted) == 200 and fake.duplicates == 0
    assert elapsed < 5  # 200 x 50 ms in series would be 10 s: requests overlap


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
