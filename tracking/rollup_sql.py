"""The triggers that keep the dashboard's rollups exact, for PostgreSQL and SQLite.

Every count the dashboard, `nurture stats` and /metrics show is a sum of CONTRIBUTIONS: a
row of a raw table adds 1 to (course, day, metric) when a condition holds. A trigger adds
what a change contributes minus what the old row did, so any writer (the sender, the
ingest, a forget, a hand-run UPDATE) keeps the counts right, in its own transaction: a
rollback takes its deltas with it, and a replayed event that inserts nothing adds nothing.
Writers only append to rollup_deltas, so no two transactions ever wait on one counter row;
tracking.rollups folds the deltas into rollups now and then.

Two counts are not sums of rows, so they are kept through marks tables whose rows are counted
(a trigger on each mark adds +1 or -1):
- bounces, complaints and unsubscribes count SUBSCRIBERS per lesson and kind: a mark per
  (course, day, kind, subscriber), unique, so two concurrent events add one mark;
- unsubscribes through our own link count on the last lesson sent before them, unless the
  provider reported the unsubscribe too: a mark per such subscriber, worked out again
  whenever the subscriber, their sent lessons or their unsubscribe events change.

PostgreSQL runs statement-level triggers over transition tables (one INSERT of grouped
deltas per statement, however many rows it touched); SQLite, for small installations, row
triggers (tracking.rollup_triggers builds and installs them; migration d4e5f6a7b8c9).
"""

from __future__ import annotations

from dataclasses import dataclass

# (metric, day, condition) per raw row, with {r} standing for the row.
SENT_LESSON = "{r}.kind = 'lesson' AND {r}.state = 'sent'"
DELIVERY_CONTRIBUTIONS = [
    ("'deliveries.' || {r}.state", "{r}.day", "1 = 1"),
    ("'retried.' || {r}.state", "{r}.day", "{r}.attempts > 1"),
    ("'lesson.sent'", "{r}.day", SENT_LESSON + " AND {r}.sent_at IS NOT NULL"),
    ("'lesson.delivered'", "{r}.day", SENT_LESSON + " AND {r}.delivered_at IS NOT NULL"),
    ("'lesson.human_opened'", "{r}.day", SENT_LESSON + " AND {r}.human_opens > 0"),
    ("'lesson.machine_opened'", "{r}.day", SENT_LESSON + " AND {r}.machine_opens > 0"),
    ("'lesson.clicked'", "{r}.day", SENT_LESSON + " AND {r}.clicks > 0"),
]
DELIVERY_COLUMNS = [
    "course_slug",
    "day",
    "state",
    "attempts",
    "kind",
    "sent_at",
    "delivered_at",
    "human_opens",
    "machine_opens",
    "clicks",
]
# Signups per quarter hour (day = quarters since 1970): every time zone's offset is a
# multiple of 15 minutes, so signups per local date add up exactly from these.
QUARTER_SECONDS = 900
QUARTER = {
    "postgresql": "CAST(floor(extract(epoch FROM {r}.created_at) / 900) AS integer)",
    "sqlite": "CAST(strftime('%s', {r}.created_at) AS INTEGER) / 900",
}
SUBSCRIBER_COLUMNS = ["course_slug", "confirmed_at", "created_at"]
MARK_KINDS = ("bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe")
UNSUBSCRIBE_KINDS = ("unsubscribe", "group_unsubscribe")
EVENT_MARK_METRIC = "subscribers."
SITE_UNSUBSCRIBES = "site_unsubscribes"
SIGNUPS = "signups"  # every subscriber row, per course (day 0)
RAW_TABLES = ("subscribers", "deliveries", "email_events")
# Each marks table and the metric its rows count.
MARK_TABLES = {
    "rollup_event_marks": f"'{EVENT_MARK_METRIC}' || {{r}}.kind",
    "rollup_unsubscribe_marks": f"'{SITE_UNSUBSCRIBES}'",
}
UNSUBSCRIBED = (
    "EXISTS (SELECT 1 FROM subscribers s WHERE s.id = {sid} AND s.unsubscribed_at IS NOT NULL)"
)
MARKED = "EXISTS (SELECT 1 FROM rollup_unsubscribe_marks m WHERE m.subscriber_id = {sid})"
EVENT_KEY = ["course_slug", "day", "kind", "subscriber_id"]
# A delivery's columns that decide which lesson a site unsubscribe counts on.
PLACEMENT = ["sent_at", "day", "kind", "subscriber_id"]


@dataclass(frozen=True)
class Ddl:
    """The statements that install the triggers, and those that drop them."""

    install: list[str]
    uninstall: list[str]


def kinds(values: tuple[str, ...]) -> str:
    """Return VALUES as an SQL list of string literals."""
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


def subscriber_contributions(dialect: str) -> list[tuple[str, str, str]]:
    """Return the (metric, day, condition) contributions of a subscriber row."""
    return [
        ("'signups'", "0", "1 = 1"),
        ("'confirmed'", "0", "{r}.confirmed_at IS NOT NULL"),
        ("'signups.quarter'", QUARTER[dialect], "{r}.created_at IS NOT NULL"),
    ]


