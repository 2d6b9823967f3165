"""Build, install and drop the rollup triggers (tracking.rollup_sql says what they count)."""

from __future__ import annotations

from sqlalchemy import Connection

from tracking.rollup_actions import has_actions, pg_actions, pg_cta_parts
from tracking.rollup_sql import (
    DELIVERY_CONTRIBUTIONS,
    EVENT_KEY,
    MARK_KINDS,
    MARK_TABLES,
    MARKED,
    PLACEMENT,
    RAW_TABLES,
    TRANSITIONS,
    UNSUBSCRIBE_KINDS,
    UNSUBSCRIBED,
    Ddl,
    kinds,
    mark_key_matches,
    mark_orphaned,
    mark_wanted,
    pg_changed_ids,
    pg_deltas,
    pg_function,
    subscriber_contributions,
    unsubscribe_recount,
)
from tracking.rollup_sqlite import sqlite_ddl


def _pg_by_operation(insert: str, update: str, delete: str, tail: str = "") -> str:
    return (
        f"IF TG_OP = 'INSERT' THEN\n{insert}\nELSIF TG_OP = 'UPDATE' THEN\n{update}\n"
        f"ELSE\n{delete}\nEND IF;\n{tail}PERFORM nurture_rollup_unsubscribes(ids);"
    )


