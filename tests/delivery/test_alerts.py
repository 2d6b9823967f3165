"""The clinic hears about trouble: each condition on the frozen clock, once a day, by email.

The conditions are computed from rows written directly (sent mail, events, failures); the
alert emails go through the real send path to the fake SendGrid (one test through the real
Celery worker and beat's task), and wait in the database while SendGrid is down.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from alerts_support import ALERT_EMAIL, admin_headers, alert_rows, events, sent_mail
from helpers import T0, wait_until

from delivery.alerts import send_due_alerts
from store.models import AlertState, Delivery, DeliveryKind, DeliveryState
from subscribers.service import subscribe
from subscribers.validation import Signup
from tasks.alert_conditions import current_conditions
from tasks.alerts import watch, watch_once
from tasks.heartbeat import record_dispatch_pass
from web import create_app


@pytest.fixture
def alerting(configure, make_runtime, fake_sendgrid, clock):
    """A runtime mailing alerts to ALERT_EMAIL through the fake SendGrid, dispatcher alive."""
    runtime = make_runtime(configure(alert_email=ALERT_EMAIL))
    record_dispatch_pass(runtime)
    return runtime


def keys(runtime) -> set[str]:
    return {condition.key for condition in current_conditions(runtime)}


def alert_mails(fake) -> list[dict]:
    return [m for r in fake.accepted for m in r.messages if m["to"] == ALERT_EMAIL]


def test_complaints_over_a_tenth_of_a_percent_in_seven_days(alerting, clock):
    runtime = alerting
    subscribers = sent_mail(runtime, 1000, T0)
    events(runtime, "spamreport", subscribers[:1], T0)
    assert "complaints" not in keys(runtime)  # 0.1% exactly does not pass it
    events(runtime, "spamreport", subscribers[1:2], T0 + timedelta(hours=1))
    events(runtime, "spamreport", subscribers[1:2], T0 + timedelta(hours=2))  # same reader
    clock.advance(hours=3)
    [complaints] = [c for c in current_conditions(runtime) if c.key == "complaints"]
    assert "2 spamklachten op 1000 verzonden e-mails" in complaints.detail
    assert "(0,20%)" in complaints.detail
    clock.advance(days=7)
    assert "complaints" not in keys(runtime)  # the week has passed


def test_bounces_over_two_percent_in_seven_days(alerting, clock):
    runtime = alerting
    subscribers = sent_mail(runtime, 500, T0)
    events(runtime, "bounce", subscribers[:10], T0)
    assert "bounces" not in keys(runtime)  # 2.00% does not pass 2%
    events(runtime, "dropped", subscribers[10:11], T0)
    assert "bounces" in keys(runtime)
    clock.advance(days=8)
    assert "bounces" not in keys(runtime)


def test_webhook_silent_for_a_day_while_mail_goes_out(alerting, clock, signer):
    runtime = alerting
    sent_mail(runtime, 3, T0)
    sent_mail(runtime, 3, T0 + timedelta(hours=20))
    clock.advance(hours=23)
    assert "webhook_silent" not in keys(runtime)
    clock.advance(hours=2)
    assert "webhook_silent" in keys(runtime)  # never an event, first mail 25 h ago
    # An event arrives: the webhook works.
    body = json.dumps([{"event": "delivered", "sg_event_id": "e1", "timestamp": 1}]).encode()
    client = create_app(runtime=runtime).test_client()
    headers = signer.headers(body, int(clock().timestamp()))
    assert client.post("/webhooks/sendgrid", data=body, headers=headers).status_code < 300
    assert "webhook_silent" not in keys(runtime)
    # Quiet because nothing was sent is no trouble either.
    clock.advance(days=2)
    assert "webhook_silent" not in keys(runtime)


def test_dispatcher_not_run_for_five_minutes(alerting, clock):
    runtime = alerting
    clock.advance(minutes=5)
    assert "dispatcher_stopped" not in keys(runtime)
    clock.advance(seconds=1)
    [stopped] = [c for c in current_conditions(runtime) if c.key == "dispatcher_stopped"]
    assert "5 minuten niet gelopen" in stopped.detail
    record_dispatch_pass(runtime)
    assert "dispatcher_stopped" not in keys(runtime)


def test_a_service_that_never_ran_its_dispatcher_counts_from_the_first_look(
    configure, make_runtime, clock
):
    runtime = make_runtime(configure(alert_email=ALERT_EMAIL))
    assert "dispatcher_stopped" not in keys(runtime)  # just started: give it five minutes
    clock.advance(minutes=6)
    assert "dispatcher_stopped" in keys(runtime)


def test_a_delivery_failed_for_good(alerting, clock):
    runtime = alerting
    sent_mail(runtime, 2, T0, state=DeliveryState.FAILED)
    [failed] = [c for c in current_conditions(runtime) if c.key == "delivery_failed"]
    assert failed.detail.startswith("2 e-mails zijn de afgelopen 24 uur definitief mislukt")
    clock.advance(days=1, seconds=1)
    assert "delivery_failed" not in keys(runtime)


def test_confirmations_held_back_by_the_hourly_cap(configure, make_runtime, fake_sendgrid, clock):
    runtime = make_runtime(configure(alert_email=ALERT_EMAIL, confirmations_per_hour=1))
    record_dispatch_pass(runtime)
    for n in range(2):
        with runtime.session() as session:
            subscribe(runtime, session, Signup(email=f"p{n}@example.org", first_name="Piet"))
    [held] = [c for c in current_conditions(runtime) if c.key == "confirmations_held"]
    assert held.detail.startswith("1 bevestigingsmail wacht:")
    clock.advance(hours=1)
    assert "confirmations_held" not in keys(runtime)


def test_one_email_per_condition_and_day_through_the_worker(
    alerting, fake_sendgrid, clock, celery_worker
):
    runtime = alerting
    sent_mail(runtime, 1, T0, state=DeliveryState.FAILED)
    for _ in range(3):
        watch.delay()
    assert wait_until(lambda: [a.state for a in alert_rows(runtime)] == [AlertState.SENT], 20)
    for _ in range(3):  # the same day: nothing new
        record_dispatch_pass(runtime)
        watch_once(runtime)
    [mail] = alert_mails(fake_sendgrid)
    assert mail["subject"] == "Let op: E-mails definitief mislukt"
    assert "1 e-mail is de afgelopen 24 uur definitief mislukt" in mail["text"]
    assert "http://nurture.test/admin" in mail["text"]
    assert mail["custom_args"]["kind"] == "alert"

    clock.advance(days=1)  # still failing the next day (a new failure): one more email
    sent_mail(runtime, 1, clock(), state=DeliveryState.FAILED)
    record_dispatch_pass(runtime)
    watch_once(runtime)
    watch_once(runtime)
    assert [a.day for a in alert_rows(runtime)] == ["2026-03-02", "2026-03-03"]
    assert len(alert_mails(fake_sendgrid)) == 2


def test_an_alert_waits_while_sendgrid_is_down_and_is_not_lost(alerting, fake_sendgrid, clock):
    runtime = alerting
    sent_mail(runtime, 1, T0, state=DeliveryState.FAILED)
    fake_sendgrid.go_down(503)
    watch_once(runtime)
    [alert] = alert_rows(runtime)
    assert (alert.state, alert.attempts) == (AlertState.QUEUED, 1)
    assert "503" in (alert.last_error or "")
    fake_sendgrid.recover()
    clock.set(alert.not_before)
    record_dispatch_pass(runtime)
    assert send_due_alerts(runtime) == {"sent": 1}
    assert [a.state for a in alert_rows(runtime)] == [AlertState.SENT]
    assert len(alert_mails(fake_sendgrid)) == 1


def test_without_an_alert_address_only_the_banners_show(configure, make_runtime, client, clock):
    runtime = make_runtime(configure())
    record_dispatch_pass(runtime)
    sent_mail(runtime, 1, T0, state=DeliveryState.FAILED)
    assert watch_once(runtime).conditions == ["delivery_failed"]
    assert alert_rows(runtime) == []


def test_the_dashboard_shows_each_condition_as_a_banner(runtime, client, clock):
    record_dispatch_pass(runtime)
    page = client.get("/admin", headers=admin_headers()).get_data(as_text=True)
    assert 'id="alert-' not in page
    sent_mail(runtime, 1, T0, state=DeliveryState.FAILED)
    clock.advance(minutes=10)
    page = client.get("/admin", headers=admin_headers()).get_data(as_text=True)
    assert 'id="alert-delivery_failed"' in page and 'id="alert-dispatcher_stopped"' in page
    assert "E-mails definitief mislukt" in page and "De verzendplanner draait niet" in page


def test_a_closing_delivery_is_no_lesson_for_the_rates(alerting):
    # Mail sent counts every kind: a closing email is mail that can be complained about.
    runtime = alerting
    [subscriber] = sent_mail(runtime, 1, T0)
    with runtime.session() as session:
        session.add(
            Delivery(
                kind=DeliveryKind.CLOSING,
                subscriber_id=subscriber,
                course_slug="rugpijn-en-training",
                day=-1,
                state=DeliveryState.SENT,
                created_at=T0,
                not_before=T0,
                sent_at=T0,
            )
        )
    events(runtime, "spamreport", [subscriber], T0)
    [complaints] = [c for c in current_conditions(runtime) if c.key == "complaints"]
    assert "op 2 verzonden e-mails" in complaints.detail
