"""The declarative base, its naming convention and the column types every table uses.

Also the JSON encoding of a batch of rows as one statement parameter (json_rows).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# SQLite has no 64-bit autoincrement BIGINT; INTEGER PRIMARY KEY is its rowid and is 64-bit anyway.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Store aware UTC datetimes; SQLite hands back naive ones, so re-attach UTC on load."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Refuse naive datetimes so no local time sneaks into the database."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with one naming convention, so Alembic names constraints stably."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime}


Base.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def json_rows(rows: object) -> str:
    """Encode ROWS as one JSON parameter (json_to_recordset): datetimes as ISO text, offset kept.

    A batch as one parameter keeps a statement short and planned once, however many rows it
    carries, and json's C encoder costs less than a driver adapting each value.
    """
    return json.dumps(rows, default=datetime.isoformat, separators=(",", ":"))
