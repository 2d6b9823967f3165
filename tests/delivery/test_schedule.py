"""The lesson schedule: send time in the subscriber's zone, DST changes, weekends, min gap."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import load_settings
from delivery.schedule import (
    MIN_GAP,
    Cadence,
    cadence_for,
    first_due_at,
    next_due_after,
    rescheduled_due_at,
    resume_due_at,
)

AMS = ZoneInfo("Europe/Amsterdam")
AUCKLAND = ZoneInfo("Pacific/Auckland")
TOKYO = ZoneInfo("Asia/Tokyo")


def cadence(
    zone: ZoneInfo = AMS,
    at: time = time(7, 30),
    *,
    skip_weekends: bool = False,
    day_seconds: int = 86400,
    immediately: bool = True,
) -> Cadence:
    return Cadence(
        zone=zone,
        send_time=at,
        skip_weekends=skip_weekends,
        day_seconds=day_seconds,
        first_lesson_immediately=immediately,
    )


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)  # type: ignore[misc]


def run_course(start: datetime, rules: Cadence, days: int = 5) -> list[datetime]:
    """Return each lesson's send time when every lesson goes out the moment it's due."""
    due = first_due_at(start, rules)
    sends = [due]
    for _ in range(days - 1):
        due = next_due_after(due, rules)
        sends.append(due)
    return sends


def test_spring_forward_amsterdam_keeps_local_send_time():
    # 29 March 2026: clocks jump 02:00 -> 03:00, so that day is 23 hours long.
    sends = run_course(local(AMS, 2026, 3, 27, 7, 30), cadence())
    assert [s.astimezone(AMS).replace(tzinfo=None) for s in sends] == [
        datetime(2026, 3, d, 7, 30) for d in (27, 28, 29, 30, 31)
    ]
    utc_hours = [s.astimezone(UTC).hour for s in sends]
    assert utc_hours == [6, 6, 5, 5, 5]  # CET (+1) until the change, CEST (+2) after
    assert sends[2] - sends[1] == timedelta(hours=23)


def test_fall_back_amsterdam_keeps_local_send_time():
    # 25 October 2026: clocks go 03:00 -> 02:00, so that day is 25 hours long.
    sends = run_course(local(AMS, 2026, 10, 23, 7, 30), cadence())
    assert [s.astimezone(AMS).day for s in sends] == [23, 24, 25, 26, 27]
    assert all(s.astimezone(AMS).time() == time(7, 30) for s in sends)
    assert sends[2] - sends[1] == timedelta(hours=25)
    assert [s.astimezone(UTC).hour for s in sends] == [5, 5, 6, 6, 6]


def test_send_time_inside_spring_gap_lands_after_the_gap():
    # 02:30 does not exist on 29 March in Amsterdam; the lesson goes out at 03:30 CEST.
    rules = cadence(at=time(2, 30))
    due = next_due_after(local(AMS, 2026, 3, 28, 2, 30), rules)
    assert due == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert due.astimezone(AMS).replace(tzinfo=None) == datetime(2026, 3, 29, 3, 30)


def test_send_time_inside_autumn_overlap_is_sent_once_at_first_occurrence():
    rules = cadence(at=time(2, 30))
    due = next_due_after(local(AMS, 2026, 10, 24, 2, 30), rules)
    # The first 02:30 of 25 October is still summer time (UTC+2).
    assert due == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    following = next_due_after(due, rules)
    assert following == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize("zone", [AUCKLAND, TOKYO])
def test_zone_ahead_of_utc_uses_local_calendar_day(zone):
    # mautic#17283: 07:30 in Auckland/Tokyo is the previous day in UTC. A lesson sent at
    # 07:30 local must be followed by 07:30 local the next local day, not by a UTC-day slot.
    sent = local(zone, 2026, 6, 10, 7, 30)
    due = next_due_after(sent, cadence(zone))
    assert due.astimezone(zone) == local(zone, 2026, 6, 11, 7, 30)
    assert due - sent == timedelta(days=1)


def test_auckland_dst_changes():
    # NZ: DST ends 5 April 2026 (03:00 -> 02:00), starts 27 September 2026 (02:00 -> 03:00).
    rules = cadence(AUCKLAND)
    autumn = run_course(local(AUCKLAND, 2026, 4, 3, 7, 30), rules)
    spring = run_course(local(AUCKLAND, 2026, 9, 25, 7, 30), rules)
    for sends in (autumn, spring):
        assert all(s.astimezone(AUCKLAND).time() == time(7, 30) for s in sends)
        days = [s.astimezone(AUCKLAND).date() for s in sends]
        assert days == [days[0] + timedelta(days=n) for n in range(5)]
    assert autumn[2] - autumn[1] == timedelta(hours=25)
    assert spring[2] - spring[1] == timedelta(hours=23)


def test_late_confirmation_never_gives_two_lessons_within_min_gap():
    # Day 1 goes out at 23:50; 07:30 next morning would be under eight hours later.
    rules = cadence()
    day1 = local(AMS, 2026, 5, 12, 23, 50)
    day2 = next_due_after(day1, rules)
    assert day2 - day1 >= MIN_GAP
    assert day2.astimezone(AMS) == local(AMS, 2026, 5, 14, 7, 30)


def test_early_morning_send_waits_for_next_calendar_day():
    day1 = local(AMS, 2026, 5, 12, 0, 10)
    assert next_due_after(day1, cadence()).astimezone(AMS) == local(AMS, 2026, 5, 13, 7, 30)


def test_skip_weekends_moves_friday_to_monday():
    rules = cadence(skip_weekends=True)
    friday = local(AMS, 2026, 3, 27, 7, 30)  # Friday before the spring change
    monday = next_due_after(friday, rules)
    assert monday.astimezone(AMS) == local(AMS, 2026, 3, 30, 7, 30)
    assert monday.astimezone(UTC).hour == 5


def test_skip_weekends_first_lesson_at_next_send_time():
    rules = cadence(skip_weekends=True, immediately=False)
    saturday_noon = local(AMS, 2026, 10, 24, 12, 0)
    assert first_due_at(saturday_noon, rules).astimezone(AMS) == local(AMS, 2026, 10, 26, 7, 30)


def test_first_lesson_immediately_or_at_next_send_time():
    confirmed = local(AMS, 2026, 5, 12, 9, 0)
    assert first_due_at(confirmed, cadence()) == confirmed
    later = first_due_at(confirmed, cadence(immediately=False))
    assert later.astimezone(AMS) == local(AMS, 2026, 5, 13, 7, 30)
    early = first_due_at(local(AMS, 2026, 5, 12, 6, 0), cadence(immediately=False))
    assert early.astimezone(AMS) == local(AMS, 2026, 5, 12, 7, 30)


def test_compressed_days_have_no_alignment():
    rules = cadence(day_seconds=20, skip_weekends=True, immediately=False)
    start = local(AMS, 2026, 3, 28, 23, 59)  # Saturday night, before the DST change
    sends = run_course(start, rules)
    assert sends[0] == start
    assert [b - a for a, b in itertools.pairwise(sends)] == [timedelta(seconds=20)] * 4
    assert resume_due_at(start, rules) == start


def test_resume_continues_at_next_send_time():
    rules = cadence(skip_weekends=True)
    friday_evening = local(AMS, 2026, 10, 23, 20, 0)
    assert resume_due_at(friday_evening, rules).astimezone(AMS) == local(AMS, 2026, 10, 26, 7, 30)
    morning = local(AMS, 2026, 10, 21, 6, 0)
    assert resume_due_at(morning, rules).astimezone(AMS) == local(AMS, 2026, 10, 21, 7, 30)


def test_cadence_for_prefers_subscriber_zone(monkeypatch):
    monkeypatch.setenv("NURTURE_SEND_TIME", "8:05")
    monkeypatch.setenv("NURTURE_SKIP_WEEKENDS", "true")
    base = load_settings(mail_backend="outbox")
    rules = cadence_for(base, None, "Asia/Tokyo")
    assert rules.zone == TOKYO
    assert rules.send_time == time(8, 5)
    assert rules.skip_weekends is True
    assert cadence_for(base).zone == ZoneInfo(base.timezone)


NEW_YORK = ZoneInfo("America/New_York")


def test_a_readers_own_hour_beats_the_course_and_the_settings(monkeypatch):
    monkeypatch.setenv("NURTURE_SEND_TIME", "07:30")
    base = load_settings(mail_backend="outbox")
    rules = cadence_for(base, None, "America/New_York", "19:00")
    assert (rules.zone, rules.send_time) == (NEW_YORK, time(19, 0))
    assert cadence_for(base, None, None, None).send_time == time(7, 30)


def test_a_readers_evening_hour_in_new_york_stays_local_across_us_dst():
    # 8 March 2026: New York goes from EST (-5) to EDT (-4); Europe changes three weeks later.
    sends = run_course(local(NEW_YORK, 2026, 3, 6, 19, 0), cadence(NEW_YORK, time(19, 0)))
    assert [s.astimezone(NEW_YORK).replace(tzinfo=None) for s in sends] == [
        datetime(2026, 3, d, 19, 0) for d in (6, 7, 8, 9, 10)
    ]
    assert [s.astimezone(UTC).hour for s in sends] == [0, 0, 23, 23, 23]
    assert sends[2] - sends[1] == timedelta(hours=23)


def test_a_readers_hour_in_the_autumn_overlap_is_sent_once():
    # 1 November 2026 01:30 happens twice in New York; the lesson goes out at the first one.
    sends = run_course(local(NEW_YORK, 2026, 10, 30, 1, 30), cadence(NEW_YORK, time(1, 30)))
    firsts = [s.astimezone(NEW_YORK) for s in sends]
    assert [moment.day for moment in firsts] == [30, 31, 1, 2, 3]
    assert all(moment.hour == 1 and moment.minute == 30 for moment in firsts)
    assert sends[2].astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # EDT, fold 0


def test_a_new_hour_moves_the_coming_lesson_within_its_local_day():
    sent = local(AMS, 2026, 3, 2, 7, 30)
    due = next_due_after(sent, cadence())  # Tuesday 07:30
    evening = cadence(at=time(19, 0))
    assert rescheduled_due_at(due, sent + timedelta(hours=2), sent, evening) == local(
        AMS, 2026, 3, 3, 19, 0
    )
    # Earlier in the day is fine, as long as it keeps the minimum gap after the last lesson.
    early = cadence(at=time(6, 0))
    assert rescheduled_due_at(due, sent + timedelta(hours=2), sent, early) == local(
        AMS, 2026, 3, 3, 6, 0
    )
    late_sent = local(AMS, 2026, 3, 2, 22, 0)
    moved = rescheduled_due_at(due, late_sent, late_sent, early)
    assert moved - late_sent >= MIN_GAP and moved == local(AMS, 2026, 3, 4, 6, 0)
    # Never into the past: the hour has gone by today, so tomorrow.
    now = local(AMS, 2026, 3, 3, 8, 0)
    assert rescheduled_due_at(local(AMS, 2026, 3, 3, 9, 0), now, sent, early) == local(
        AMS, 2026, 3, 4, 6, 0
    )
    # Another zone: the same local day there.
    new_york = cadence(NEW_YORK, time(7, 30))
    assert rescheduled_due_at(due, sent + timedelta(hours=1), sent, new_york) == local(
        NEW_YORK, 2026, 3, 3, 7, 30
    )


zones = st.sampled_from([AMS, AUCKLAND, TOKYO, ZoneInfo("America/New_York")])
moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(zone=zones, sent=moments, skip=st.booleans())
def test_next_lesson_properties(zone, sent, skip):
    rules = cadence(zone, skip_weekends=skip)
    due = next_due_after(sent, rules)
    due_local = due.astimezone(zone)
    assert due - sent >= MIN_GAP
    assert due_local.date() > sent.astimezone(zone).date()
    assert due_local.date() - sent.astimezone(zone).date() <= timedelta(days=4)
    assert due_local.time() == time(7, 30)
    if skip:
        assert due_local.weekday() < 5
    assert isinstance(due_local.date(), date)
