"""SQLite's rollup triggers: row triggers doing what PostgreSQL's statement triggers do."""

from __future__ import annotations

from tracking.rollup_actions import (
    CTA_CLICK,
    CTA_COLUMNS,
    CTA_MARKS,
    EVENT_CONTRIBUTIONS,
    RATING_COLUMNS,
    RATING_CONTRIBUTIONS,
    cta_mark_deltas,
    cta_recount,
)
from tracking.rollup_sql import (
    DELIVERY_COLUMNS,
    DELIVERY_CONTRIBUTIONS,
    EVENT_KEY,
    MARK_TABLES,
    MARKED,
    PLACEMENT,
    SUBSCRIBER_COLUMNS,
    UNSUBSCRIBE_KINDS,
    UNSUBSCRIBED,
    Ddl,
    changed,
    contributions_select,
    insert_deltas,
    kinds,
    mark_key_matches,
    mark_orphaned,
    mark_wanted,
    subscriber_contributions,
    unsubscribe_recount,
)


def _trigger(name: str, timing: str, body: str, when: str = "") -> str:
    condition = f" WHEN {when}" if when else ""
    return f"CREATE TRIGGER {name} AFTER {timing}{condition} BEGIN\n{body}END"


def _deltas(contributions: list[tuple[str, str, str]], new: bool, old: bool) -> str:
    selects = []
    if new:
        selects.append(contributions_select(contributions, "NEW", "", 1))
    if old:
        selects.append(contributions_select(contributions, "OLD", "", -1))
    return insert_deltas(selects) + ";\n"


def _recount(subscriber: str) -> str:
    return unsubscribe_recount(f"= {subscriber}")


def _counted_table(
    name: str, table: str, contributions: list[tuple[str, str, str]], columns: list[str]
) -> list[str]:
    return [
        _trigger(f"{name}_insert", f"INSERT ON {table}", _deltas(contributions, True, False)),
        _trigger(
            f"{name}_update",
            f"UPDATE ON {table}",
            _deltas(contributions, True, True),
            changed(columns, "OLD", "NEW", "IS NOT"),
        ),
        _trigger(f"{name}_delete", f"DELETE ON {table}", _deltas(contributions, False, True)),
    ]


def _event_triggers() -> list[str]:
    add_mark = (
        "INSERT OR IGNORE INTO rollup_event_marks (course_slug, day, kind, subscriber_id) "
        "SELECT NEW.course_slug, NEW.day, NEW.kind, NEW.subscriber_id "
        f"WHERE {mark_wanted('NEW')};\n"
    )
    drop_mark = (
        f"DELETE FROM rollup_event_marks WHERE {mark_key_matches('rollup_event_marks', 'OLD')} "
        f"AND {mark_orphaned('OLD')};\n"
    )
    leaving = f"NEW.kind IN {kinds(UNSUBSCRIBE_KINDS)} AND NEW.subscriber_id IS NOT NULL"
    columns = ", ".join(EVENT_KEY)
    return [
        _trigger("rollup_events_insert", "INSERT ON email_events", add_mark),
        _trigger(
            "rollup_events_insert_unsub",
            "INSERT ON email_events",
            _recount("NEW.subscriber_id"),
            leaving,
        ),
        _trigger(
            "rollup_events_update",
            f"UPDATE OF {columns} ON email_events",
            drop_mark + add_mark + _recount("OLD.subscriber_id") + _recount("NEW.subscriber_id"),
        ),
        _trigger(
            "rollup_events_delete",
            "DELETE ON email_events",
            drop_mark + _recount("OLD.subscriber_id"),
        ),
    ]


