"""The rollups of the call to action and of lesson ratings (see tracking.rollup_sql).

Sums of rows, kept as contributions like the others:
- a click on the call to action (kind "click", source "cta", on a lesson) adds 1 to
  "cta.human" or "cta.machine" of its lesson; tracking.clicks may turn it machine later,
  which moves the 1 across;
- a rating adds 1 to "ratings" of its lesson, and 1 to "ratings.useful" when it says "ja".
Readers are not sums of rows, so a mark per (subscriber, course, lesson) with a human click
on the call to action is kept in rollup_cta_marks, with is_first set on the lesson of the
subscriber's first such click (earliest, the lowest lesson on a tie). A mark counts 1 to
"cta.readers" of its lesson and, when first, 1 to "cta.first" (their sum over a course is
the number of readers who clicked at all). A subscriber's marks are worked out again
whenever their call-to-action clicks change: a new one, one turned machine, a forget.

These parts are installed only where the rollup_cta_marks table exists (migration
f9a0b1c2d3e4), so the older migration d4e5f6a7b8c9 still installs what it did.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect

from tracking.rollup_sql import TRANSITIONS, pg_changed_ids, pg_deltas, pg_function

CTA_MARKS = "rollup_cta_marks"
CTA_HUMAN, CTA_MACHINE = "cta.human", "cta.machine"
CTA_READERS, CTA_FIRST = "cta.readers", "cta.first"
RATINGS, RATINGS_USEFUL = "ratings", "ratings.useful"
CTA_CLICK = (
    "{r}.kind = 'click' AND {r}.source = 'cta' AND {r}.day IS NOT NULL "
    "AND {r}.course_slug IS NOT NULL"
)
HUMAN_CTA_CLICK = CTA_CLICK + " AND NOT {r}.machine AND {r}.subscriber_id IS NOT NULL"
EVENT_CONTRIBUTIONS = [
    (f"'{CTA_HUMAN}'", "{r}.day", CTA_CLICK + " AND NOT {r}.machine"),
    (f"'{CTA_MACHINE}'", "{r}.day", CTA_CLICK + " AND {r}.machine"),
]
RATING_CONTRIBUTIONS = [
    (f"'{RATINGS}'", "{r}.day", "1 = 1"),
    (f"'{RATINGS_USEFUL}'", "{r}.day", "{r}.useful"),
]
RATING_COLUMNS = ["course_slug", "day", "useful"]
# An event's columns that decide whether and where it is a reader's call-to-action click.
CTA_COLUMNS = ["kind", "source", "course_slug", "day", "machine", "occurred_at", "subscriber_id"]


def has_actions(connection: Connection) -> bool:
    """Tell whether CONNECTION's schema has the call-to-action rollups (f9a0b1c2d3e4)."""
    return inspect(connection).has_table(CTA_MARKS)


def cta_marks_select(match: str) -> str:
    """Return the SELECT of the call-to-action marks of the subscribers MATCH."""
    # One pass over their clicks (a window, not a subquery per mark): the rebuild after a
    # bulk load runs it over every reader at once.
    return (
        "SELECT DISTINCT c.subscriber_id AS subscriber_id, c.course_slug AS course_slug, "
        "c.day AS day, c.day = c.first_day AS is_first FROM (SELECT e.subscriber_id, "
        "e.course_slug, e.day, FIRST_VALUE(e.day) OVER (PARTITION BY e.subscriber_id, "
        "e.course_slug ORDER BY e.occurred_at, e.day) AS first_day FROM email_events e "
        f"WHERE e.subscriber_id {match} AND {HUMAN_CTA_CLICK.format(r='e')}) AS c"
    )


def cta_recount(match: str) -> str:
    """Return the statements that work out the call-to-action marks of subscribers MATCH.

    Only the marks that change are deleted or inserted: each costs a trigger call, and a
    new click mostly adds one mark, or none.
    """
    same = " AND ".join(
        f"w.{column} = {CTA_MARKS}.{column}" for column in ("subscriber_id", "course_slug", "day")
    )
    wanted = f"({cta_marks_select(match)}) AS w"
    return (
        f"DELETE FROM {CTA_MARKS} WHERE subscriber_id {match} AND NOT EXISTS (SELECT 1 FROM "
        f"{wanted} WHERE {same} AND w.is_first = {CTA_MARKS}.is_first);\n"
        f"INSERT INTO {CTA_MARKS} (subscriber_id, course_slug, day, is_first) "
        f"SELECT w.subscriber_id, w.course_slug, w.day, w.is_first FROM {wanted} "
        f"WHERE NOT EXISTS (SELECT 1 FROM {CTA_MARKS} WHERE {same});\n"
    )


