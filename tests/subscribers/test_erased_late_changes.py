"""What an erased person's old links can still do after `forget`: nothing, said in Dutch.

The preferences page of an old lesson says their data was erased and changes nothing: no
pause, hour, restart or unsubscribe, no reason or comment kept, no consent entry. An old
confirm link confirms nobody: not the erased row, nor the new one a later signup with the
same address makes. A confirmation email still waiting (or failed, and retried by hand)
goes nowhere. Played as an ordering on both databases; the overlap on PostgreSQL is in
tests/tracking/test_erasure_answer_locks.py.
"""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from erasure_support import forget
from sqlalchemy import func, select, update
from subscribers_support import (
    ADDRESS,
    confirm_path,
    consent_events,
    counter_value,
    latest_confirmation,
    mark_sent,
    outbox_mails,
    signup_form,
    subscriber_by_email,
)
from tracking_support import make_subscriber

from cli.main import cli
from config import Settings
from delivery.sender import Sender
from runtime import Runtime
from store.clock import FrozenClock
from store.models import (
    Delivery,
    DeliveryState,
    Enrollment,
    PreferenceEvent,
    Subscriber,
    SubscriberStatus,
)
from subscribers import counters
from subscribers.validation import TIMEZONE_FIELD
from web.preferences import ERASED

CHANGES = {
    "pauze": {"duur": "week"},
    "hervatten": {},
    "tijdstip": {"moment": "noon", TIMEZONE_FIELD: "Europe/Amsterdam"},
    "opnieuw": {},
    "uitschrijven": {"reden": "past-niet", "toelichting": "Ik ben zwanger (Anna, 31)."},
}


def status_of(runtime: Runtime, subscriber_id: int) -> str:
    with runtime.session() as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None
        return row.status


def preference_events(runtime: Runtime, subscriber_id: int) -> list[tuple[str, str | None]]:
    with runtime.session() as session:
        query = select(PreferenceEvent).where(PreferenceEvent.subscriber_id == subscriber_id)
        return [(e.kind, e.comment) for e in session.scalars(query.order_by(PreferenceEvent.id))]


def enrollments_of(runtime: Runtime, subscriber_id: int) -> int:
    with runtime.session() as session:
        query = select(func.count()).where(Enrollment.subscriber_id == subscriber_id)
        return int(session.scalar(query) or 0)


def test_the_preferences_page_of_an_erased_reader_says_so_and_changes_nothing(
    client: Any, runtime: Runtime
) -> None:
    anna = make_subscriber(runtime, ADDRESS).subscriber_id
    token = runtime.tokens.make_preferences(anna)
    assert client.get(f"/voorkeuren/{token}").status_code == 200
    assert forget(runtime).exit_code == 0
    consent_before = len(consent_events(runtime, anna))

    page = client.get(f"/voorkeuren/{token}")
    assert page.status_code == 410
    assert ERASED in page.get_data(as_text=True) and "gewist" in ERASED
    for action, form in CHANGES.items():
        response = client.post(f"/voorkeuren/{token}/{action}", data=form)
        assert response.status_code == 410, action
        assert ERASED in response.get_data(as_text=True), action
    assert status_of(runtime, anna) == SubscriberStatus.FORGOTTEN
    assert preference_events(runtime, anna) == []
    assert len(consent_events(runtime, anna)) == consent_before
    assert counter_value(runtime, counters.UNSUBSCRIBES) == 0


def _signed_up(client: Any, runtime: Runtime) -> int:
    assert client.post("/subscribe", data=signup_form()).status_code == 200
    subscriber = subscriber_by_email(runtime, ADDRESS)
    assert subscriber is not None
    return subscriber.id


def test_an_old_confirm_link_confirms_neither_the_erased_signup_nor_a_new_one(
    client: Any, runtime: Runtime, clock: FrozenClock
) -> None:
    erased = _signed_up(client, runtime)
    mark_sent(runtime, latest_confirmation(runtime, erased).id)
    old_link = confirm_path(runtime, erased)
    assert forget(runtime).exit_code == 0
    history = [event.kind for event in consent_events(runtime, erased)]

    for answer in (client.get(old_link), client.post(old_link)):
        assert answer.status_code == 400
        assert "Deze link werkt niet" in answer.get_data(as_text=True)
    # The address is free: a new signup is a new person, who must confirm their own link.
    clock.advance(minutes=5)
    again = _signed_up(client, runtime)
    assert again != erased
    mark_sent(runtime, latest_confirmation(runtime, again).id)
    assert client.post(old_link).status_code == 400
    assert status_of(runtime, again) == SubscriberStatus.PENDING
    assert client.post(confirm_path(runtime, again)).status_code == 200
    assert status_of(runtime, again) == SubscriberStatus.CONFIRMED
    # The erased row stays as the erase left it: anonymous, no enrollment, no new consent.
    assert status_of(runtime, erased) == SubscriberStatus.FORGOTTEN
    assert enrollments_of(runtime, erased) == 0
    assert [event.kind for event in consent_events(runtime, erased)] == history
    assert counter_value(runtime, counters.CONFIRMATIONS) == 1


def test_a_confirmation_waiting_or_retried_after_forget_goes_nowhere(
    client: Any, runtime: Runtime, settings: Settings
) -> None:
    erased = _signed_up(client, runtime)
    waiting = latest_confirmation(runtime, erased).id
    assert forget(runtime).exit_code == 0
    assert Sender(runtime).deliver(waiting) == "not-claimed"  # the erase skipped it

    # One the provider had refused, re-queued by hand after the erase, is skipped when due.
    with runtime.session() as session:
        session.execute(
            update(Delivery).where(Delivery.id == waiting).values(state=DeliveryState.FAILED)
        )
    retried = CliRunner().invoke(
        cli, ["deliveries", "retry", "--id", str(waiting)], obj={"runtime": runtime}
    )
    assert retried.exit_code == 0, retried.output
    assert Sender(runtime).deliver(waiting) == "skipped"
    assert outbox_mails(settings) == []
    assert status_of(runtime, erased) == SubscriberStatus.FORGOTTEN