def contributions_select(
    contributions: list[tuple[str, str, str]], alias: str, source: str = "", sign: int = 1
) -> str:
    """Return a UNION ALL of (course_slug, day, metric, value) for the rows of SOURCE."""
    parts = []
    for metric, day, condition in contributions:
        parts.append(
            f"SELECT {alias}.course_slug AS course_slug, {day} AS day, {metric} AS metric, "
            f"{sign} AS value{source} WHERE {condition}".format(r=alias)
        )
    return " UNION ALL ".join(parts)


def insert_deltas(selects: list[str]) -> str:
    """Return the INSERT that appends the non-zero sums of SELECTS to rollup_deltas."""
    return (
        "INSERT INTO rollup_deltas (course_slug, day, metric, value) "
        "SELECT course_slug, day, metric, SUM(value) FROM ("
        + " UNION ALL ".join(selects)
        + ") AS c GROUP BY course_slug, day, metric HAVING SUM(value) <> 0"
    )


def unsubscribe_recount(match: str) -> str:
    """Return the statements that work out the site-unsubscribe marks of subscribers MATCH."""
    return (
        f"DELETE FROM rollup_unsubscribe_marks WHERE subscriber_id {match};\n"
        "INSERT INTO rollup_unsubscribe_marks (subscriber_id, course_slug, day) "
        "SELECT s.id, s.course_slug, COALESCE((SELECT MAX(d.day) FROM deliveries d "
        "WHERE d.subscriber_id = s.id AND d.kind = 'lesson' AND d.sent_at IS NOT NULL "
        f"AND d.sent_at <= s.unsubscribed_at), 1) FROM subscribers s WHERE s.id {match} "
        "AND s.unsubscribed_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM email_events e "
        f"WHERE e.subscriber_id = s.id AND e.kind IN {kinds(UNSUBSCRIBE_KINDS)});\n"
    )


def mark_key_matches(mark: str, row: str) -> str:
    """Return the condition that event mark MARK has the key of event ROW."""
    return " AND ".join(
        f"{mark}.{column} = {row}.{column}"
        for column in ("course_slug", "day", "kind", "subscriber_id")
    )


def mark_wanted(row: str) -> str:
    """Return the condition that event ROW marks its subscriber on its lesson."""
    return (
        f"{row}.kind IN {kinds(MARK_KINDS)} AND {row}.day IS NOT NULL "
        f"AND {row}.subscriber_id IS NOT NULL AND {row}.course_slug IS NOT NULL"
    )


def mark_orphaned(mark: str) -> str:
    """Return the condition that no event is left behind event mark MARK."""
    return f"NOT EXISTS (SELECT 1 FROM email_events e WHERE {mark_key_matches('e', mark)})"


def changed(columns: list[str], old: str, new: str, differs: str = "IS DISTINCT FROM") -> str:
    """Return the condition that any of COLUMNS differs between rows OLD and NEW."""
    # SQLite before 3.39 knows only IS NOT, which means the same there.
    return " OR ".join(f"{old}.{c} {differs} {new}.{c}" for c in columns)


TRANSITIONS = (
    ("INSERT", "NEW TABLE AS new_rows"),
    ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ("DELETE", "OLD TABLE AS old_rows"),
)


def pg_function(name: str, body: str, declare: str = "") -> str:
    """Return the CREATE FUNCTION of PostgreSQL trigger function NAME running BODY."""
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"{declare}BEGIN\n{body}\nRETURN NULL;\nEND $$"
    )


def pg_changed_ids(columns: list[str], where: str, into: str = "ids") -> str:
    """Select into ids the subscribers of rows whose COLUMNS changed and that match WHERE."""
    # EXCEPT, not a join on id: transition tables have no statistics, and the planner may
    # nest-loop a join of two thousand-row tables. EXCEPT hashes, and treats NULLs as equal.
    listed = ", ".join(["id", *[c for c in columns if c != "subscriber_id"], "subscriber_id"])
    return (
        f"SELECT array_agg(DISTINCT x.subscriber_id) INTO {into} FROM ("
        f"(SELECT {listed} FROM new_rows EXCEPT SELECT {listed} FROM old_rows) UNION ALL "
        f"(SELECT {listed} FROM old_rows EXCEPT SELECT {listed} FROM new_rows)) AS x "
        f"WHERE {where.format(sid='x.subscriber_id')};"
    )


def pg_deltas(contributions: list[tuple[str, str, str]], new: bool, old: bool) -> str:
    """Return the INSERT of the deltas of the transition tables NEW and OLD rows."""
    selects = []
    if new:
        selects.append(contributions_select(contributions, "n", " FROM new_rows n", 1))
    if old:
        selects.append(contributions_select(contributions, "o", " FROM old_rows o", -1))
    return insert_deltas(selects) + ";"
