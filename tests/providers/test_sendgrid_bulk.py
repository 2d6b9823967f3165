"""Many recipients per SendGrid request, over real HTTP against the fake: what each one gets."""

from __future__ import annotations

from pathlib import Path

import pytest
from emails_support import backend_for, mail_env, renderer_for, sample_course, sendgrid_env
from fake_sendgrid import FakeSendGrid

from config import load_settings
from course.loader import Course
from emails.render import Recipient, Renderer
from providers import MailBackend
from providers.base import PermanentSendError, RetryableSendError, SendResult
from providers.outbox import OutboxBackend
from providers.sendgrid.contract import custom_args

_ = (sendgrid_env, mail_env)  # the fixtures, imported so pytest finds them here


@pytest.fixture
def course(tmp_path: Path) -> Course:
    return sample_course(tmp_path / "courses")


def renderer() -> Renderer:
    """Build the renderer from the NURTURE_* settings as they are now."""
    return renderer_for(load_settings())


def backend() -> MailBackend:
    """Build the mail backend from the NURTURE_* settings as they are now."""
    return backend_for(load_settings())


def people(count: int, *extra: str) -> list[Recipient]:
    addresses = [f"lid{n}@example.nl" for n in range(count)] + list(extra)
    names = ["Anna", None, "Zoë & <Jan>", "Piet"]
    return [
        Recipient(100 + n, address, names[n % len(names)], delivery_id=7000 + n)
        for n, address in enumerate(addresses)
    ]


def test_one_request_carries_every_recipient_their_own_email(
    sendgrid_env: FakeSendGrid, course: Course
) -> None:
    bulk = renderer().lesson_bulk(course, 2, people(25))
    results = backend().send_bulk(bulk)
    [request] = sendgrid_env.accepted
    assert all(isinstance(r, SendResult) and r.message_id == request.message_id for r in results)
    received = {message["to"]: message for message in request.messages}
    for message in bulk.messages:
        got = received[message.to_email]
        assert (got["subject"], got["html"], got["text"]) == (
            message.subject,
            message.html,
            message.text,
        )
        assert got["headers"] == message.headers
        assert got["custom_args"] == custom_args(message.tags)
        assert got["name"] == message.to_name


def test_a_bad_address_fails_alone_and_the_others_are_sent(
    sendgrid_env: FakeSendGrid, course: Course
) -> None:
    # Our renderer accepts it; SendGrid refuses the whole request for one bad address.
    bulk = renderer().lesson_bulk(course, 1, people(4, "anna@localhost"))
    results = backend().send_bulk(bulk)
    assert all(isinstance(r, SendResult) for r in results[:4])
    refused = results[4]
    assert isinstance(refused, PermanentSendError) and refused.status == 400
    assert "personalizations.0.to.0.email" in str(refused)
    assert sendgrid_env.stats()["recipients"] == 4 and sendgrid_env.duplicates == 0
    # Halved on each 400: [0-4] refused, [0,1] sent, [2-4] refused, [2] sent, [3,4] refused,
    # [3] sent, and the culprit alone refused.
    assert sendgrid_env.refused[400] == 4
    assert len(sendgrid_env.accepted) == 3


def test_a_bad_address_in_a_large_batch_costs_a_few_requests_not_one_each(
    sendgrid_env: FakeSendGrid, course: Course
) -> None:
    recipients = people(499)
    recipients.insert(150, Recipient(999, "anna@localhost", "Anna", delivery_id=9999))
    bulk = renderer().lesson_bulk(course, 1, recipients)
    results = backend().send_bulk(bulk)
    refused = [n for n, result in enumerate(results) if not isinstance(result, SendResult)]
    assert refused == [150]
    assert sendgrid_env.stats()["recipients"] == 499 and sendgrid_env.duplicates == 0
    # Bisection: about two requests per halving (log2 500 < 9), not one per recipient.
    requests = len(sendgrid_env.accepted) + sendgrid_env.refused[400]
    assert requests <= 2 * 9 + 1, requests


def test_a_rate_limit_makes_every_recipient_retryable(
    sendgrid_env: FakeSendGrid, course: Course
) -> None:
    sendgrid_env.rate_limit_reset_seconds = 30
    sendgrid_env.script(429)
    results = backend().send_bulk(renderer().lesson_bulk(course, 1, people(6)))
    assert all(isinstance(r, RetryableSendError) and r.status == 429 for r in results)
    assert all(isinstance(r, RetryableSendError) and r.retry_after for r in results)
    assert sendgrid_env.accepted == []


def test_a_timeout_leaves_every_recipient_maybe_sent(
    sendgrid_env: FakeSendGrid, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NURTURE_SENDGRID_TIMEOUT", "0.2")
    sendgrid_env.latency = 1.0
    results = backend().send_bulk(renderer().lesson_bulk(course, 1, people(3)))
    assert all(isinstance(r, RetryableSendError) and r.maybe_sent for r in results)


def test_the_same_address_twice_goes_in_two_requests(
    sendgrid_env: FakeSendGrid, course: Course
) -> None:
    bulk = renderer().lesson_bulk(course, 1, people(3, "lid0@example.nl"))
    results = backend().send_bulk(bulk)
    assert all(isinstance(r, SendResult) for r in results)
    assert len(sendgrid_env.accepted) == 2 and sendgrid_env.stats()["recipients"] == 4


@pytest.mark.usefixtures("mail_env")
def test_the_outbox_writes_one_file_per_recipient(course: Course, tmp_path: Path) -> None:
    bulk = renderer().lesson_bulk(course, 3, people(5))
    outbox = backend()
    assert isinstance(outbox, OutboxBackend)
    results = outbox.send_bulk(bulk)
    assert all(isinstance(r, SendResult) for r in results)
    assert len({r.message_id for r in results if isinstance(r, SendResult)}) == 5
    assert len(list(Path(outbox.folder).glob("*.eml"))) == 5
