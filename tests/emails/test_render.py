"""Lesson and confirmation emails: content, tracked links, headers, caching, and hostile names."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from emails_support import (
    mail_env,
    mail_settings,
    renderer,
    renderer_for,
    sample_course,
    shipped_course,
)
from fake_sendgrid_rules import validate_mail
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course.loader import Course, load_course_from
from emails.lesson_links import TRAP_PATH, is_trap
from emails.message import Tags
from emails.render import Recipient, Renderer
from emails.tokens import TokenError
from providers.outbox import to_email_message
from providers.sendgrid.contract import custom_args
from providers.sendgrid.requests import build_request_body
from store.clock import system_clock

_ = mail_env, renderer  # the fixtures, imported so pytest finds them here
BASE = "http://nurture.test"
HREF = re.compile(r'href="([^"]*)"')


@pytest.fixture
def course(tmp_path: Path) -> Course:
    return sample_course(tmp_path / "courses")


def lesson_for(renderer: Renderer, course: Course, day: int, name: str | None = "Anna") -> str:
    return renderer.lesson(
        course,
        day,
        Recipient(
            subscriber_id=7, email="anna@example.nl", first_name=name, delivery_id=1000 + day
        ),
    ).html


class _Structure(HTMLParser):
    """Collect the tag sequence of a document, to compare layouts."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self.tags.append("/" + tag)


def structure(html: str) -> list[str]:
    parser = _Structure()
    parser.feed(html)
    return parser.tags


@pytest.mark.parametrize("day", [1, 2, 3, 4, 5])
def test_lesson_has_every_part(renderer: Renderer, course: Course, day: int) -> None:
    message = renderer.lesson(
        course,
        day,
        Recipient(subscriber_id=7, email="anna@example.nl", first_name="Anna", delivery_id=99),
    )
    lesson = course.lesson(day)
    html, text = message.html, message.text
    for part in (html, text):
        assert "Hallo Anna," in part
        assert "Chiropractie Voorbeeld &amp; Zn" in html and "Chiropractie Voorbeeld & Zn" in text
        assert "Dorpsstraat 1, 1234 AB Voorbeeld" in part
        assert "Maak een afspraak" in part
        assert "Uitschrijven" in part
    assert f"Dag {day} van 5" in html and f"DAG {day} VAN 5" in text
    assert "<h2" in html and "<li" in html and "<ol" in html  # Markdown headings and lists
    assert "- Wandel elke dag" in text and "1. Eerst opwarmen" in text
    assert lesson.preheader in html
    assert ("Morgen:" in html) == bool(lesson.teaser) == (day < 5)
    assert lesson.teaser in html
    assert ("Welkom bij" in html) == (day == 1)
    assert ("WELKOM BIJ" in text) == (day == 1)
    assert message.subject == f"Dag {day}: bewegen <met> plezier"
    assert "&lt;met&gt;" in html  # the subject in <title> is escaped
    # Email-safe: CSS inlined, dark mode and mobile rules kept, nothing remote.
    assert 'class="card"' in html and 'style="background-color: #ffffff' in html
    assert "prefers-color-scheme: dark" in html and "max-width: 620px" in html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert 'class="preheader" style="display:none' in html
    assert not re.search(r"<script|<link|@import|@font-face|url\(", html)
    assert len(html.encode()) < 102_000  # Gmail clips bigger bodies


