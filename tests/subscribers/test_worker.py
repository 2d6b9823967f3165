"""The confirmation email on a real Celery worker, sent through the real `sendgrid` library to
the fake SendGrid server: one mail per pending person, retried after a 429, none when confirmed.

A confirmation is a delivery row now: a 429 puts it back in the database with a backoff, and
the dispatcher's next pass after that moment hands it to a worker again.
"""

from __future__ import annotations

from typing import Any

import pytest
from fake_sendgrid import FakeSendGrid
from helpers import wait_until
from subscribers_support import ADDRESS, confirmations_of, signup_form, subscriber_by_email
from workers import thread_worker

from config import Settings
from delivery.transitions import queue_confirmation
from runtime import Runtime
from store.clock import FrozenClock
from store.models import Delivery, DeliveryState, Subscriber, SubscriberStatus
from tasks.dispatch import dispatch_once
from tasks.sending import send_batch


def _state(runtime: Runtime, delivery_id: int) -> Delivery:
    with runtime.session() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        return delivery


@pytest.mark.slow
def test_confirmations_go_out_once_and_survive_a_429(
    settings: Settings,
    runtime: Runtime,
    client: Any,
    fake_sendgrid: FakeSendGrid,
    clock: FrozenClock,
) -> None:
    assert settings.mail_backend == "sendgrid"
    fake_sendgrid.rate_limit_reset_seconds = 1
    with runtime.session() as session:
        confirmed = Subscriber(
            email="al-bevestigd@example.com",
            status=SubscriberStatus.CONFIRMED,
            course_slug=settings.course,
            created_at=runtime.now(),
        )
        session.add(confirmed)
        session.flush()
        # A confirmation email for someone who has confirmed since: it must not go out.
        needless = queue_confirmation(session, confirmed.id, confirmed.course_slug, runtime.now())
    assert subscriber_by_email(runtime, "al-bevestigd@example.com") is not None
    fake_sendgrid.script(429)  # the first call is rate limited; it must be retried, not dropped
    with thread_worker(runtime, concurrency=2):
        assert client.post("/subscribe", data=signup_form()).status_code == 200
        send_batch.delay([needless])
        subscriber = subscriber_by_email(runtime, ADDRESS)
        assert subscriber is not None
        [confirmation] = confirmations_of(runtime, subscriber.id)
        # The 429 puts it back in the database, to be tried again after SendGrid's reset.
        assert wait_until(
            lambda: (
                _state(runtime, confirmation.id).attempts == 1
                and _state(runtime, confirmation.id).state == DeliveryState.QUEUED
            ),
            timeout=30,
        )
        waiting = _state(runtime, confirmation.id)
        assert waiting.last_error is not None and "429" in waiting.last_error
        assert waiting.not_before is not None
        assert waiting.not_before > clock.current  # at least SendGrid's reset, a second on
        assert dispatch_once(runtime).enqueued == 0  # not due before its backoff ends
        clock.set(waiting.not_before)
        assert dispatch_once(runtime).enqueued == 1
        assert wait_until(lambda: fake_sendgrid.stats()["recipients"] >= 1, timeout=30)
        assert wait_until(
            lambda: _state(runtime, confirmation.id).state == DeliveryState.SENT, timeout=10
        )
        wait_until(lambda: False, timeout=2)  # room for a wrong extra send to show up
    stats = fake_sendgrid.stats()
    assert stats["refused"] == {"429": 1}
    assert stats["duplicates"] == 0
    [accepted] = fake_sendgrid.accepted
    [(to_email, args)] = accepted.recipients
    assert to_email == "anna.jansen@example.com"
    assert args.get("kind") == "confirmation"
    assert args.get("delivery_id") == str(confirmation.id)
    sent = _state(runtime, confirmation.id)
    assert (sent.state, sent.attempts) == (DeliveryState.SENT, 2)
    assert _state(runtime, needless).state == DeliveryState.SKIPPED