def cta_mark_deltas(row: str, sign: int) -> str:
    """Return the statement adding what mark ROW counts (SIGN 1 inserted, -1 deleted)."""
    return (
        "INSERT INTO rollup_deltas (course_slug, day, metric, value) "
        f"SELECT {row}.course_slug, {row}.day, '{CTA_READERS}', {sign} UNION ALL "
        f"SELECT {row}.course_slug, {row}.day, '{CTA_FIRST}', {sign} WHERE {row}.is_first;\n"
    )


def pg_cta_parts() -> dict[str, str]:
    """Return the call-to-action statements of the events function, by branch."""
    clicked = f"{CTA_CLICK.format(r='o')} AND o.subscriber_id IS NOT NULL"
    return {
        "insert": "\n"
        + pg_deltas(EVENT_CONTRIBUTIONS, True, False)
        + "\nSELECT array_agg(DISTINCT n.subscriber_id) INTO cta_ids FROM new_rows n "
        f"WHERE {HUMAN_CTA_CLICK.format(r='n')};",
        "update": "\n"
        + pg_deltas(EVENT_CONTRIBUTIONS, True, True)
        + "\n"
        + pg_changed_ids(
            CTA_COLUMNS,
            "{sid} IS NOT NULL AND x.kind = 'click' AND x.source = 'cta'",
            "cta_ids",
        ),
        "delete": "\n"
        + pg_deltas(EVENT_CONTRIBUTIONS, False, True)
        + f"\nSELECT array_agg(DISTINCT o.subscriber_id) INTO cta_ids FROM old_rows o "
        f"WHERE {clicked};",
        # Both kinds of recount lock their subscribers: take every lock at once, in order,
        # so two batches never wait on each other's.
        "tail": "IF cta_ids IS NOT NULL THEN\nPERFORM 1 FROM subscribers "
        "WHERE id = ANY(array_cat(ids, cta_ids)) ORDER BY id FOR UPDATE;\n"
        "PERFORM nurture_rollup_cta(cta_ids);\nEND IF;\n",
    }


def pg_actions(
    functions: list[str], triggers: list[str], uninstall: list[str]
) -> tuple[list[str], list[str], list[str]]:
    """Add the call-to-action and rating functions and triggers (tracking.rollup_actions)."""
    functions = [
        "CREATE FUNCTION nurture_rollup_cta(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$\n"
        "BEGIN\nIF ids IS NULL OR cardinality(ids) = 0 THEN RETURN; END IF;\n"
        "PERFORM 1 FROM subscribers WHERE id = ANY(ids) ORDER BY id FOR UPDATE;\n"
        + cta_recount("= ANY(ids)")
        + "END $$",
        *functions,
        pg_function(
            "nurture_rollup_ratings",
            f"IF TG_OP = 'INSERT' THEN\n{pg_deltas(RATING_CONTRIBUTIONS, True, False)}\n"
            f"ELSIF TG_OP = 'UPDATE' THEN\n{pg_deltas(RATING_CONTRIBUTIONS, True, True)}\n"
            f"ELSE\n{pg_deltas(RATING_CONTRIBUTIONS, False, True)}\nEND IF;",
        ),
        pg_function(
            f"nurture_{CTA_MARKS}",
            f"IF TG_OP = 'INSERT' THEN\n{cta_mark_deltas('NEW', 1)}ELSE\n"
            f"{cta_mark_deltas('OLD', -1)}END IF;",
        ),
    ]
    for operation, referencing in TRANSITIONS:
        triggers.append(
            f"CREATE TRIGGER rollup_lesson_ratings_{operation.lower()} AFTER {operation} "
            f"ON lesson_ratings REFERENCING {referencing} FOR EACH STATEMENT "
            "EXECUTE FUNCTION nurture_rollup_ratings()"
        )
    triggers.append(
        f"CREATE TRIGGER {CTA_MARKS}_count AFTER INSERT OR DELETE ON {CTA_MARKS} "
        f"FOR EACH ROW EXECUTE FUNCTION nurture_{CTA_MARKS}()"
    )
    # Triggers before the functions they call.
    uninstall = [
        *[
            f"DROP TRIGGER IF EXISTS rollup_lesson_ratings_{operation.lower()} ON lesson_ratings"
            for operation, _referencing in TRANSITIONS
        ],
        f"DROP TRIGGER IF EXISTS {CTA_MARKS}_count ON {CTA_MARKS}",
        *uninstall,
        "DROP FUNCTION IF EXISTS nurture_rollup_ratings()",
        f"DROP FUNCTION IF EXISTS nurture_{CTA_MARKS}()",
        "DROP FUNCTION IF EXISTS nurture_rollup_cta(bigint[])",
    ]
    return functions, triggers, uninstall