def test_links_are_signed_per_delivery_and_point_at_their_targets(
    renderer: Renderer, course: Course
) -> None:
    message = renderer.lesson(
        course,
        2,
        Recipient(subscriber_id=7, email="anna@example.nl", first_name="Anna", delivery_id=4242),
    )
    targets = set()
    preferences = []
    for href in HREF.findall(message.html):
        href = href.replace("&amp;", "&")
        if href.startswith(f"{BASE}/c/"):
            token = href.removeprefix(f"{BASE}/c/")
            delivery_id, url, cta = renderer.tokens.read_click_target(token)
            assert delivery_id == 4242
            if is_trap(url):
                # The trap is for scanners of the HTML only: no person sees it, in either part.
                assert url == BASE + TRAP_PATH and href not in message.text
                continue
            # Only the call to action is marked so (its redirect adds the booking reference).
            assert cta == (url == course.cta_url)
            targets.add(url)
            assert href in message.text  # the text part carries the same tracked links
        elif href.startswith(f"{BASE}/unsubscribe/"):
            assert renderer.tokens.read_unsubscribe(href.removeprefix(f"{BASE}/unsubscribe/")) == 7
        elif href.startswith(f"{BASE}/voorkeuren/"):
            # The footer's preferences page: the reader's, of this course, untracked, lasting.
            token = href.removeprefix(f"{BASE}/voorkeuren/")
            assert renderer.tokens.read_preferences_course(token) == (7, course.slug)
            with pytest.raises(TokenError):
                renderer.tokens.read_unsubscribe(token)  # one purpose per token
            assert href in message.text
            preferences.append(href)
        elif href.startswith(f"{BASE}/r/"):
            token, answer = href.removeprefix(f"{BASE}/r/").split("/")
            assert renderer.tokens.read_rating(token) == 4242 and answer in {"ja", "nee"}
            assert href in message.text
        else:
            assert href == "mailto:info@kliniek.example"  # not trackable, left alone
    assert len(preferences) == 1
    assert targets == {
        "https://example.org/studie?a=1&b=2",
        "https://example.org/oefeningen",
        "https://kliniek.example/afspraak?bron=cursus&x=1",
    }
    pixel = re.search(rf'<img src="{BASE}/o/([^"]+)\.gif"', message.html)
    assert pixel and renderer.tokens.read_open(pixel.group(1)) == 4242
    unsubscribe = message.headers["List-Unsubscribe"]
    assert re.fullmatch(rf"<{BASE}/unsubscribe/[\w.-]+>", unsubscribe)
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe[1:-1] in message.text and unsubscribe[1:-1] in message.html
    assert message.tags == Tags(
        kind="lesson", course="voorbeeld-cursus", day=2, delivery_id=4242, subscriber_id=7
    )
    assert custom_args(message.tags) == {
        "course": "voorbeeld-cursus",
        "day": "2",
        "delivery_id": "4242",
        "subscriber_id": "7",
    }
    assert message.categories == ("nurture", "voorbeeld-cursus-dag-2")
    assert message.to_email == "anna@example.nl" and message.to_name == "Anna"
    assert message.from_name == "Team Voorbeeldkliniek"


