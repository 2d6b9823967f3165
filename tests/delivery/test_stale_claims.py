"""Stale claims: a send whose worker vanished after the provider took it is settled by evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lessons import Recorder, deliveries_of, dispatch_pass, enroll, enrollment_of
from sqlalchemy import insert, select, update

from store.models import Delivery, DeliveryState, EmailEvent, Enrollment, WebhookBatch

START = datetime(2026, 3, 27, 6, 30, tzinfo=UTC)


@pytest.fixture
def at_start(clock):
    clock.set(START)
    return clock


def _claim_stale(runtime, subscriber_id: int, claimed_at: datetime) -> int:
    [delivery] = deliveries_of(runtime, subscriber_id)
    with runtime.session() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery.id)
            .values(state=DeliveryState.SENDING, claimed_at=claimed_at, attempts=1)
        )
    return delivery.id


def test_stale_claim_with_processed_evidence_is_marked_sent(runtime, settings, at_start):
    clock = at_start
    [evidenced, silent] = enroll(runtime, 2, START)
    dispatch_pass(runtime, Recorder())
    evidenced_id = _claim_stale(runtime, evidenced, START)
    silent_id = _claim_stale(runtime, silent, START)
    # SendGrid's signed 'processed' event for the first one, stored by the webhook.
    with runtime.session() as session:
        session.execute(
            insert(WebhookBatch).values(
                body=[
                    {
                        "event": "processed",
                        "email": "lezer0@example.org",
                        "timestamp": int((START + timedelta(seconds=1)).timestamp()),
                        "sg_event_id": "evt-processed-1",
                        "sg_message_id": "msg-1.filter",
                        "delivery_id": str(evidenced_id),
                        "course": "rugpijn-en-training",
                        "day": "1",
                    }
                ],
                received_at=START,
            )
        )
    clock.advance(seconds=settings.claim_timeout_seconds + 1)
    recorder = Recorder()
    report = dispatch_pass(runtime, recorder)

    assert report.evidence_batches == 1
    assert report.sent_by_evidence == 1
    assert report.requeued_stale == 0
    sent = deliveries_of(runtime, evidenced)[0]
    assert sent.state == DeliveryState.SENT
    assert sent.sent_at == START + timedelta(seconds=1)
    enrollment = enrollment_of(runtime, evidenced)
    assert enrollment.next_day == 2
    assert enrollment.next_due_at is not None and enrollment.next_due_at > START
    # Without evidence the claim waits out the grace period, then is sent again once.
    assert deliveries_of(runtime, silent)[0].state == DeliveryState.SENDING
    assert recorder.ids == []
    clock.advance(seconds=settings.evidence_grace_seconds)
    report = dispatch_pass(runtime, recorder)
    assert report.requeued_stale == 1
    assert recorder.ids == [silent_id]
    assert deliveries_of(runtime, silent)[0].state == DeliveryState.QUEUED
    assert enrollment_of(runtime, silent).next_day == 1
    with runtime.session() as session:
        kinds = session.scalars(
            select(EmailEvent.kind).where(EmailEvent.delivery_id == evidenced_id)
        )
        assert list(kinds) == ["processed"]
        assert session.get(Enrollment, enrollment.id).next_day == 2
