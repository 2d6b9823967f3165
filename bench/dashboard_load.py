"""Load a dashboard benchmark database with COPY: subscribers, deliveries and events.

Per subscriber: 5 lesson deliveries; per delivery: 4 events (20 events per subscriber), so
SCALE 1.0 is 1,000,000 subscribers, 5,000,000 deliveries and 20,000,000 events. Signups are
spread over the year before NOW; 90% confirm, 3% of those unsubscribe through our link.
Lessons go out a day apart (skipped after an unsubscribe or without confirmation, queued
when not due yet); 1% fail after 3 attempts, 3% need 2. Of the lessons sent, 96% are
delivered, the rest bounce (or are dropped); 35% are opened by a person, 25% by a machine,
8% clicked; 0.1% bring a spam report and 0.3% a SendGrid unsubscribe. Clicks are on the
booking page, so they are call-to-action clicks (source "cta"); a scanner clicks it in 10% of
the machine-opened lessons (machine clicks). 3% of the lessons sent are rated ("ja" 80%),
a quarter of those with a comment; 2% of the person's clicks bring a booking (conversions).

Secondary indexes are dropped during the COPY and built afterwards; foreign keys and
triggers are off for it (session_replication_role = replica), and the rollups are then
rebuilt from the raw tables (tracking.rollups.rebuild), as the migration does.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

import psycopg

DAY = 86400
LOADED_MARK = "bench.dashboard.loaded"
TABLES = ("subscribers", "deliveries", "email_events", "lesson_ratings", "conversions")
SUBSCRIBER_COLUMNS = (
    "id, email, first_name, status, course_slug, created_at, confirmed_at, "
    "unsubscribed_at, consent_version, soft_bounce_streak"
)
DELIVERY_COLUMNS = (
    "id, kind, subscriber_id, course_slug, day, state, attempts, created_at, not_before, "
    "sent_at, provider_message_id, delivered_at, first_opened_at, human_opens, "
    "machine_opens, clicks"
)
EVENT_COLUMNS = (
    "id, kind, source, event_key, delivery_id, subscriber_id, course_slug, day, machine, "
    "url, reason, user_agent, occurred_at, recorded_at"
)
RATING_COLUMNS = (
    "id, subscriber_id, delivery_id, course_slug, day, useful, comment, rated_at, commented_at"
)
CONVERSION_COLUMNS = "id, delivery_id, subscriber_id, course_slug, day, occurred_at"
COLUMNS = (
    SUBSCRIBER_COLUMNS,
    DELIVERY_COLUMNS,
    EVENT_COLUMNS,
    RATING_COLUMNS,
    CONVERSION_COLUMNS,
)
BOOKING_URL = "https://umoya.example/afspraak"  # the course's call to action
SCANNER = "Mozilla/5.0 (compatible; SafeLinks scanner)"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126 Safari/537.36"
N = r"\N"


class Stamps:
    """Format unix seconds as PostgreSQL timestamps quickly (one datetime per minute)."""

    def __init__(self) -> None:
        """Start with an empty cache of minutes."""
        self.minutes: dict[int, str] = {}

    def __call__(self, seconds: int) -> str:
        """Return SECONDS as 'YYYY-MM-DD HH:MM:SS+00'."""
        minute, second = divmod(seconds, 60)
        text = self.minutes.get(minute)
        if text is None:
            text = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%d %H:%M:")
            self.minutes[minute] = text
        return f"{text}{second:02d}+00"


def expected(scale: float) -> tuple[int, int, int]:
    """Return (subscribers, deliveries, events) at SCALE."""
    subscribers = round(1_000_000 * scale)
    return subscribers, subscribers * 5, subscribers * 20


def is_loaded(conninfo: str, scale: float) -> bool:
    """Tell whether the database already holds the data of SCALE (marked after a load)."""
    try:
        with psycopg.connect(conninfo) as connection:
            row = connection.execute(
                "SELECT value FROM counters WHERE name = %s", (LOADED_MARK,)
            ).fetchone()
    except psycopg.Error:
        return False
    return row is not None and row[0] == expected(scale)[0]


def _rows(count: int, course: str, now: int, stamp: Stamps):  # type: ignore[no-untyped-def]
    """Yield (subscriber line, delivery, event, rating and conversion lines) per subscriber."""
    rng = random.Random(42)
    year = 365 * DAY
    event_id = 0
    for sid in range(1, count + 1):
        created = now - year + (sid * year) // count - rng.randrange(3600)
        confirmed = rng.random() < 0.9
        leaves = confirmed and rng.random() < 0.03
        unsub = created + rng.randrange(1, 6) * DAY - 3600 if leaves else 0
        status = "unsubscribed" if unsub else ("confirmed" if confirmed else "pending")
        subscriber = (
            f"{sid}\tsub{sid}@example{sid % 97}.nl\tNaam{sid % 1000}\t{status}\t{course}\t"
            f"{stamp(created)}\t{stamp(created + 600) if confirmed else N}\t"
            f"{stamp(unsub) if unsub else N}\t{'v1' if confirmed else N}\t0\n"
        )
        deliveries: list[str] = []
        events: list[str] = []
        ratings: list[str] = []
        conversions: list[str] = []
        for day in range(1, 6):
            did = (sid - 1) * 5 + day
            due = created + (day - 1) * DAY + 3600
            sent = delivered = opened = 0
            human = machine = clicks = attempts = 0
            if not confirmed or (unsub and due > unsub):
                state = "skipped"
            elif due > now:
                state = "queued"
            elif rng.random() < 0.01:
                state, attempts = "failed", 3
            else:
                state, sent = "sent", due + rng.randrange(60)
                attempts = 2 if rng.random() < 0.03 else 1
                delivered = sent + 5 if rng.random() < 0.96 else 0
                draw = rng.random()
                human = 1 if draw < 0.35 else 0
                machine = 1 if 0.35 <= draw < 0.6 else 0
                clicks = 1 if human and rng.random() < 0.23 else 0
                opened = sent + 3600 if human else 0
            deliveries.append(
                f"{did}\tlesson\t{sid}\t{course}\t{day}\t{state}\t{attempts}\t"
                f"{stamp(created)}\t{stamp(due)}\t{stamp(sent) if sent else N}\t"
                f"{'m' + str(did) if sent else N}\t{stamp(delivered) if delivered else N}\t"
                f"{stamp(opened) if opened else N}\t{human}\t{machine}\t{clicks}\n"
            )
            at = sent or due
            if sent:
                second = "delivered" if delivered else ("bounce" if did % 4 else "dropped")
                third = "open" if human or machine else "deferred"
                draw = rng.random()
                scanned = machine and draw >= 0.9
                fourth = (
                    "click"
                    if clicks or scanned
                    else "spamreport"
                    if draw < 0.001
                    else "unsubscribe"
                    if draw < 0.004
                    else "open"
                )
                kinds = ("processed", second, third, fourth)
            else:
                kinds = ("processed", "deferred", "deferred", "deferred")
            for n, kind in enumerate(kinds):
                event_id += 1
                click = kind == "click"
                url = BOOKING_URL if click else N
                reason = "550 5.1.1 user unknown" if kind == "bounce" else N
                agent = (SCANNER if machine else BROWSER) if kind in ("open", "click") else N
                moment = stamp(at + n * 600)
                judged = "t" if machine and kind in ("open", "click") else "f"
                events.append(
                    f"{event_id}\t{kind}\t{'cta' if click else 'sendgrid'}\tsg{event_id}\t{did}\t"
                    f"{sid}\t{course}\t{day}\t{judged}\t"
                    f"{url}\t{reason}\t{agent}\t{moment}\t{moment}\n"
                )
            if sent and rng.random() < 0.03:
                useful = rng.random() < 0.8
                said = rng.random() < 0.25
                rated = stamp(sent + 7200)
                ratings.append(
                    f"{did}\t{sid}\t{did}\t{course}\t{day}\t{'t' if useful else 'f'}\t"
                    f"{('Heel duidelijk, dank je.' if useful else 'Te kort.') if said else N}\t"
                    f"{rated}\t{rated if said else N}\n"
                )
            if clicks and rng.random() < 0.02:
                conversions.append(f"{did}\t{did}\t{sid}\t{course}\t{day}\t{stamp(sent + 4000)}\n")
        yield subscriber, deliveries, events, ratings, conversions


def _secondary_indexes(connection: psycopg.Connection) -> list[tuple[str, str, str]]:
    """Return (table, drop, create) of the loaded tables' indexes and unique constraints."""
    found = []
    for table, name, definition, constraint in connection.execute(
        "SELECT i.tablename, i.indexname, i.indexdef, c.conname FROM pg_indexes i "
        "LEFT JOIN pg_constraint c ON c.conname = i.indexname "
        "WHERE i.tablename = ANY(%s) AND c.contype IS DISTINCT FROM 'p'",
        (list(TABLES),),
    ):
        if constraint:
            (condef,) = connection.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s",
                (constraint,),
            ).fetchone()
            found.append(
                (
                    table,
                    f"ALTER TABLE {table} DROP CONSTRAINT {constraint}",
                    f"ALTER TABLE {table} ADD CONSTRAINT {constraint} {condef}",
                )
            )
        else:
            found.append((table, f"DROP INDEX {name}", definition))
    return found