def _unsubscribe_triggers() -> list[str]:
    placement = ", ".join(PLACEMENT)
    return [
        _trigger(
            "rollup_subscribers_insert_unsub",
            "INSERT ON subscribers",
            _recount("NEW.id"),
            "NEW.unsubscribed_at IS NOT NULL",
        ),
        _trigger(
            "rollup_subscribers_update_unsub",
            "UPDATE OF unsubscribed_at, course_slug ON subscribers",
            _recount("NEW.id"),
        ),
        _trigger(
            "rollup_subscribers_delete_unsub",
            "DELETE ON subscribers",
            "DELETE FROM rollup_unsubscribe_marks WHERE subscriber_id = OLD.id;\n",
        ),
        _trigger(
            "rollup_deliveries_insert_unsub",
            "INSERT ON deliveries",
            _recount("NEW.subscriber_id"),
            "NEW.sent_at IS NOT NULL AND " + UNSUBSCRIBED.format(sid="NEW.subscriber_id"),
        ),
        _trigger(
            "rollup_deliveries_update_unsub",
            f"UPDATE OF {placement} ON deliveries",
            _recount("OLD.subscriber_id") + _recount("NEW.subscriber_id"),
            UNSUBSCRIBED.format(sid="NEW.subscriber_id")
            + " OR "
            + MARKED.format(sid="OLD.subscriber_id"),
        ),
        _trigger(
            "rollup_deliveries_delete_unsub",
            "DELETE ON deliveries",
            _recount("OLD.subscriber_id"),
            MARKED.format(sid="OLD.subscriber_id"),
        ),
    ]


def _mark_triggers() -> list[str]:
    triggers = []
    for table, metric in MARK_TABLES.items():
        for timing, row, sign in (("INSERT", "NEW", 1), ("DELETE", "OLD", -1)):
            triggers.append(
                _trigger(
                    f"{table}_{timing.lower()}",
                    f"{timing} ON {table}",
                    "INSERT INTO rollup_deltas (course_slug, day, metric, value) "
                    f"VALUES ({row}.course_slug, {row}.day, {metric.format(r=row)}, {sign});\n",
                )
            )
    return triggers


def _action_triggers() -> list[str]:
    """Return the call-to-action and rating triggers (tracking.rollup_actions)."""
    old_click, new_click = CTA_CLICK.format(r="OLD"), CTA_CLICK.format(r="NEW")
    return [
        _trigger(
            "rollup_events_cta_insert",
            "INSERT ON email_events",
            _deltas(EVENT_CONTRIBUTIONS, True, False) + cta_recount("= NEW.subscriber_id"),
            new_click,
        ),
        _trigger(
            "rollup_events_cta_update",
            f"UPDATE OF {', '.join(CTA_COLUMNS)} ON email_events",
            _deltas(EVENT_CONTRIBUTIONS, True, True)
            + cta_recount("= OLD.subscriber_id")
            + cta_recount("= NEW.subscriber_id"),
            f"({old_click}) OR ({new_click})",
        ),
        _trigger(
            "rollup_events_cta_delete",
            "DELETE ON email_events",
            _deltas(EVENT_CONTRIBUTIONS, False, True) + cta_recount("= OLD.subscriber_id"),
            old_click,
        ),
        *_counted_table(
            "rollup_lesson_ratings", "lesson_ratings", RATING_CONTRIBUTIONS, RATING_COLUMNS
        ),
        _trigger(f"{CTA_MARKS}_insert", f"INSERT ON {CTA_MARKS}", cta_mark_deltas("NEW", 1)),
        _trigger(f"{CTA_MARKS}_delete", f"DELETE ON {CTA_MARKS}", cta_mark_deltas("OLD", -1)),
    ]


def sqlite_ddl(actions: bool) -> Ddl:
    """Return SQLite's row triggers (ACTIONS: those of the call to action and ratings too)."""
    install = (
        _counted_table("rollup_deliveries", "deliveries", DELIVERY_CONTRIBUTIONS, DELIVERY_COLUMNS)
        + _counted_table(
            "rollup_subscribers",
            "subscribers",
            subscriber_contributions("sqlite"),
            SUBSCRIBER_COLUMNS,
        )
        + _event_triggers()
        + _unsubscribe_triggers()
        + _mark_triggers()
        + (_action_triggers() if actions else [])
    )
    names = [statement.split()[2] for statement in install]
    return Ddl(install, [f"DROP TRIGGER IF EXISTS {name}" for name in names])
