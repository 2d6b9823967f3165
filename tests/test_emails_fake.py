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
from fake_sendgrid_expand import substitute
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


def one(**fields: Any) -> dict[str, Any]:
    return {"personalizations": [{"to": [{"email": "a@example.nl"}], **fields}]}


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
        (
            {"personalizations": [{"to": [{"email": "a@x.nl"}]}, {"to": [{"email": "A@x.nl"}]}]},
            "personalizations.1.to.0.email",
            "unique",
        ),
        (one(subject=""), "personalizations.0.subject", "at least one character"),
        (one(subject=7), "personalizations.0.subject", "given: integer"),
        (one(substitutions={"-n-": 1}), "personalizations.0.substitutions.-n-", "given: integer"),
        (one(substitutions=["-n-"]), "personalizations.0.substitutions", "must be an object"),
        (
            one(substitutions={"-a-": "x" * 5_000, "-b-": "y" * 4_995}),
            "personalizations.0.substitutions",
            "The total size of substitutions for a personalization may not exceed 10000 bytes.",
        ),
        (
            {"custom_args": {"a": "x" * 5_000}, **one(custom_args={"b": "y" * 5_000})},
            "personalizations.0.custom_args",
            "10,000 byte",
        ),
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


def test_substitutions_up_to_the_limit_and_custom_args_per_personalization(
    fake_sendgrid: FakeSendGrid,
) -> None:
    # Exactly 10,000 bytes ("é" is two), and 2 x 9,000 bytes of custom args in two
    # personalizations: SendGrid counts both per personalization, so this passes.
    subs = {"-a-": "é" * 2_500, "-b-": "y" * 4_994}
    big = [{"to": [{"email": f"u{n}@x.nl"}], "custom_args": {"b": "y" * 9_000}} for n in (1, 2)]
    assert post(fake_sendgrid.url, good_body(**one(substitutions=subs)))[0] == 202
    assert post(fake_sendgrid.url, good_body(personalizations=big))[0] == 202


# Three recipients of one lesson in one request. Cor's values hold other keys: one-pass
# substitution leaves them literal, whichever order a sequential replacer would try the keys in.
PEOPLE = [
    ("anna@x.nl", "Anna", {"-h0-": "Hallo Anna,", "-h1-": "https://x.example/u/a", "-h10-": "nl"}),
    ("bob@x.nl", "", {"-h0-": "Hallo,", "-h1-": "https://x.example/u/b", "-h10-": "nl"}),
    ("cor@x.nl", "Cor", {"-h0-": "Hallo -h1-,", "-h1-": "https://x.example/u/c", "-h10-": "-h0-"}),
]


def lesson_body() -> dict[str, Any]:
    personalizations: list[dict[str, Any]] = [
        {
            "to": [{"email": email, "name": name}],
            "subject": "Dag 1: -h0-",
            "headers": {"List-Unsubscribe": f"<{subs['-h1-']}>"},
            "custom_args": {"delivery_id": str(n), "subscriber_id": str(10 + n)},
            "substitutions": subs,
        }
        for n, (email, name, subs) in enumerate(PEOPLE)
    ]
    # Bob leans on the top level: no name, subject, headers or custom args of his own.
    personalizations[1] = {"to": [{"email": "bob@x.nl"}], "substitutions": PEOPLE[1][2]}
    return good_body(
        personalizations=personalizations,
        headers={"List-Unsubscribe": "<https://x.example/u/t>", "X-Top": "1"},
        content=[
            {"type": "text/plain", "value": "-h0- Lees: -h1- (-h10-)"},
            {"type": "text/html", "value": '<p>-h0-</p><a href="-h1-">-h10-</a>'},
        ],
    )


def test_messages_expand_each_recipient_with_their_substitutions(
    fake_sendgrid: FakeSendGrid,
) -> None:
    assert post(fake_sendgrid.url, lesson_body())[0] == 202
    [accepted] = fake_sendgrid.accepted
    anna, bob, cor = accepted.messages
    assert anna == {
        "to": "anna@x.nl",
        "name": "Anna",
        "subject": "Dag 1: Hallo Anna,",
        "headers": {"List-Unsubscribe": "<https://x.example/u/a>", "X-Top": "1"},
        "custom_args": {"course": "c", "day": "1", "delivery_id": "0", "subscriber_id": "10"},
        "categories": ["nurture"],
        "text": "Hallo Anna, Lees: https://x.example/u/a (nl)",
        "html": '<p>Hallo Anna,</p><a href="https://x.example/u/a">nl</a>',
    }
    assert (bob["to"], bob["name"], bob["subject"], bob["text"]) == (
        "bob@x.nl",
        "",
        "Les 1",
        "Hallo, Lees: https://x.example/u/b (nl)",
    )
    assert bob["headers"] == {"List-Unsubscribe": "<https://x.example/u/t>", "X-Top": "1"}
    assert bob["custom_args"] == {"course": "c", "day": "1", "delivery_id": "5"}
    assert cor["subject"] == "Dag 1: Hallo -h1-,"
    assert cor["text"] == "Hallo -h1-, Lees: https://x.example/u/c (-h0-)"
    assert cor["html"] == '<p>Hallo -h1-,</p><a href="https://x.example/u/c">-h0-</a>'
    # Every recipient counts once per (email, course, day); the request counts once.
    assert dict(fake_sendgrid.counts) == {(email, "c", "1"): 1 for email, _, _ in PEOPLE}
    stats = fake_sendgrid.stats()
    assert (stats["accepted"], stats["recipients"], stats["duplicates"]) == (1, 3, 0)
    assert post(fake_sendgrid.url, good_body(**one(to=[{"email": "Bob@x.nl"}])))[0] == 202
    assert fake_sendgrid.counts[("bob@x.nl", "c", "1")] == 2 and fake_sendgrid.duplicates == 1


def test_substitute_prefers_the_longest_key() -> None:
    subs = {":name": "A", ":name_full": "Anna B", "B": "never"}
    assert substitute(":name_full / :name.", subs) == "Anna B / A."


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
