"""Read, fold and rebuild the dashboard's rollups (kept by the triggers of tracking.rollup_sql).

A count is its rollup row plus the deltas not folded in yet, so reading never waits for a
fold and is always exact. Folding moves the deltas into the rollups in one statement per
dialect; two folds at once each move different rows (DELETE ... RETURNING takes a row once).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from runtime import Runtime
from store.models import Executor
from tracking.rollup_actions import (
    CTA_FIRST,
    CTA_MARKS,
    CTA_READERS,
    EVENT_CONTRIBUTIONS,
    RATING_CONTRIBUTIONS,
    cta_marks_select,
    has_actions,
)
from tracking.rollup_sql import (
    DELIVERY_CONTRIBUTIONS,
    EVENT_MARK_METRIC,
    MARK_KINDS,
    SITE_UNSUBSCRIBES,
    contributions_select,
    kinds,
    mark_wanted,
    subscriber_contributions,
    unsubscribe_recount,
)

Key = tuple[str, int, str]

_UPSERT = (
    "INSERT INTO rollups (course_slug, day, metric, value) {rows} "
    "ON CONFLICT (course_slug, day, metric) DO UPDATE SET value = rollups.value + excluded.value"
)
_FOLD_POSTGRESQL = (
    "WITH moved AS (DELETE FROM rollup_deltas RETURNING course_slug, day, metric, value) "
    + _UPSERT.format(
        rows="SELECT course_slug, day, metric, SUM(value) FROM moved "
        "GROUP BY course_slug, day, metric"
    )
)


def _dialect(executor: Executor) -> str:
    bind = executor.get_bind() if isinstance(executor, Session) else executor
    return bind.dialect.name


def fold(executor: Executor) -> None:
    """Move the pending deltas into the rollups (in the caller's transaction)."""
    if _dialect(executor) == "postgresql":
        executor.execute(text(_FOLD_POSTGRESQL))
        return
    moved: Counter[Key] = Counter()
    for course, day, metric, value in executor.execute(
        text("DELETE FROM rollup_deltas RETURNING course_slug, day, metric, value")
    ):
        moved[(course, day, metric)] += value
    rows = [
        {"c": course, "d": day, "m": metric, "v": value}
        for (course, day, metric), value in sorted(moved.items())
        if value
    ]
    if rows:
        executor.execute(text(_UPSERT.format(rows="VALUES (:c, :d, :m, :v)")), rows)


def fold_rollups(runtime: Runtime) -> None:
    """Fold the pending deltas in a transaction of their own."""
    with runtime.session() as session:
        fold(session)


def read(
    executor: Executor,
    metrics: Iterable[str],
    course_slug: str | None = None,
    days: tuple[int, int] | None = None,
) -> dict[Key, int]:
    """Return the non-zero counts of METRICS, of one course and a range of DAYS if given."""
    where = "metric IN :metrics"
    params: dict[str, object] = {"metrics": list(metrics)}
    if course_slug is not None:
        where += " AND course_slug = :course"
        params["course"] = course_slug
    if days is not None:
        where += " AND day BETWEEN :first AND :last"
        params["first"], params["last"] = days
    query = text(
        "SELECT course_slug, day, metric, SUM(value) FROM ("
        f"SELECT course_slug, day, metric, value FROM rollups WHERE {where} UNION ALL "
        f"SELECT course_slug, day, metric, value FROM rollup_deltas WHERE {where}"
        ") AS c GROUP BY course_slug, day, metric"
    ).bindparams(bindparam("metrics", expanding=True))
    return {
        (course, day, metric): int(value)
        for course, day, metric, value in executor.execute(query, params)
        if value
    }


def _sums(union: str) -> str:
    return (
        f"SELECT course_slug, day, metric, SUM(value) FROM ({union}) AS c "
        "GROUP BY course_slug, day, metric"
    )


def _counted_rows(dialect: str, actions: bool) -> str:
    """Return the recount of the counts that sum rows of the raw tables."""
    selects = [
        contributions_select(DELIVERY_CONTRIBUTIONS, "r", " FROM deliveries r"),
        contributions_select(subscriber_contributions(dialect), "r", " FROM subscribers r"),
    ]
    if actions:
        selects += [
            contributions_select(EVENT_CONTRIBUTIONS, "r", " FROM email_events r"),
            contributions_select(RATING_CONTRIBUTIONS, "r", " FROM lesson_ratings r"),
        ]
    return _sums(" UNION ALL ".join(selects))


def _actions(executor: Executor) -> bool:
    connection = executor.connection() if isinstance(executor, Session) else executor
    return has_actions(connection)


def recount(executor: Executor) -> dict[Key, int]:
    """Count everything the rollups hold from the raw tables alone (slow; for checks)."""
    dialect, actions = _dialect(executor), _actions(executor)
    counts: Counter[Key] = Counter()
    for course, day, metric, value in executor.execute(text(_counted_rows(dialect, actions))):
        counts[(course, day, metric)] += int(value)
    events = text(
        f"SELECT course_slug, day, '{EVENT_MARK_METRIC}' || kind, "
        "COUNT(DISTINCT subscriber_id) FROM email_events e "
        f"WHERE {mark_wanted('e')} GROUP BY course_slug, day, kind"
    )
    for course, day, metric, value in executor.execute(events):
        counts[(course, day, metric)] += int(value)
    for _subscriber, course, day in executor.execute(text(_site_unsubscribes())):
        counts[(course, day, SITE_UNSUBSCRIBES)] += 1
    if actions:
        for _subscriber, course, day, first in executor.execute(text(_cta_marks())):
            counts[(course, day, CTA_READERS)] += 1
            counts[(course, day, CTA_FIRST)] += 1 if first else 0
    return {key: value for key, value in counts.items() if value}


def _site_unsubscribes() -> str:
    """Return the SELECT of (subscriber, course, day) of every site unsubscribe to count."""
    statement = unsubscribe_recount("IS NOT NULL").split(";\n")[1]
    return statement[statement.index("SELECT") :]


def _cta_marks() -> str:
    """Return the SELECT of every call-to-action mark (tracking.rollup_actions)."""
    return cta_marks_select("IS NOT NULL")


def rebuild(executor: Executor) -> None:
    """Recount every rollup from the raw tables (after a bulk load with triggers off)."""
    dialect, actions = _dialect(executor), _actions(executor)
    marks = ["rollup_event_marks", "rollup_unsubscribe_marks"] + ([CTA_MARKS] if actions else [])
    # The marks first: their triggers add deltas, cleared next.
    for table in (*marks, "rollup_deltas", "rollups"):
        executor.execute(text(f"DELETE FROM {table}"))
    # The marks' own triggers turn them into deltas.
    executor.execute(
        text(
            "INSERT INTO rollup_event_marks (course_slug, day, kind, subscriber_id) "
            "SELECT DISTINCT course_slug, day, kind, subscriber_id FROM email_events e "
            f"WHERE {mark_wanted('e')} AND e.kind IN {kinds(MARK_KINDS)}"
        )
    )
    executor.execute(
        text(
            "INSERT INTO rollup_unsubscribe_marks (subscriber_id, course_slug, day) "
            + _site_unsubscribes()
        )
    )
    if actions:
        executor.execute(
            text(
                f"INSERT INTO {CTA_MARKS} (subscriber_id, course_slug, day, is_first) "
                + _cta_marks()
            )
        )
    executor.execute(
        text(
            "INSERT INTO rollups (course_slug, day, metric, value) "
            + _counted_rows(dialect, actions)
        )
    )
    fold(executor)
