"""Where the check's problems belong (course.placing): a lesson's field, a setting, the course.

Each case breaks the shipped course the way the studio (or an imported folder) can, runs the
real publish check on it and looks where its one problem is placed.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from course.content import Content, read_folder
from course.loader import CONTENT_DIR
from course.placeholders import EXAMPLE_POSTAL_ADDRESS
from course.placing import Placed, place_problems
from course.review import publish_blockers

SLUG = "rugpijn-en-training"
SHIPPED = read_folder(CONTENT_DIR / SLUG)
REAL = {"postal_address": "Kerkstraat 12, 1017 GB Amsterdam", "website": "https://praktijk.nl"}


def publishable() -> Content:
    """Return the shipped course with the clinic's real details: it has no problems."""
    content = copy.deepcopy(SHIPPED)
    content["settings"]["clinic"] |= REAL
    content["settings"]["cta"]["url"] = "https://praktijk.nl/afspraak"
    assert publish_blockers(SLUG, content, []) == []
    return content


def only_placed(content: Content, history: list[Content] | None = None) -> Placed:
    """Return the single problem of CONTENT, placed."""
    problems = publish_blockers(SLUG, content, history or [])
    assert len(problems) == 1, problems
    [placed] = place_problems(SLUG, content, problems)
    return placed


def lesson(content: Content, day: int) -> dict[str, Any]:
    return next(each for each in content["lessons"] if each["day"] == day)


@pytest.mark.parametrize(
    ("day", "change", "key"),
    [
        (1, {"subject": "x" * 71}, "subject"),
        (1, {"subject": ""}, "subject"),  # no subject line at all: the message names it
        (2, {"preheader": "x" * 141}, "preheader"),
        (4, {"teaser": ""}, "teaser"),  # missing, so line 1: the message names it
        (5, {"teaser": "Morgen meer."}, "teaser"),  # the last day has no next day
        (3, {"body": "Zie [dit](http://praktijk.nl/oud).\n"}, "body"),
        (3, {"body": "Zie [dit](https://umoya.example/rug).\n"}, "body"),  # example content
    ],
)
def test_a_lesson_problem_goes_to_its_field(day: int, change: dict[str, str], key: str):
    content = publishable()
    lesson(content, day).update(change)
    placed = only_placed(content)
    assert (placed.file, placed.keys, placed.day) == (
        f"{lesson(content, day)['name']}.md",
        (key,),
        day,
    )
    assert not placed.whole_course
    assert not placed.message.startswith(SLUG), placed.message


def test_two_missing_front_matter_keys_go_to_both_fields():
    content = publishable()
    lesson(content, 2).update(subject="", preheader="")
    placed = only_placed(content)
    assert set(placed.keys) == {"preheader", "subject"}
    assert placed.message == (
        "in de kop van de les ontbreken de voorvertoningstekst (preheader) en het onderwerp "
        "(subject); vul ze in"
    )


def test_a_missing_day_is_about_the_whole_course():
    content = publishable()
    content["lessons"].remove(lesson(content, 3))
    placed = only_placed(content)
    assert (placed.file, placed.keys, placed.day) == ("04-wat-helpt.md", ("day",), 4)
    assert placed.whole_course and placed.message.startswith("dag 3 ontbreekt")


def test_a_duplicate_day_is_about_the_whole_course():
    content = publishable()
    content["lessons"].append(lesson(content, 3) | {"name": "03b-kopie"})
    placed = only_placed(content)
    assert (placed.file, placed.keys, placed.whole_course) == ("03b-kopie.md", ("day",), True)
    assert placed.message.startswith("dag 3 komt twee keer voor")


@pytest.mark.parametrize(
    ("table", "key", "value", "message"),
    [
        ("cta", "url", "http://praktijk.nl/afspraak", "moet een volledig adres zijn"),
        ("cadence", "send_time", "7 uur", "de verzendtijd (send_time) moet UU:MM zijn"),
        ("clinic", "postal_address", EXAMPLE_POSTAL_ADDRESS, "voorbeeldinhoud"),
        (None, "sender_name", " ", "de naam van de afzender is leeg"),
    ],
)
def test_a_settings_problem_goes_to_its_setting(table, key, value, message):
    content = publishable()
    (content["settings"][table] if table else content["settings"])[key] = value
    placed = only_placed(content)
    assert (placed.file, placed.keys) == ("course.toml", (f"{table}.{key}" if table else key,))
    assert placed.whole_course and message in placed.message


def test_a_consent_text_changed_without_its_version_goes_to_the_version():
    content, earlier = publishable(), publishable()
    content["settings"]["consent"]["text"] = "Een nieuwe tekst."
    placed = only_placed(content, [earlier])
    assert (placed.file, placed.keys) == ("course.toml", ("consent.version",))


def test_a_problem_of_no_course_file_is_about_the_whole_course():
    content = publishable()
    problems = [
        f"{SLUG}: er is geen concept",
        "/app/emails/templates/lesson.html:3: fout in het mailsjabloon bij het opmaken van x",
        f"{SLUG}/99-bestaat-niet.md:2: iets",
    ]
    placed = place_problems(SLUG, content, problems)
    assert [(each.file, each.keys, each.whole_course) for each in placed] == [("", (), True)] * 3
    assert placed[0].message == "er is geen concept"
