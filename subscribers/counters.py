"""Anonymous counts (signups, confirmations, unsubscribes) that outlive a forgotten subscriber."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store.models import Counter

SIGNUPS = "subscribers.signups"
CONFIRMATIONS = "subscribers.confirmations"
UNSUBSCRIBES = "subscribers.unsubscribes"
FORGOTTEN = "subscribers.forgotten"
# Signups for an address already on file (they change nothing until confirmed).
REPEAT_SIGNUPS = "subscribers.repeat_signups"


def increment(session: Session, name: str, by: int = 1) -> int:
    """Add BY to counter NAME in one UPSERT, so concurrent increments never lose a count.

    Return the counter's new value.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Counter).values(name=name, value=by)
    upsert = statement.on_conflict_do_update(
        index_elements=[Counter.name], set_={"value": Counter.value + by}
    )
    return int(session.scalar(upsert.returning(Counter.value)) or 0)


def increment_many(session: Session, amounts: Mapping[str, int]) -> None:
    """Add each of AMOUNTS to its counter in one UPSERT; zero amounts are left out.

    Rows are written in name order, so two transactions adding to the same counters lock
    them in the same order and never deadlock.
    """
    rows = [{"name": name, "value": by} for name, by in sorted(amounts.items()) if by]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Counter).values(rows)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[Counter.name], set_={"value": Counter.value + statement.excluded.value}
        )
    )
