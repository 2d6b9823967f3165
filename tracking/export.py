"""CSV exports of subscribers and events, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.db import session_scope
from store.models import EmailEvent, Subscriber
from tracking.course_members import signed_up_for

# A cell starting with one of these runs as a formula in Excel or LibreOffice.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
STREAM_BATCH = 1000

SUBSCRIBER_COLUMNS = [
    "id",
    "email",
    "first_name",
    "status",
    "course_slug",
    "signup_source",
    "created_at",
    "confirmed_at",
    "consent_version",
    "unsubscribed_at",
    "suppressed_at",
    "suppression_reason",
    "forgotten_at",
]
EVENT_COLUMNS = [
    "id",
    "occurred_at",
    "kind",
    "source",
    "subscriber_id",
    "delivery_id",
    "course_slug",
    "day",
    "machine",
    "url",
    "reason",
    "user_agent",
]


def safe_cell(value: Any) -> str:
    """Render VALUE for CSV, defusing anything a spreadsheet would run as a formula."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _csv_lines(columns: list[str], rows: Iterable[Any]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(getattr(row, column)) for column in columns])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _streamed(
    sessions: sessionmaker[Session], model: Any, columns: list[str], *where: Any
) -> Iterator[str]:
    """Yield MODEL's COLUMNS as CSV in id order, STREAM_BATCH rows at a time from the database.

    yield_per streams the result: a server-side cursor on PostgreSQL, so memory stays flat
    however many rows there are (bench_dashboard.py measures it at 1,000,000). Plain rows,
    not ORM objects: nothing lands in the session's identity map.
    """
    with session_scope(sessions) as session:
        query = select(*(getattr(model, column) for column in columns)).order_by(model.id)
        rows = session.execute(query.where(*where).execution_options(yield_per=STREAM_BATCH))
        yield from _csv_lines(columns, rows)


def subscribers_csv(
    sessions: sessionmaker[Session], course_slug: str | None = None
) -> Iterator[str]:
    """Yield the subscribers (of COURSE_SLUG, or all) as CSV, a chunk at a time."""
    where = [] if course_slug is None else [signed_up_for(course_slug)]
    return _streamed(sessions, Subscriber, SUBSCRIBER_COLUMNS, *where)


def events_csv(sessions: sessionmaker[Session], course_slug: str | None = None) -> Iterator[str]:
    """Yield the email events (of COURSE_SLUG's mail, or all) as CSV, a chunk at a time."""
    where = [] if course_slug is None else [EmailEvent.course_slug == course_slug]
    return _streamed(sessions, EmailEvent, EVENT_COLUMNS, *where)
