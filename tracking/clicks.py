"""Judge clicks: the call to action, the trap link, and scanners across a lesson's clicks.

One click alone is judged by tracking.classify.is_machine_click (user agent, scanner network,
seconds after delivery). Two patterns only show across the clicks of one email, and the hits
of one scan may be stored in different drains, in any order; so after each store, the clicks
of every email that got a new one are judged again together, and any that a pattern now
convicts become machine clicks (never the other way):
- several different links of one email within BURST_SECONDS: a scanner walking the mail;
- the trap link, which no person sees: it convicts itself and the clicks of that email from
  the same user agent within TRAP_WINDOW_SECONDS.
A rating-page visit convicted so takes back the answer its script posted (tracking.ratings).
A delivery's `clicks` counter counts human clicks, so a click turned machine takes one off.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from course.loader import CourseError
from delivery.engagement import Engagement, add_engagement
from emails.lesson_links import is_rating, is_trap
from runtime import Runtime
from store.models import EmailEvent
from tracking.classify import is_machine_click
from tracking.ratings import RATING_SOURCE, drop_scanned_ratings
from tracking.record import NewEvent

BURST_SECONDS = 1.0
TRAP_WINDOW_SECONDS = 60.0
# A hit's flags (its seventh field, tracking.hits): the client's IP is in
# NURTURE_SCANNER_NETWORKS; the link was the email's call-to-action button.
SCANNER_NETWORK = "n"
CTA_BUTTON = "c"
# EmailEvent.source of a click, by what was clicked.
LINK, CTA, TRAP, RATING = "link", "cta", "trap", RATING_SOURCE


def click_source(
    runtime: Runtime, course_slug: str | None, url: str | None, *, cta: bool = False
) -> str:
    """Say what URL is in a lesson of COURSE_SLUG: the call to action, the trap, or a link.

    CTA says the link was the email's call-to-action button; a link in the lesson text to
    the same booking page is the same call to action.
    """
    if cta:
        return CTA
    if is_trap(url):
        return TRAP
    if is_rating(url):
        return RATING
    try:
        cta_url = runtime.courses.get(course_slug).cta_url if course_slug else None
    except (CourseError, OSError):
        return LINK  # a course removed since: its clicks still count, as plain links
    return CTA if url and url == cta_url else LINK


def judge_click(
    runtime: Runtime,
    delivery: Any,
    user_agent: str | None,
    url: str | None,
    clicked_at: datetime,
    flags: str,
) -> tuple[bool, str]:
    """Return (machine, source) for one click of DELIVERY (a row of DELIVERY_COLUMNS).

    FLAGS are the hit's (tracking.hits): SCANNER_NETWORK, CTA_BUTTON.
    """
    source = click_source(runtime, delivery.course_slug, url, cta=CTA_BUTTON in flags)
    machine = source == TRAP or is_machine_click(
        user_agent,
        clicked_at,
        delivery.delivered_at or delivery.sent_at,
        within_seconds=runtime.settings.machine_click_seconds,
        scanner_network=SCANNER_NETWORK in flags,
    )
    return machine, source


def _convicted(clicks: Sequence[Any]) -> set[int]:
    """Return the ids among one email's CLICKS that a pattern shows to be a scanner's."""
    ordered = sorted(clicks, key=lambda row: row.occurred_at)
    found: set[int] = set()
    for index, first in enumerate(ordered):
        for later in ordered[index + 1 :]:
            gap = (later.occurred_at - first.occurred_at).total_seconds()
            if gap > BURST_SECONDS:
                break
            if later.url != first.url:
                found.update((first.id, later.id))
    for trap in (row for row in ordered if row.source == TRAP):
        found.update(
            row.id
            for row in ordered
            if row.user_agent == trap.user_agent
            and abs((row.occurred_at - trap.occurred_at).total_seconds()) <= TRAP_WINDOW_SECONDS
        )
    return found


def flag_click_patterns(session: Session, fresh: Sequence[NewEvent]) -> int:
    """Judge again the clicks of every email in FRESH; return how many turned machine."""
    delivery_ids = {e.delivery_id for e in fresh if e.kind == "click" and e.delivery_id}
    if not delivery_ids:
        return 0
    rows = session.execute(
        select(
            EmailEvent.id,
            EmailEvent.delivery_id,
            EmailEvent.occurred_at,
            EmailEvent.url,
            EmailEvent.user_agent,
            EmailEvent.source,
            EmailEvent.machine,
        ).where(EmailEvent.kind == "click", EmailEvent.delivery_id.in_(sorted(delivery_ids)))
    ).all()
    by_delivery: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        by_delivery[row.delivery_id].append(row)
    turned: dict[int, list[int]] = {}
    scanned_visits: list[tuple[int, datetime]] = []
    for delivery_id, clicks in by_delivery.items():
        convicted = _convicted(clicks)
        now_machine = [row for row in clicks if row.id in convicted and not row.machine]
        if now_machine:
            turned[delivery_id] = [row.id for row in now_machine]
            scanned_visits.extend(
                (delivery_id, row.occurred_at) for row in now_machine if row.source == RATING
            )
    if not turned:
        return 0
    every_id = [event_id for ids in turned.values() for event_id in ids]
    session.execute(
        update(EmailEvent)
        .where(EmailEvent.id.in_(every_id), EmailEvent.machine.is_(False))
        .values(machine=True)
        .execution_options(synchronize_session=False)
    )
    add_engagement(session, [Engagement(d, clicks=-len(ids)) for d, ids in turned.items()])
    # A scanner that ran the rating page's script may have answered before this judgement.
    drop_scanned_ratings(session, scanned_visits)
    return len(every_id)
