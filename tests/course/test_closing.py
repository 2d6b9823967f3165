"""The [closing] table of course.toml: off by default, checked with a clear message."""

from __future__ import annotations

import pytest
from closing_support import CLOSING_TOML, content_with_closing
from emails_support import mail_env, renderer_for

from course.loader import CONTENT_DIR, CourseError, load_course_from
from emails.preview import write_preview

__all__ = ["mail_env"]  # the fixture, imported so pytest finds it here

COURSE = "rugpijn-en-training"
SUBJECT = 'subject = "Bedankt voor het volgen van de cursus"'


def test_the_shipped_course_has_no_closing_email():
    assert load_course_from(CONTENT_DIR / COURSE).closing is None


def test_closing_is_read_from_course_toml(tmp_path):
    course = load_course_from(content_with_closing(tmp_path, after_days=4) / COURSE)
    assert course.closing is not None
    assert (course.closing.after_days, course.closing.subject) == (
        4,
        "Bedankt voor het volgen van de cursus",
    )


def test_after_days_zero_switches_it_off(tmp_path):
    assert load_course_from(content_with_closing(tmp_path, after_days=0) / COURSE).closing is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("after_days = 3", 'after_days = "drie"'), "after_days moet een heel getal van 0"),
        (
            ("after_days = 3", "after_days = 61"),
            "after_days moet een heel getal van 0 tot en met 60",
        ),
        (("[closing]", "[closing]\nbutton = 'x'"), "onbekend veld button in [closing]"),
        ((f"{SUBJECT}\n", ""), "in [closing] ontbreekt subject"),
        ((SUBJECT, 'subject = " "'), "mogen niet leeg zijn"),
    ],
)
def test_a_broken_closing_table_is_refused_by_name(tmp_path, change, message):
    folder = content_with_closing(tmp_path, after_days=3) / COURSE
    toml = folder / "course.toml"
    original = CLOSING_TOML.format(after_days=3)
    toml.write_text(
        toml.read_text(encoding="utf-8").replace(original, original.replace(*change)),
        encoding="utf-8",
    )
    with pytest.raises(CourseError, match=message.replace("[", r"\[")) as raised:
        load_course_from(folder)
    assert str(toml) in str(raised.value)


def test_the_preview_shows_the_closing_email_when_switched_on(mail_env, tmp_path):
    course = load_course_from(content_with_closing(tmp_path / "courses", after_days=3) / COURSE)
    out = tmp_path / "preview"
    write_preview(renderer_for(mail_env), course, out)
    text = (out / "afsluiting.txt").read_text(encoding="utf-8")
    assert text.startswith("Hallo Sanne,") and "Plan een beoordeling: https://" in text
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "Afsluitmail (3 dagen na de laatste les): Bedankt voor het volgen" in index
    assert index.count('href="afsluiting.') == 2