def postgresql_ddl(actions: bool) -> Ddl:
    """Return PostgreSQL's functions and statement-level triggers (ACTIONS: CTA, ratings)."""
    subscriber = subscriber_contributions("postgresql")
    cta = pg_cta_parts() if actions else {}
    declare = "DECLARE ids bigint[];\n"
    either = f"({UNSUBSCRIBED} OR {MARKED})"
    functions = [
        "CREATE FUNCTION nurture_rollup_unsubscribes(ids bigint[]) RETURNS void "
        "LANGUAGE plpgsql AS $$\nBEGIN\nIF ids IS NULL OR cardinality(ids) = 0 THEN RETURN; "
        "END IF;\n"
        # Lock the subscribers first: an unsubscribe and a provider's unsubscribe event
        # for the same person then take turns, each seeing the other's committed rows.
        "PERFORM 1 FROM subscribers WHERE id = ANY(ids) ORDER BY id FOR UPDATE;\n"
        + unsubscribe_recount("= ANY(ids)")
        + "END $$",
        pg_function(
            "nurture_rollup_deliveries",
            _pg_by_operation(
                pg_deltas(DELIVERY_CONTRIBUTIONS, True, False)
                + "\nSELECT array_agg(DISTINCT n.subscriber_id) INTO ids FROM new_rows n "
                f"WHERE n.sent_at IS NOT NULL AND {UNSUBSCRIBED.format(sid='n.subscriber_id')};",
                pg_deltas(DELIVERY_CONTRIBUTIONS, True, True)
                + "\n"
                + pg_changed_ids(PLACEMENT, either),
                pg_deltas(DELIVERY_CONTRIBUTIONS, False, True)
                + "\nSELECT array_agg(DISTINCT o.subscriber_id) INTO ids FROM old_rows o "
                f"WHERE {MARKED.format(sid='o.subscriber_id')};",
            ),
            declare,
        ),
        pg_function(
            "nurture_rollup_subscribers",
            _pg_by_operation(
                pg_deltas(subscriber, True, False)
                + "\nSELECT array_agg(n.id) INTO ids FROM new_rows n "
                "WHERE n.unsubscribed_at IS NOT NULL;",
                pg_deltas(subscriber, True, True)
                + "\nSELECT array_agg(DISTINCT x.id) INTO ids FROM ("
                "SELECT id, unsubscribed_at, course_slug FROM new_rows EXCEPT "
                "SELECT id, unsubscribed_at, course_slug FROM old_rows) AS x;",
                pg_deltas(subscriber, False, True)
                + "\nSELECT array_agg(o.id) INTO ids FROM old_rows o "
                f"WHERE {MARKED.format(sid='o.id')};",
            ),
            declare,
        ),
        pg_function(
            "nurture_rollup_events",
            _pg_by_operation(
                _pg_add_marks("new_rows")
                + "\nSELECT array_agg(DISTINCT n.subscriber_id) INTO ids FROM new_rows n "
                f"WHERE n.kind IN {kinds(UNSUBSCRIBE_KINDS)};" + cta.get("insert", ""),
                _pg_drop_marks()
                + "\n"
                + _pg_add_marks("new_rows")
                + "\n"
                + pg_changed_ids(EVENT_KEY, "{sid} IS NOT NULL")
                + cta.get("update", ""),
                _pg_drop_marks()
                + "\nSELECT array_agg(DISTINCT o.subscriber_id) INTO ids FROM old_rows o "
                f"WHERE o.kind IN {kinds(UNSUBSCRIBE_KINDS)};" + cta.get("delete", ""),
                cta.get("tail", ""),
            ),
            declare + ("cta_ids bigint[];\n" if actions else ""),
        ),
    ]
    for table, metric in MARK_TABLES.items():
        functions.append(pg_function(f"nurture_{table}", _pg_mark_delta(metric)))
    triggers = []
    for table in RAW_TABLES:
        function = "nurture_rollup_" + ("events" if table == "email_events" else table)
        for operation, referencing in TRANSITIONS:
            triggers.append(
                f"CREATE TRIGGER rollup_{table}_{operation.lower()} AFTER {operation} ON {table} "
                f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
    for table in MARK_TABLES:
        triggers.append(
            f"CREATE TRIGGER {table}_count AFTER INSERT OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION nurture_{table}()"
        )
    uninstall = [
        f"DROP TRIGGER IF EXISTS rollup_{table}_{operation} ON {table}"
        for table in RAW_TABLES
        for operation in ("insert", "update", "delete")
    ] + [f"DROP TRIGGER IF EXISTS {table}_count ON {table}" for table in MARK_TABLES]
    if actions:
        functions, triggers, uninstall = pg_actions(functions, triggers, uninstall)
    uninstall += [
        "DROP FUNCTION IF EXISTS " + name
        for name in (
            "nurture_rollup_deliveries()",
            "nurture_rollup_subscribers()",
            "nurture_rollup_events()",
            "nurture_rollup_event_marks()",
            "nurture_rollup_unsubscribe_marks()",
            "nurture_rollup_unsubscribes(bigint[])",
        )
    ]
    return Ddl(functions + triggers, uninstall)


def _pg_add_marks(rows: str) -> str:
    return (
        "INSERT INTO rollup_event_marks (course_slug, day, kind, subscriber_id) "
        f"SELECT DISTINCT n.course_slug, n.day, n.kind, n.subscriber_id FROM {rows} n "
        f"WHERE {mark_wanted('n')} ON CONFLICT DO NOTHING;"
    )


def _pg_drop_marks() -> str:
    return (
        "DELETE FROM rollup_event_marks m USING (SELECT DISTINCT course_slug, day, kind, "
        f"subscriber_id FROM old_rows WHERE kind IN {kinds(MARK_KINDS)}) o "
        f"WHERE {mark_key_matches('m', 'o')} AND {mark_orphaned('m')};"
    )


def _pg_mark_delta(metric: str) -> str:
    return (
        "IF TG_OP = 'INSERT' THEN\nINSERT INTO rollup_deltas (course_slug, day, metric, value) "
        f"VALUES (NEW.course_slug, NEW.day, {metric.format(r='NEW')}, 1);\nELSE\n"
        "INSERT INTO rollup_deltas (course_slug, day, metric, value) "
        f"VALUES (OLD.course_slug, OLD.day, {metric.format(r='OLD')}, -1);\nEND IF;"
    )


def install(connection: Connection) -> None:
    """Create the rollup triggers on CONNECTION's database."""
    for statement in _ddl(connection).install:
        connection.exec_driver_sql(statement)


def uninstall(connection: Connection) -> None:
    """Drop the rollup triggers (and PostgreSQL's functions)."""
    for statement in _ddl(connection).uninstall:
        connection.exec_driver_sql(statement)


def _ddl(connection: Connection) -> Ddl:
    actions = has_actions(connection)
    if connection.dialect.name == "postgresql":
        return postgresql_ddl(actions)
    return sqlite_ddl(actions)