def load(conninfo: str, scale: float, course: str, log=print) -> None:  # type: ignore[no-untyped-def]
    """Fill the migrated, empty database at CONNINFO with the data of SCALE."""
    count = expected(scale)[0]
    now = int(time.time())
    stamp = Stamps()
    started = time.monotonic()
    with psycopg.connect(conninfo) as connection:
        connection.execute("SET session_replication_role = replica")
        connection.execute("SET maintenance_work_mem = '512MB'")
        indexes = _secondary_indexes(connection)
        for _table, drop, _create in indexes:
            connection.execute(drop)
        # One COPY at a time per connection: a slice of each table in turn.
        slice_: list[list[str]] = [[] for _table in TABLES]
        for n, (subscriber, *lines) in enumerate(_rows(count, course, now, stamp), 1):
            slice_[0].append(subscriber)
            for kept, more in zip(slice_[1:], lines, strict=True):
                kept.extend(more)
            if n % 20_000 == 0:
                _copy_slice(connection, slice_)
                slice_ = [[] for _table in TABLES]
                log(f"  {n:,} subscribers copied ({time.monotonic() - started:.0f} s)")
        _copy_slice(connection, slice_)
        log(f"  copied ({time.monotonic() - started:.0f} s); building indexes")
        for _table, _drop, create in indexes:
            connection.execute(create)
        for table in TABLES:
            connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
        connection.execute("SET session_replication_role = DEFAULT")
        connection.commit()
    with psycopg.connect(conninfo, autocommit=True) as connection:
        # The rebuild's plans need the tables' statistics (none yet after a COPY).
        for table in TABLES:
            connection.execute(f"ANALYZE {table}")
    log(f"  indexes built ({time.monotonic() - started:.0f} s); rebuilding the rollups")
    from sqlalchemy import create_engine

    engine = create_engine(conninfo.replace("postgresql://", "postgresql+psycopg://", 1))
    from tracking.rollups import rebuild

    with engine.begin() as connection:
        rebuild(connection)
    engine.dispose()
    with psycopg.connect(conninfo, autocommit=True) as connection:
        for table in (
            *TABLES,
            "rollups",
            "rollup_deltas",
            "rollup_event_marks",
            "rollup_cta_marks",
        ):
            connection.execute(f"VACUUM ANALYZE {table}")
        connection.execute(
            "INSERT INTO counters (name, value) VALUES (%s, %s)", (LOADED_MARK, count)
        )
    log(f"  loaded in {time.monotonic() - started:.0f} s")


def _copy_slice(connection: psycopg.Connection, slice_: list[list[str]]) -> None:
    """COPY one slice of each table."""
    for table, columns, lines in zip(TABLES, COLUMNS, slice_, strict=True):
        if not lines:
            continue
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            for start in range(0, len(lines), 10_000):
                copy.write("".join(lines[start : start + 10_000]))


def reset_schema(conninfo: str, url: str) -> None:
    """Empty the database at CONNINFO and migrate it (URL is its SQLAlchemy form)."""
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
    from store.migrate import upgrade

    upgrade(url)
