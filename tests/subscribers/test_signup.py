"""Signup: the page, form and JSON posts, duplicates, resend throttle, honeypot, races."""

from __future__ import annotations

import re

import pytest
from helpers import T0
from sqlalchemy import select
from subscribers_support import (
    ADDRESS,
    all_subscribers,
    confirmations_of,
    counter_value,
    queued_confirmations,
    signup_form,
    subscriber_by_email,
)

from config import Settings
from runtime import Runtime
from store.clock import FrozenClock
from store.models import Subscriber, SubscriberStatus
from subscribers import counters
from web import create_app


def test_signup_page_shows_the_course_and_an_accessible_form(client) -> None:
    response = client.get("/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Rugpijn en training" in page
    assert page.count("Dag ") >= 5 and "Dag 5" in page
    assert '<label for="email">' in page and '<label for="name">' in page
    assert 'id="consent"' in page and "Ik wil de gratis e-mailcursus" in page
    assert 'name="website" type="text" tabindex="-1" autocomplete="off"' in page
    assert 'aria-hidden="true"' in page
    # The CSP forbids inline code; the one script is our own file (the time zone field's).
    assert "style=" not in page
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/timezone.js" defer>']
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "same-origin"
    css = client.get("/static/style.css")
    assert css.status_code == 200 and b".hp-field" in css.data


def test_form_signup_stores_the_normalised_address_and_queues_one_confirmation(
    client, runtime: Runtime, redis_url: str, clock: FrozenClock
) -> None:
    response = client.post(
        "/subscribe",
        data=signup_form(email="  Anna.Jansen@EXAMPLE.com ", name="  Anna \t\n  Maria\x00 "),
    )
    assert response.status_code == 200
    assert "Check je inbox" in response.get_data(as_text=True)
    subscriber = subscriber_by_email(runtime, ADDRESS)
    assert subscriber is not None
    # The name waits on the confirmation email; it becomes the first name once confirmed.
    assert subscriber.first_name is None
    [confirmation] = confirmations_of(runtime, subscriber.id)
    assert confirmation.requested_name == "Anna Maria"
    assert subscriber.status == SubscriberStatus.PENDING
    assert subscriber.confirmation_sent_at == T0
    assert queued_confirmations(runtime, redis_url) == [subscriber.id]
    assert counter_value(runtime, counters.SIGNUPS) == 1


def test_json_signup_and_json_errors(client, runtime: Runtime) -> None:
    ok = client.post("/subscribe", json={"email": ADDRESS, "name": "Anna", "consent": True})
    assert ok.status_code == 200 and ok.json == {"status": "check_inbox"}
    bad = client.post("/subscribe", json={"email": "geen-adres", "consent": False, "name": 5})
    assert bad.status_code == 422
    assert set(bad.json["errors"]) == {"email", "consent", "name"}
    assert "e-mailadres" in bad.json["errors"]["email"]
    # A form post from a client that asks for JSON gets JSON too.
    accept = client.post("/subscribe", data={"email": ""}, headers={"Accept": "application/json"})
    assert accept.status_code == 422 and accept.json["errors"]["email"] == "Vul je e-mailadres in."
    assert [s.email for s in all_subscribers(runtime)] == [ADDRESS]


def test_form_errors_re_render_the_form_with_linked_dutch_messages(
    client, runtime: Runtime, redis_url: str
) -> None:
    response = client.post("/subscribe", data={"email": "anna@", "name": "Anna"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Dit e-mailadres klopt niet" in page
    assert "Vink het vakje aan" in page
    assert 'aria-describedby="email-error"' in page and 'id="email-error"' in page
    assert 'aria-invalid="true"' in page
    assert 'value="anna@"' in page and 'value="Anna"' in page  # the visitor's input stays
    assert all_subscribers(runtime) == []
    assert queued_confirmations(runtime, redis_url) == []


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("email=a@example.com&consent=on", "text/plain", 415),
        ("{not json", "application/json", 400),
        ("[1, 2]", "application/json", 422),
        ('"text"', "application/json", 422),
        ("<x/>", "application/xml", 415),
    ],
)
def test_wrong_content_is_refused_clearly(
    client, runtime: Runtime, body: str, content_type: str, status: int
) -> None:
    response = client.post("/subscribe", data=body, content_type=content_type)
    assert response.status_code == status
    text = response.get_data(as_text=True)
    assert "formulier" in text or "JSON" in text
    assert all_subscribers(runtime) == []


def test_resubmitting_creates_no_duplicate_and_resends_at_most_every_ten_minutes(
    client, runtime: Runtime, redis_url: str, clock: FrozenClock
) -> None:
    first = client.post("/subscribe", data=signup_form())
    again = client.post("/subscribe", data=signup_form(email=ADDRESS.upper()))
    assert first.get_data() == again.get_data()
    [subscriber] = all_subscribers(runtime)
    assert queued_confirmations(runtime, redis_url) == [subscriber.id]
    clock.advance(minutes=9, seconds=59)
    client.post("/subscribe", data=signup_form())
    assert queued_confirmations(runtime, redis_url) == [subscriber.id]
    clock.advance(seconds=1)
    client.post("/subscribe", data=signup_form())
    assert queued_confirmations(runtime, redis_url) == [subscriber.id, subscriber.id]
    assert len(all_subscribers(runtime)) == 1


def test_known_and_unknown_addresses_get_identical_answers(
    client, runtime: Runtime, redis_url: str, clock: FrozenClock
) -> None:
    client.post("/subscribe", data=signup_form())
    with runtime.session() as session:
        row = session.scalars(select(Subscriber)).one()
        row.status = SubscriberStatus.CONFIRMED
    known = client.post("/subscribe", data=signup_form())
    unknown = client.post("/subscribe", data=signup_form(email="nieuw@example.com"))
    assert known.status_code == unknown.status_code == 200
    assert known.get_data() == unknown.get_data()
    # The confirmed person gets no new mail; the new address gets its confirmation.
    new = subscriber_by_email(runtime, "nieuw@example.com")
    assert new is not None
    assert queued_confirmations(runtime, redis_url) == sorted([row.id, new.id])


def test_filled_honeypot_looks_like_success_but_stores_and_sends_nothing(
    client, runtime: Runtime, redis_url: str
) -> None:
    form = client.post("/subscribe", data=signup_form(website="http://spam.example"))
    real = client.post("/subscribe", data=signup_form(email="echt@example.com"))
    assert form.status_code == 200 and form.get_data() == real.get_data()
    as_json = client.post(
        "/subscribe", json={"email": "bot@example.com", "consent": True, "website": "x"}
    )
    assert as_json.json == {"status": "check_inbox"}
    assert [s.email for s in all_subscribers(runtime)] == ["echt@example.com"]
    assert len(queued_confirmations(runtime, redis_url)) == 1


def test_resubscribe_after_unsubscribe_needs_a_new_confirmation(
    client, runtime: Runtime, redis_url: str, clock: FrozenClock
) -> None:
    client.post("/subscribe", data=signup_form())
    with runtime.session() as session:
        row = session.scalars(select(Subscriber)).one()
        row.status = SubscriberStatus.UNSUBSCRIBED
        row.unsubscribed_at = T0
    clock.advance(hours=1)
    client.post("/subscribe", data=signup_form())
    subscriber = subscriber_by_email(runtime, ADDRESS)
    assert subscriber is not None
    # Until that confirmation is completed they stay unsubscribed, with the proof kept.
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED
    assert subscriber.unsubscribed_at == T0
    assert queued_confirmations(runtime, redis_url) == [subscriber.id, subscriber.id]


def test_a_complainer_is_never_mailed_again_and_sees_the_same_answer(
    client, runtime: Runtime, settings: Settings, redis_url: str, clock: FrozenClock
) -> None:
    with runtime.session() as session:
        session.add(
            Subscriber(
                email=ADDRESS,
                status=SubscriberStatus.SUPPRESSED,
                suppression_reason="spamreport",
                suppressed_at=T0,
                course_slug=settings.course,
                created_at=T0,
            )
        )
    clock.advance(days=30)
    response = client.post("/subscribe", data=signup_form())
    assert response.status_code == 200 and "Check je inbox" in response.get_data(as_text=True)
    subscriber = subscriber_by_email(runtime, ADDRESS)
    assert subscriber is not None and subscriber.status == SubscriberStatus.SUPPRESSED
    assert queued_confirmations(runtime, redis_url) == []


def test_simultaneous_signups_for_one_address_make_one_row_and_one_mail(
    runtime: Runtime, redis_url: str
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    app = create_app(runtime=runtime, RATELIMIT_ENABLED=False)
    variants = [ADDRESS, ADDRESS.upper(), f" {ADDRESS} ", ADDRESS.title()] * 4

    def submit(address: str) -> int:
        return app.test_client().post("/subscribe", data=signup_form(email=address)).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(submit, variants))
    assert statuses == [200] * len(variants)
    [subscriber] = all_subscribers(runtime)
    assert queued_confirmations(runtime, redis_url) == [subscriber.id]
    assert counter_value(runtime, counters.SIGNUPS) == 1


def test_oversized_posts_and_stray_gets_get_dutch_answers(client, runtime: Runtime) -> None:
    huge = client.post(
        "/subscribe", data={"email": ADDRESS, "consent": "on", "name": "x" * 2_000_000}
    )
    assert huge.status_code == 413
    assert "te groot" in huge.get_data(as_text=True)
    huge_json = client.post(
        "/subscribe", data="[" + "1," * 600_000 + "1]", content_type="application/json"
    )
    assert huge_json.status_code == 413 and "body" in huge_json.json["errors"]
    stray = client.get("/subscribe")
    assert stray.status_code == 303 and stray.headers["Location"].endswith("/")
    assert all_subscribers(runtime) == []