def test_mailto_unsubscribe_is_added_when_configured(
    course: Course, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with_mailto = mail_settings(
        monkeypatch, tmp_path, unsubscribe_mailto="uitschrijven@kliniek.example"
    )
    header = (
        renderer_for(with_mailto)
        .lesson(course, 1, Recipient(7, "anna@example.nl", None, delivery_id=1))
        .headers["List-Unsubscribe"]
    )
    assert re.fullmatch(
        rf"<{BASE}/unsubscribe/[\w.-]+>, <mailto:uitschrijven@kliniek\.example\?subject=\w+>",
        header,
    )


@pytest.mark.parametrize("name", [None, "", "   ", "\r\n\t"])
def test_missing_first_name_falls_back_gracefully(
    renderer: Renderer, course: Course, name: str | None
) -> None:
    message = renderer.lesson(course, 1, Recipient(7, "a@example.nl", name, delivery_id=1))
    assert "Hallo,</p>" in message.html
    assert message.text.startswith("Hallo,\n")
    assert message.to_name == ""


def test_confirmation_is_untracked_with_footer(renderer: Renderer, course: Course) -> None:
    confirm_url = f"{BASE}/confirm/abc.def?x=1&y=2"
    message = renderer.confirmation(course, Recipient(7, "a@example.nl", "Bo"), confirm_url)
    assert message.subject == "Bevestig je aanmelding"
    assert "/o/" not in message.html and "/c/" not in message.html + message.text
    assert f'href="{BASE}/confirm/abc.def?x=1&amp;y=2"' in message.html
    assert confirm_url in message.text
    assert "Ja, ik doe mee" in message.html and "Hallo Bo," in message.text
    assert "Dorpsstraat 1, 1234 AB Voorbeeld" in message.html
    assert "Uitschrijven" in message.html and "Nog één klik" in message.html
    assert message.tags == Tags(kind="confirmation", course="voorbeeld-cursus", subscriber_id=7)
    assert custom_args(message.tags) == {
        "course": "voorbeeld-cursus",
        "kind": "confirmation",
        "subscriber_id": "7",
    }
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_per_lesson_work_is_done_once_and_reloaded_courses_get_fresh_fill_ins(
    renderer: Renderer, course: Course
) -> None:
    first = [lesson_for(renderer, course, 3, f"Naam{n}") for n in range(50)]
    assert len(renderer._fill_ins) == 1
    assert first[0] != first[1] and first[0].replace("Naam0", "Naam1") == first[1]
    edited = course.lesson(3).path
    edited.write_text(edited.read_text().replace("Wandel elke dag", "Fiets elke dag"))
    reloaded = load_course_from(edited.parent)
    assert "Fiets elke dag" in lesson_for(renderer, reloaded, 3)
    assert "Wandel elke dag" in lesson_for(renderer, course, 3)


def _hostile_names() -> st.SearchStrategy[str]:
    pieces = st.sampled_from(
        [
            "<script>alert(1)</script>",
            "\r\nBcc: evil@example.com",
            '"><img src=x>',
            "&amp;",
            "{0}",
            "{greeting}",
            "\u202e",
            "\x00",
            "Nrt7q1Zx",
            "Zoë",
            " ",
            "\t",
        ]
    )
    return st.one_of(
        st.text(max_size=200),
        st.lists(st.one_of(pieces, st.text(max_size=20)), max_size=12).map("".join),
        st.just("x" * 10_240),
        st.just("Anna\r\nSubject: hacked\r\n\r\n<b>"),
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=_hostile_names())
def test_hostile_first_names_cannot_break_html_headers_or_subject(
    renderer: Renderer, course: Course, name: str
) -> None:
    baseline = renderer.lesson(course, 2, Recipient(7, "a@example.nl", "Anna", 5))
    message = renderer.lesson(course, 2, Recipient(7, "a@example.nl", name, 5))
    assert structure(message.html) == structure(baseline.html)
    assert message.subject == baseline.subject
    assert message.headers == baseline.headers
    assert len(message.to_name) <= 50
    assert not re.search(r"[\x00-\x1f\x7f\u2028\u2029\u202e]", message.to_name)
    assert "<script" not in message.html and "<img src=x" not in message.html
    greeting = message.text.split("\n", 1)[0]
    assert greeting.startswith("Hallo") and greeting.endswith(",") and len(greeting) <= 57
    validate_mail(build_request_body(message))
    email = to_email_message(message, "outbox-test", system_clock)
    assert str(email["Subject"]) == baseline.subject
    assert "Bcc" not in email and email["To"].addresses[0].addr_spec == "a@example.nl"


def test_addresses_with_line_breaks_are_refused(renderer: Renderer, course: Course) -> None:
    with pytest.raises(ValueError, match="not a usable email address"):
        renderer.lesson(course, 1, Recipient(7, "a@example.nl\r\nBcc: x@y.z", None, 1))


def test_shipped_course_renders_every_lesson(renderer: Renderer) -> None:
    shipped = shipped_course()
    if shipped is None:
        pytest.skip("the shipped course is not written yet")
    assert shipped.days == 5
    for day in range(1, 6):
        message = renderer.lesson(shipped, day, Recipient(3, "a@example.nl", "Anna", day))
        assert f"Dag {day} van 5" in message.html
        assert shipped.clinic_name.replace("&", "&amp;") in message.html
        assert "/unsubscribe/" in message.html and "/o/" in message.html
        assert shipped.cta_label in message.text
        lesson = shipped.lesson(day)
        assert lesson.subject == message.subject and lesson.preheader in message.html
        assert lesson.teaser in message.html and lesson.teaser in message.text
        assert "Morgen: Morgen" not in message.html + message.text
        validate_mail(build_request_body(message))
        assert len(message.html.encode()) < 102_000
