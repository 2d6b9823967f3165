"""Record a reader's answer to "Was deze les nuttig?" and their comment, scanners left out.

Why the answer is recorded on the page's POST, not on the link's GET: mail scanners fetch
every link in a mail, "Ja" and "Nee" alike, so a GET that recorded would let a scanner rate
every lesson of every reader it protects (and, with the last answer counting, at random). The
link opens a thank-you page; its own script posts the answer at once (one click for the
reader), and without scripts the page's button does. The POST is judged like a click
(tracking.classify.is_machine_click), since sandboxes that run scripts exist: a scanner's
user agent or network, or a POST within NURTURE_MACHINE_CLICK_SECONDS of delivery, records
nothing; nor does the other answer within a second of the first (both links walked), nor a
POST from the user agent whose visit of the page was judged a scanner's (tracking.clicks:
several links within a second, the trap). A visit judged so only after the POST (hits are
stored a second or two later) takes back the answers posted around it (drop_scanned_ratings).
The page looks the same either way, so a scanner learns nothing.

One row per reader and lesson: a later answer replaces the earlier one, a comment is kept
until a newer one is written.

An erased ("forgotten") reader's old links record nothing (ERASED), and the page says so. A
vote and an erase never overlap (store.erasure_lock): a vote posted while an erase runs
waits for it and then finds the reader forgotten; an erase waits for a vote under way and
then unlinks it and deletes its comment, as it does with every earlier one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from runtime import Runtime
from store.erasure_lock import hold_for_recording
from store.models import (
    Delivery,
    DeliveryKind,
    EmailEvent,
    LessonRating,
    Subscriber,
    SubscriberStatus,
)
from tracking.classify import USER_AGENT_LIMIT, in_networks, is_machine_click

COMMENT_MAX_CHARS = 2000
# EmailEvent.source of a rating page's visit (its GET, stored as a click of the email).
RATING_SOURCE = "rating"
# A scanner's visit of the rating page and the POST its script makes: this far apart at most.
SCANNED_VISIT_SECONDS = 60
# A visit judged a scanner's after the fact takes back answers posted this close to it.
SCANNED_ANSWER_SECONDS = 5
# The other answer this soon after the last one: a scanner fetched both links.
BOTH_ANSWERS_SECONDS = 1.0

RECORDED = "recorded"
MACHINE = "machine"
UNKNOWN = "unknown"
ERASED = "erased"  # the reader was erased: nothing may link back to them

# What a reader can rate: a lesson, and (by the closing email) the whole course.
RATED_KINDS = (DeliveryKind.LESSON, DeliveryKind.CLOSING)


@dataclass(frozen=True)
class RatedLesson:
    """The lesson a rating link belongs to, for its page."""

    delivery_id: int
    course_slug: str
    day: int
    erased: bool = False  # its reader was erased: the page says so, and records nothing


@dataclass(frozen=True)
class Vote:
    """One POST of the rating page: the answer, the comment, and who sent it."""

    useful: bool
    comment: str
    user_agent: str | None
    client: str | None


def clean_comment(text: str | None) -> str:
    """Return the comment as stored: trimmed, plain newlines, no NUL (PostgreSQL refuses it)."""
    return (text or "").replace("\x00", "").replace("\r\n", "\n").strip()


def rated_lesson(session: Session, delivery_id: int) -> RatedLesson | None:
    """Return the lesson DELIVERY_ID sent, or None when it is no (longer a) lesson of anyone."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.kind not in RATED_KINDS or delivery.subscriber_id is None:
        return None
    status = session.scalar(
        select(Subscriber.status).where(Subscriber.id == delivery.subscriber_id)
    )
    erased = status == SubscriberStatus.FORGOTTEN
    return RatedLesson(delivery.id, delivery.course_slug, delivery.day, erased)


