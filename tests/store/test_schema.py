"""Storage on both databases: aware timestamps round-trip, one lesson per day, SQLite WAL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from store.models import Delivery, DeliveryKind, Enrollment, Subscriber


def test_schema_round_trip_and_unique_delivery(runtime):
    now = datetime(2026, 3, 1, 6, 30, tzinfo=UTC)
    with runtime.session() as session:
        subscriber = Subscriber(email="a@example.nl", course_slug="c", created_at=now)
        enrollment = Enrollment(subscriber=subscriber, course_slug="c", started_at=now)
        session.add(enrollment)
        session.flush()
        session.add(
            Delivery(
                enrollment_id=enrollment.id,
                subscriber_id=subscriber.id,
                course_slug="c",
                day=1,
                created_at=now,
                not_before=now,
            )
        )
    with runtime.session() as session:
        loaded = session.scalars(select(Subscriber)).one()
        assert loaded.created_at == now
        assert loaded.created_at.tzinfo is not None
        enrollment_id = session.scalars(select(Enrollment.id)).one()
        assert session.scalars(select(Delivery.kind)).one() == DeliveryKind.LESSON
    with pytest.raises(IntegrityError), runtime.session() as session:
        session.add(
            Delivery(
                enrollment_id=enrollment_id,
                subscriber_id=loaded.id,
                course_slug="c",
                day=1,
                created_at=now,
                not_before=now,
            )
        )


def test_sqlite_runs_in_wal_mode(runtime):
    if not runtime.settings.is_sqlite:
        pytest.skip("SQLite only")
    with runtime.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30000
