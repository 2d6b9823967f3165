"""The confirmation task on a real Celery worker, sending through the real `sendgrid` library to
the fake SendGrid server: one mail per pending person, retried after a 429, none when confirmed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_sendgrid import FakeSendGrid
from helpers import redis_fixture
from subscribers_support import WORKER_REDIS, make_client, signup_form, subscriber_by_email

from config import Settings, get_settings, reset_settings_cache
from emails.backends import reset_backend_cache
from store.clock import utcnow
from store.db import session_scope
from store.models import Subscriber, SubscriberStatus

API_KEY = "SG.fake-key-for-tests"


# The worker's broker lives on the Redis db reserved for Celery test workers.
redis_url = redis_fixture(WORKER_REDIS)


@pytest.fixture
def sendgrid(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSendGrid]:
    fake = FakeSendGrid(api_key=API_KEY, rate_limit_reset_seconds=1).start()
    monkeypatch.setenv("NURTURE_MAIL_BACKEND", "sendgrid")
    monkeypatch.setenv("NURTURE_SENDGRID_API_KEY", API_KEY)
    monkeypatch.setenv("NURTURE_SENDGRID_HOST", fake.url)
    reset_settings_cache()
    reset_backend_cache()
    yield fake
    fake.stop()
    reset_backend_cache()


@pytest.mark.slow
def test_confirmations_go_out_once_and_survive_a_429(
    settings: Settings, sendgrid: FakeSendGrid
) -> None:
    from workers import thread_worker, wait_until

    from tasks.confirmation import send_confirmation

    live = get_settings()
    assert live.mail_backend == "sendgrid"
    client = make_client(live)
    with session_scope() as session:
        session.add(
            Subscriber(
                email="al-bevestigd@example.com",
                status=SubscriberStatus.CONFIRMED,
                course_slug=live.course,
                created_at=utcnow(),
            )
        )
    confirmed = subscriber_by_email("al-bevestigd@example.com")
    assert confirmed is not None
    sendgrid.script(429)  # the first call is rate limited; the task must retry, not give up
    with thread_worker(concurrency=2):
        assert client.post("/subscribe", data=signup_form()).status_code == 200
        send_confirmation.delay(confirmed.id)
        assert wait_until(lambda: sendgrid.stats()["recipients"] >= 1, timeout=30)
        wait_until(lambda: False, timeout=2)  # room for a wrong extra send to show up
    stats = sendgrid.stats()
    assert stats["refused"] == {"429": 1}
    assert stats["duplicates"] == 0
    [accepted] = sendgrid.accepted
    [(to_email, args)] = accepted.recipients
    assert to_email == "anna.jansen@example.com"
    assert args.get("kind") == "confirmation"
