"""Where each day of a course goes in a new version: kept, edited in place, moved, removed."""

from __future__ import annotations

from course.versions import day_mapping, moved_days


def course(*lessons: tuple[str, str]) -> dict:
    return {
        "settings": {},
        "lessons": [
            {"day": day, "subject": subject, "body": body}
            for day, (subject, body) in enumerate(lessons, start=1)
        ],
    }


OLD = course(("een", "1"), ("twee", "2"), ("drie", "3"), ("vier", "4"))


def test_an_edit_in_place_moves_nothing():
    new = course(("een", "1"), ("twee, beter", "2 beter"), ("drie", "3"), ("vier", "4"))
    assert day_mapping(OLD, new) == {1: 1, 2: 2, 3: 3, 4: 4}
    assert moved_days(day_mapping(OLD, new)) == []


def test_a_removed_middle_day_moves_the_later_ones():
    new = course(("een", "1"), ("twee", "2"), ("vier", "4"))
    assert day_mapping(OLD, new) == {1: 1, 2: 2, 3: None, 4: 3}
    assert moved_days(day_mapping(OLD, new)) == [3, 4]


def test_a_removed_last_day():
    new = course(("een", "1"), ("twee", "2"), ("drie", "3"))
    assert moved_days(day_mapping(OLD, new)) == [4]


def test_a_swap_is_found_by_subject_or_body():
    new = course(("een", "1"), ("drie, herschreven", "3"), ("twee", "2"), ("vier", "4"))
    assert day_mapping(OLD, new) == {1: 1, 2: 3, 3: 2, 4: 4}


def test_a_replaced_day_with_new_text_counts_as_edited_in_place():
    new = course(("een", "1"), ("iets anders", "anders"), ("drie", "3"), ("vier", "4"))
    assert moved_days(day_mapping(OLD, new)) == []
