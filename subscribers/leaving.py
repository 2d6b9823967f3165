"""Leaving from the preferences page: stop all mail, with the reason and comment the reader gave.

The reason and comment go to the preference history (the dashboard counts reasons per
lesson); the opt-out itself to the consent history (subscribers.service.unsubscribe). An
erased reader's link changes nothing and stores nothing (subscribers.preferences.Erased).
Nothing here commits: the caller's `runtime.session()` makes one transaction of it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from delivery.preference_log import PAGE, record_preference
from runtime import Runtime
from store.models import PreferenceEventKind, SubscriberStatus
from subscribers.preferences import PreferenceError, held_subscriber
from subscribers.service import unsubscribe
from subscribers.validation import clean_name

# Why a reader leaves (the dashboard counts them per lesson); the labels are what they see.
REASONS = {
    "te-veel": "Ik krijg te veel e-mails",
    "past-niet": "De inhoud past niet bij mij",
    "geholpen": "Ik heb gevonden wat ik zocht",
    "niet-aangemeld": "Ik heb me niet aangemeld",
    "anders": "Een andere reden",
}
COMMENT_MAX_CHARS = 1000


def unsubscribe_with_reason(
    runtime: Runtime,
    session: Session,
    subscriber_id: int,
    *,
    reason: str | None,
    comment: str | None,
    ip: str | None,
    source: str,
) -> bool:
    """Stop all mail (a consent event) and keep the optional REASON and COMMENT; False: unknown.

    Raises PreferenceError for an unknown REASON, and Erased for an erased reader.
    """
    if reason and reason not in REASONS:
        raise PreferenceError("reason")
    # Line breaks become spaces (clean_name drops control characters, joining the words).
    words = comment[: COMMENT_MAX_CHARS * 4].split() if comment else []
    text = clean_name(" ".join(words), COMMENT_MAX_CHARS) if words else None
    # First: an erase under way finishes before we read who this is (store.erasure_lock).
    subscriber = held_subscriber(session, subscriber_id)
    if subscriber is None:
        return False
    if (reason or text) and subscriber.status in (
        SubscriberStatus.PENDING,
        SubscriberStatus.CONFIRMED,
    ):
        record_preference(
            session,
            subscriber.id,
            subscriber.course_slug,
            PreferenceEventKind.UNSUBSCRIBE_REASON,
            PAGE,
            runtime.now(),
            value=reason or "",
            comment=text,
        )
    return unsubscribe(runtime, session, subscriber_id, source=source, ip=ip)
