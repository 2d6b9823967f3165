"""The keep-alive SendGrid transport: a connection per thread, reused, replaced when closed."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator

import pytest
from fake_sendgrid import FakeSendGrid

from emails.message import Message, Tags
from providers.base import RetryableSendError
from providers.sendgrid import transport
from providers.sendgrid.mail import SendGridBackend
from store.clock import system_clock

API_KEY = "keepalive-test-key"


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    server = FakeSendGrid(api_key=API_KEY).start()
    yield server
    server.stop()


def message(day: int) -> Message:
    return Message(
        to_email="anna@example.nl",
        subject="Les",
        html="<p>Hallo</p>",
        text="Hallo",
        from_email="cursus@example.nl",
        tags=Tags(kind="lesson", course="c", day=day),
    )


def connection_to(backend: SendGridBackend, url: str) -> http.client.HTTPConnection:
    slots = backend._client.client._connections.slots
    [slot] = [slot for key, slot in slots.items() if url.endswith(key[1])]
    return slot.connection


def test_sends_reuse_one_connection_per_thread(fake: FakeSendGrid) -> None:
    backend = SendGridBackend(api_key=API_KEY, host=fake.url, timeout=5, clock=system_clock)
    first = backend.send(message(1))
    connection = connection_to(backend, fake.url)
    second = backend.send(message(2))
    assert first.message_id and second.message_id and first.message_id != second.message_id
    assert connection_to(backend, fake.url) is connection
    assert fake.stats()["accepted"] == 2


def test_error_statuses_keep_the_library_mapping(fake: FakeSendGrid) -> None:
    backend = SendGridBackend(api_key=API_KEY, host=fake.url, timeout=5, clock=system_clock)
    fake.script(429)
    with pytest.raises(RetryableSendError) as caught:
        backend.send(message(1))
    assert caught.value.status == 429
    assert caught.value.retry_after is not None
    # The connection survives an error answer and carries the next send.
    assert backend.send(message(1)).message_id
    assert fake.stats()["accepted"] == 1


def test_connection_closed_by_server_is_replaced_before_use(fake: FakeSendGrid) -> None:
    backend = SendGridBackend(api_key=API_KEY, host=fake.url, timeout=5, clock=system_clock)
    backend.send(message(1))
    stale = connection_to(backend, fake.url)
    assert stale.sock is not None
    # Make the server close it, as an idle timeout would: it sees our end of input and
    # hangs up, which leaves our socket readable at EOF.
    stale.sock.shutdown(socket.SHUT_WR)
    deadline = time.monotonic() + 5
    while not transport._dropped(stale) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert backend.send(message(2)).message_id
    assert connection_to(backend, fake.url) is not stale
    assert fake.stats()["accepted"] == 2