def _is_machine(
    runtime: Runtime, session: Session, delivery: Delivery, vote: Vote, now: datetime
) -> bool:
    networks = [ipaddress.ip_network(n) for n in runtime.settings.scanner_networks]
    scanned_visit = session.scalar(
        select(EmailEvent.id)
        .where(
            EmailEvent.delivery_id == delivery.id,
            EmailEvent.kind == "click",
            EmailEvent.source == RATING_SOURCE,
            EmailEvent.machine.is_(True),
            EmailEvent.user_agent == (vote.user_agent or "")[:USER_AGENT_LIMIT],
            EmailEvent.occurred_at >= now - timedelta(seconds=SCANNED_VISIT_SECONDS),
        )
        .limit(1)
    )
    return scanned_visit is not None or is_machine_click(
        vote.user_agent,
        now,
        delivery.delivered_at or delivery.sent_at,
        within_seconds=runtime.settings.machine_click_seconds,
        scanner_network=in_networks(vote.client, networks),
    )


def record_vote(runtime: Runtime, session: Session, delivery_id: int, vote: Vote) -> str:
    """Record VOTE for the lesson of DELIVERY_ID; return RECORDED, MACHINE, UNKNOWN or ERASED.

    Call it first in the transaction: it takes the erasure lock before any row lock.
    """
    # First: an erase under way finishes before we read whose lesson this is.
    hold_for_recording(session)
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.kind not in RATED_KINDS or delivery.subscriber_id is None:
        return UNKNOWN
    subscriber = session.get(Subscriber, delivery.subscriber_id)
    if subscriber is None:
        return UNKNOWN
    if subscriber.status == SubscriberStatus.FORGOTTEN:
        return ERASED  # an old mail of a forgotten person: nothing may link back to them
    now = runtime.now()
    if _is_machine(runtime, session, delivery, vote, now):
        return MACHINE
    comment = clean_comment(vote.comment)[:COMMENT_MAX_CHARS]
    for _attempt in range(2):
        rating = session.scalar(
            select(LessonRating)
            .where(
                LessonRating.subscriber_id == subscriber.id,
                LessonRating.course_slug == delivery.course_slug,
                LessonRating.day == delivery.day,
            )
            .with_for_update()
        )
        if rating is not None:
            return _update(session, rating, delivery, vote.useful, comment, now)
        try:
            with session.begin_nested():
                session.add(
                    LessonRating(
                        subscriber_id=subscriber.id,
                        delivery_id=delivery.id,
                        course_slug=delivery.course_slug,
                        day=delivery.day,
                        useful=vote.useful,
                        comment=comment or None,
                        rated_at=now,
                        commented_at=now if comment else None,
                    )
                )
            return RECORDED
        except IntegrityError:
            continue  # the same reader's other tab inserted first: update theirs
    return UNKNOWN


def _update(
    session: Session,
    rating: LessonRating,
    delivery: Delivery,
    useful: bool,
    comment: str,
    now: datetime,
) -> str:
    if (
        rating.useful != useful
        and not comment
        and abs((now - rating.rated_at).total_seconds()) <= BOTH_ANSWERS_SECONDS
    ):
        # "Ja" and "Nee" within a second: a scanner walked both links. Its first answer goes.
        if rating.comment is None:
            session.delete(rating)
        return MACHINE
    rating.useful = useful
    rating.delivery_id = delivery.id
    rating.rated_at = now
    if comment:
        rating.comment = comment
        rating.commented_at = now
    return RECORDED


def drop_scanned_ratings(session: Session, visits: Sequence[tuple[int, datetime]]) -> int:
    """Take back uncommented answers posted around rating-page VISITS judged a scanner's.

    VISITS are (delivery id, time). Return how many answers were taken back.
    """
    if not visits:
        return 0
    window = timedelta(seconds=SCANNED_ANSWER_SECONDS)
    around = or_(
        *(
            and_(
                LessonRating.delivery_id == delivery_id,
                LessonRating.rated_at >= moment - window,
                LessonRating.rated_at <= moment + window,
            )
            for delivery_id, moment in visits
        )
    )
    result = session.execute(
        delete(LessonRating)
        .where(around, LessonRating.comment.is_(None))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
