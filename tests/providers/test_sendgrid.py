"""The SendGrid backend over real HTTP against the fake server: bodies, ids and error mapping."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from emails_support import (
    SENDGRID_TEST_KEY,
    backend_for,
    renderer_for,
    sample_course,
    sendgrid_env,
    sendgrid_mail_settings,
    shipped_course,
)
from fake_sendgrid import FakeSendGrid

from config import load_settings
from course.loader import Course
from emails.message import Message, Tags
from emails.render import Recipient, Renderer
from providers import MailBackend
from providers.base import PermanentSendError, RetryableSendError
from providers.sendgrid.mail import SendGridBackend
from store.clock import Clock, FrozenClock, system_clock

_ = sendgrid_env  # the fixture, imported so pytest finds it here


@pytest.fixture
def course(tmp_path: Path) -> Course:
    return sample_course(tmp_path / "courses")


@pytest.fixture
def renderer(sendgrid_env: FakeSendGrid) -> Renderer:
    return renderer_for(load_settings())


def backend(clock: Clock = system_clock) -> MailBackend:
    """Build the mail backend from the NURTURE_* settings as they are now."""
    return backend_for(load_settings(), clock)


def lesson(
    renderer: Renderer, course: Course, day: int = 1, email: str = "anna@example.nl"
) -> Message:
    return renderer.lesson(course, day, Recipient(7, email, "Anna", delivery_id=100 + day))


def courses_to_send(course: Course) -> list[Course]:
    shipped = shipped_course()
    return [course] if shipped is None else [course, shipped]


def test_every_lesson_arrives_whole(
    sendgrid_env: FakeSendGrid, renderer: Renderer, course: Course
) -> None:
    sendgrid = backend()
    assert isinstance(sendgrid, SendGridBackend)
    sent = 0
    for each in courses_to_send(course):
        for day in range(1, each.days + 1):
            result = sendgrid.send(lesson(renderer, each, day))
            sent += 1
            record = sendgrid_env.accepted[-1]
            assert result.message_id == record.message_id
            body = record.body
            assert [part["type"] for part in body["content"]] == ["text/plain", "text/html"]
            assert all(part["value"].strip() for part in body["content"])
            assert body["headers"]["List-Unsubscribe"].startswith("<http://nurture.test/unsub")
            assert body["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            assert body["custom_args"] == {
                "course": each.slug,
                "day": str(day),
                "delivery_id": str(100 + day),
                "subscriber_id": "7",
            }
            assert body["personalizations"] == [
                {"to": [{"email": "anna@example.nl", "name": "Anna"}]}
            ]
            assert body["from"]["email"] == "cursus@umoya.example"
            assert body["tracking_settings"]["click_tracking"]["enable"] is False
            assert sendgrid_env.counts[("anna@example.nl", each.slug, str(day))] == 1
    assert sendgrid_env.stats()["accepted"] == sent and sendgrid_env.duplicates == 0


def test_confirmation_arrives(
    sendgrid_env: FakeSendGrid, renderer: Renderer, course: Course
) -> None:
    message = renderer.confirmation(
        course, Recipient(9, "bo@example.nl", None, delivery_id=31), "http://nurture.test/confirm/t"
    )
    backend().send(message)
    body = sendgrid_env.accepted[-1].body
    assert body["custom_args"]["kind"] == "confirmation"
    assert body["custom_args"]["delivery_id"] == "31"
    assert body["categories"] == ["nurture", "voorbeeld-cursus-bevestiging"]
    assert sendgrid_env.counts[("bo@example.nl", "voorbeeld-cursus", "confirmation")] == 1


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_refusals_are_permanent_and_keep_sendgrid_text(
    sendgrid_env: FakeSendGrid, renderer: Renderer, course: Course, status: int
) -> None:
    sendgrid_env.script(status)
    with pytest.raises(PermanentSendError) as caught:
        backend().send(lesson(renderer, course))
    assert caught.value.status == status
    assert caught.value.args[0].startswith(f"SendGrid {status}: ")
    assert len(caught.value.args[0]) > len(f"SendGrid {status}: ") + 5
    assert sendgrid_env.accepted == []


def test_wrong_key_is_refused_by_the_server(
    sendgrid_env: FakeSendGrid,
    renderer: Renderer,
    course: Course,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NURTURE_SENDGRID_API_KEY", "not-the-key")
    with pytest.raises(PermanentSendError, match="authorization grant is invalid") as caught:
        backend().send(lesson(renderer, course))
    assert caught.value.status == 401


def test_invalid_body_names_the_field(sendgrid_env: FakeSendGrid, course: Course) -> None:
    bad = Message(
        to_email="anna@example.nl",
        subject="x",
        html="<p>x</p>",
        text="x",
        from_email="cursus@umoya.example",
        tags=Tags(kind="lesson", course="c", day=1),
        categories=tuple(f"c{n}" for n in range(11)),
    )
    with pytest.raises(PermanentSendError, match=r"SendGrid 400: categories: Too many") as caught:
        backend().send(bad)
    assert caught.value.status == 400


def test_real_payload_limit_gives_413(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = FakeSendGrid(api_key=SENDGRID_TEST_KEY, max_body_bytes=20_000).start()
    try:
        settings = sendgrid_mail_settings(monkeypatch, tmp_path, small.url)
        course = sample_course(tmp_path / "courses")
        message = lesson(renderer_for(settings), course)
        huge = dataclasses.replace(message, html=message.html + "<p>x</p>" * 5000)
        with pytest.raises(PermanentSendError, match="too large") as caught:
            backend().send(huge)
        assert caught.value.status == 413
        backend().send(message)  # a normal lesson is well under the limit
        assert len(small.accepted) == 1
    finally:
        small.stop()


def test_rate_limit_is_retryable_after_the_reset(
    sendgrid_env: FakeSendGrid, renderer: Renderer, course: Course
) -> None:
    now = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
    sendgrid = backend(FrozenClock(now))
    sendgrid_env.timestamp = now.timestamp  # the fake's clock agrees with ours
    sendgrid_env.rate_limit_reset_seconds = 37
    sendgrid_env.script(429)
    with pytest.raises(RetryableSendError) as caught:
        sendgrid.send(lesson(renderer, course))
    assert caught.value.status == 429 and caught.value.retry_after == 37
    assert caught.value.maybe_sent is False
    sendgrid.send(lesson(renderer, course))  # the next request goes through
    assert len(sendgrid_env.accepted) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable(
    sendgrid_env: FakeSendGrid, renderer: Renderer, course: Course, status: int
) -> None:
    sendgrid_env.script(status)
    with pytest.raises(RetryableSendError) as caught:
        backend().send(lesson(renderer, course))
    assert caught.value.status == status and caught.value.maybe_sent is False


def test_timeout_is_retryable_and_maybe_sent(
    sendgrid_env: FakeSendGrid,
    renderer: Renderer,
    course: Course,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NURTURE_SENDGRID_TIMEOUT", "0.2")
    sendgrid_env.latency = 1.0
    with pytest.raises(RetryableSendError, match=r"did not answer within 0\.2 s") as caught:
        backend().send(lesson(renderer, course))
    assert caught.value.status is None and caught.value.maybe_sent is True
    # The server still accepts it after we gave up: exactly why maybe_sent must not resend blindly.
    deadline = time.monotonic() + 5
    while not sendgrid_env.accepted and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(sendgrid_env.accepted) == 1


def test_unreachable_host_is_retryable_and_not_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    settings = sendgrid_mail_settings(monkeypatch, tmp_path, f"http://127.0.0.1:{port}")
    message = lesson(renderer_for(settings), sample_course(tmp_path / "courses"))
    with pytest.raises(RetryableSendError, match="unreachable") as caught:
        backend().send(message)
    assert caught.value.maybe_sent is False


def test_concurrent_sends_share_one_client_safely(
    sendgrid_env: FakeSendGrid, renderer: Renderer, course: Course
) -> None:
    sendgrid_env.latency = 0.02
    shared = backend()
    messages = [lesson(renderer, course, 1 + n % 5, f"user{n}@example.nl") for n in range(300)]
    ids: list[str | None] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(chunk: list[Message]) -> None:
        for message in chunk:
            try:
                result = shared.send(message)
            except BaseException as exc:
                errors.append(exc)
            else:
                with lock:
                    ids.append(result.message_id)

    threads = [threading.Thread(target=worker, args=(messages[n::24],)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(ids) == 300 and len(set(ids)) == 300
    assert sendgrid_env.duplicates == 0 and sum(sendgrid_env.counts.values()) == 300


def test_retry_after_reads_retry_after_then_rate_limit_reset() -> None:
    from email.message import Message as Headers

    from providers.sendgrid.mail import retry_after

    now = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
    clock = FrozenClock(now)

    def headers(**values: str) -> Headers:
        parsed = Headers()
        for name, value in values.items():
            parsed[name.replace("_", "-")] = value
        return parsed

    assert retry_after(headers(Retry_After="12"), clock) == 12
    assert retry_after(headers(Retry_After="Mon, 02 Mar 2026 07:31:00 GMT"), clock) == 60
    reset = str(int(now.timestamp()) + 90)
    assert retry_after(headers(X_RateLimit_Reset=reset), clock) == 90
    assert retry_after(headers(X_RateLimit_Reset=str(int(now.timestamp()) - 5)), clock) == 0
    assert retry_after(headers(), clock) is None
    assert retry_after(None, clock) is None
