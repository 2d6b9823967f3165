"""The fake SendGrid's signed Event Webhook: P-256 keys, signatures, and a retrying sender."""

from __future__ import annotations

import base64
import heapq
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def generate_webhook_keypair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """Return a new P-256 private key and its public key as SendGrid shows it (base64 DER)."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_key, base64.b64encode(der).decode("ascii")


def sign_webhook(private_key: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    """Return the X-Twilio-Email-Event-Webhook-Signature value for BODY sent at TIMESTAMP."""
    signature = private_key.sign(timestamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode("ascii")


@dataclass(order=True)
class _Batch:
    due: float
    seq: int
    body: bytes = field(compare=False)
    attempts: int = field(default=0, compare=False)


class WebhookSender:
    """Post signed event batches from background threads, retrying non-2xx answers."""

    def __init__(
        self,
        url: str,
        private_key: ec.EllipticCurvePrivateKey,
        threads: int = 4,
        retry_delays: Iterable[float] = (0.2, 0.5, 1, 2, 4, 8),
        timestamp: Callable[[], float] = time.time,
    ) -> None:
        """Start THREADS senders posting to URL."""
        self.url = url
        self.private_key = private_key
        self.retry_delays = tuple(retry_delays)
        self.timestamp = timestamp
        self.delivered = 0
        self.failed_attempts = 0
        self.given_up = 0
        self._heap: list[_Batch] = []
        self._seq = 0
        self._in_flight = 0
        self._cond = threading.Condition()
        self._stopped = False
        self._threads = [
            threading.Thread(target=self._run, name=f"fake-sg-webhook-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, events: list[dict[str, Any]]) -> None:
        """Queue one batch of events; SendGrid's bodies end in CRLF, which is signed too."""
        body = json.dumps(events).encode("utf-8") + b"\r\n"
        with self._cond:
            self._seq += 1
            heapq.heappush(self._heap, _Batch(time.monotonic(), self._seq, body))
            self._cond.notify()

    @property
    def pending(self) -> int:
        """Return batches queued or being posted."""
        with self._cond:
            return len(self._heap) + self._in_flight

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no batch is queued or in flight; return whether that happened."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending == 0:
                return True
            time.sleep(0.01)
        return self.pending == 0

    def stop(self) -> None:
        """Stop the sender threads (queued batches are dropped)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (
                    not self._heap or self._heap[0].due > time.monotonic()
                ):
                    wait = self._heap[0].due - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                if self._stopped:
                    return
                batch = heapq.heappop(self._heap)
                self._in_flight += 1
            ok = self._post(batch.body)
            with self._cond:
                self._in_flight -= 1
                if ok:
                    self.delivered += 1
                    continue
                self.failed_attempts += 1
                if batch.attempts >= len(self.retry_delays):
                    self.given_up += 1
                    continue
                batch.due = time.monotonic() + self.retry_delays[batch.attempts]
                batch.attempts += 1
                heapq.heappush(self._heap, batch)
                self._cond.notify()

    def _post(self, body: bytes) -> bool:
        timestamp = str(int(self.timestamp()))
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "SendGrid Event API",
                "X-Twilio-Email-Event-Webhook-Signature": sign_webhook(
                    self.private_key, timestamp, body
                ),
                "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return 200 <= response.status < 300
        except (urllib.error.URLError, OSError):
            return False
