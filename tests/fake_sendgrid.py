"""A fake SendGrid v3 mail/send server for tests: real HTTP, checking what SendGrid checks.

In process:   server = FakeSendGrid(api_key="k").start(); ...; server.stop()
As a process: python tests/fake_sendgrid.py --port P --api-key K [--latency-ms 50]
              [--fail-429 0.1] [--fail-500 0.05] [--seed 1]
              [--webhook-url URL --webhook-private-key-pem FILE]
              GET /_stats; POST /_reset, /_script, /_down, /_hold (see fake_sendgrid_http).
              GET /v3/scopes lists the key's scopes (FakeSendGrid.scopes).

It answers 202 with an X-Message-Id, or SendGrid-style errors; records each accepted request
(Accepted.messages expands it into one message per recipient, substitutions applied) and counts
(to, course, day) per recipient so tests can assert "accepted exactly once"; and can post signed
`processed` events, one per recipient, to a webhook, retrying like SendGrid does.
In the stats, `accepted` counts accepted requests and `recipients` the emails in them (one per
`to` of each personalization); `counts` and `duplicates` are per recipient too.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

# Siblings are imported by bare name: tests/ is on sys.path both under pytest and when this
# file runs as a script.
from fake_sendgrid_expand import Accepted, Message, count_key
from fake_sendgrid_http import FakeHandler, FakeServer
from fake_sendgrid_rules import ERROR_TEXTS, MailError, error_body, validate_mail
from fake_sendgrid_webhook import WebhookSender, generate_webhook_keypair, sign_webhook

__all__ = [
    "Accepted",
    "FakeSendGrid",
    "MailError",
    "Message",
    "count_key",
    "generate_webhook_keypair",
    "sign_webhook",
    "validate_mail",
]

MAX_BODY_BYTES = 30 * 1024 * 1024
# What GET /v3/scopes lists for a key restricted to sending, as SendGrid answers it.
SEND_KEY_SCOPES = ("mail.send", "sender_verification_eligible", "2fa_required")


class FakeSendGrid:
    """The fake server: start(), then point NURTURE_SENDGRID_HOST at .url."""

    def __init__(
        self,
        api_key: str = "fake-sendgrid-key",
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        fail_429: float = 0.0,
        fail_500: float = 0.0,
        seed: int = 0,
        rate_limit_reset_seconds: int = 2,
        max_body_bytes: int = MAX_BODY_BYTES,
        webhook_url: str | None = None,
        webhook_private_key: ec.EllipticCurvePrivateKey | None = None,
        webhook_events: tuple[str, ...] = ("processed",),
        timestamp: Callable[[], float] = time.time,
        scopes: tuple[str, ...] = SEND_KEY_SCOPES,
    ) -> None:
        """Configure the fake; nothing listens until start()."""
        self.api_key = api_key
        self.latency = latency
        self.fail_429 = fail_429
        self.fail_500 = fail_500
        self.rate_limit_reset_seconds = rate_limit_reset_seconds
        self.max_body_bytes = max_body_bytes
        self.webhook_events = webhook_events
        self.timestamp = timestamp
        # The key's permissions, as GET /v3/scopes lists them; a test may take mail.send away.
        self.scopes = list(scopes)
        self.accepted: list[Accepted] = []
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self.requests = 0
        self.refused: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._scripted: list[int] = []
        self.down_status: int | None = None  # an outage: every send answers this
        self._rng = random.Random(seed)
        self._seed = seed
        self._server = FakeServer((host, port), FakeHandler)
        self._server.fake = self
        self._thread: threading.Thread | None = None
        self.webhook: WebhookSender | None = None
        if webhook_url:
            if webhook_private_key is None:
                raise ValueError("a webhook URL needs the private key to sign with")
            self.webhook = WebhookSender(webhook_url, webhook_private_key, timestamp=timestamp)

    @property
    def url(self) -> str:
        """Return the base URL to use as the SendGrid host."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeSendGrid:
        """Serve in a daemon thread and return self."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # shutdown() waits up to one poll
            name="fake-sendgrid",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and stop the webhook sender."""
        self._server.shutdown()
        self._server.server_close()
        if self.webhook:
            self.webhook.stop()

    def script(self, *statuses: int) -> None:
        """Answer the next len(STATUSES) send requests with these statuses, in order."""
        for status in statuses:
            if status not in ERROR_TEXTS:
                raise ValueError(f"cannot script status {status}; use one of {sorted(ERROR_TEXTS)}")
        with self._lock:
            self._scripted.extend(statuses)

    def go_down(self, status: int = 503) -> None:
        """Answer every send request with STATUS, as SendGrid in an outage, until recover()."""
        if status not in ERROR_TEXTS:
            raise ValueError(f"cannot answer {status}; use one of {sorted(ERROR_TEXTS)}")
        with self._lock:
            self.down_status = status

    def recover(self) -> None:
        """End the outage: sends are judged on their merits again."""
        with self._lock:
            self.down_status = None

    def reset(self) -> None:
        """Forget accepted messages, counts, scripted answers; reseed the failure RNG."""
        with self._lock:
            self.accepted.clear()
            self.counts.clear()
            self.refused.clear()
            self._scripted.clear()
            self.down_status = None
            self.requests = 0
            self._rng = random.Random(self._seed)

    @property
    def duplicates(self) -> int:
        """Return how many accepted recipients were extra copies of an earlier one."""
        with self._lock:
            return sum(count - 1 for count in self.counts.values() if count > 1)

    def stats(self) -> dict[str, Any]:
        """Return counters as JSON-ready data (served at GET /_stats)."""
        with self._lock:
            counts = [
                {"email": key[0], "course": key[1], "day": key[2], "count": count}
                for key, count in self.counts.items()
            ]
            stats: dict[str, Any] = {
                "requests": self.requests,
                "accepted": len(self.accepted),
                "recipients": sum(self.counts.values()),
                "duplicates": sum(c - 1 for c in self.counts.values() if c > 1),
                "refused": {str(status): n for status, n in self.refused.items()},
                "counts": counts,
            }
        if self.webhook:
            stats["webhook"] = {
                "delivered": self.webhook.delivered,
                "failed_attempts": self.webhook.failed_attempts,
                "given_up": self.webhook.given_up,
                "pending": self.webhook.pending,
            }
        return stats

    def handle_scopes(self, authorization: str | None) -> tuple[int, bytes]:
        """Answer GET /v3/scopes: the key's scopes, or SendGrid's 401 for a missing or bad key."""
        if not authorization:
            return 401, error_body("authorization required")
        if authorization != f"Bearer {self.api_key}":
            return 401, error_body(ERROR_TEXTS[401])
        with self._lock:
            scopes, down = list(self.scopes), self.down_status
        if down is not None:
            return down, error_body(ERROR_TEXTS[down])
        return 200, json.dumps({"scopes": scopes}).encode()

    def handle_send(
        self, authorization: str | None, raw: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        """Decide the answer to one mail/send request: (status, body, headers)."""
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            self.requests += 1
            forced = self._scripted.pop(0) if self._scripted else self.down_status
            if forced is None:
                roll = self._rng.random()
                if roll < self.fail_429:
                    forced = 429
                elif roll < self.fail_429 + self.fail_500:
                    forced = 500
        try:
            if forced is not None:
                raise MailError(forced, ERROR_TEXTS[forced])
            if authorization != f"Bearer {self.api_key}":
                raise MailError(401, ERROR_TEXTS[401])
            if len(raw) > self.max_body_bytes:
                raise MailError(413, ERROR_TEXTS[413])
            try:
                body = json.loads(raw)
            except ValueError:
                raise MailError(400, "Bad Request: the body is not valid JSON", "") from None
            validate_mail(body)
        except MailError as exc:
            with self._lock:
                self.refused[exc.status] += 1
            headers = {}
            if exc.status == 429:
                headers = {
                    "X-RateLimit-Limit": "600",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(int(self.timestamp()) + self.rate_limit_reset_seconds),
                }
            return exc.status, error_body(exc.message, exc.field), headers
        message_id = secrets.token_urlsafe(16)
        record = Accepted(message_id=message_id, body=body, received_at=time.time())
        recipients = record.recipients
        with self._lock:
            self.accepted.append(record)
            for email, args in recipients:
                self.counts[count_key(email, args)] += 1
        if self.webhook:
            self.webhook.submit(record.events(self.webhook_events, int(self.timestamp())))
        return 202, b"", {"X-Message-Id": message_id}


def main(argv: list[str] | None = None) -> None:
    """Run the fake as a process until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--fail-429", type=float, default=0.0)
    parser.add_argument("--fail-500", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--webhook-url")
    parser.add_argument("--webhook-private-key-pem", type=Path)
    args = parser.parse_args(argv)
    private_key = None
    if args.webhook_url:
        if not args.webhook_private_key_pem:
            parser.error("--webhook-url needs --webhook-private-key-pem")
        loaded = serialization.load_pem_private_key(
            args.webhook_private_key_pem.read_bytes(), password=None
        )
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            parser.error("the webhook key must be an EC P-256 private key")
        private_key = loaded
    fake = FakeSendGrid(
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        latency=args.latency_ms / 1000,
        fail_429=args.fail_429,
        fail_500=args.fail_500,
        seed=args.seed,
        webhook_url=args.webhook_url,
        webhook_private_key=private_key,
    )
    fake.start()
    print(f"fake SendGrid listening on {fake.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()
        sys.exit(0)


if __name__ == "__main__":
    main()
