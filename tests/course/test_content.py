"""The shipped course: it passes its check, is what split makes, and covers the article."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from emails_support import mail_env
from helpers import run_cli
from markdown_it import MarkdownIt

from cli.common import course_problems
from config import Settings
from course.loader import CONTENT_DIR, load_course_from
from runtime import Runtime

_ = mail_env  # the fixture, imported so pytest finds it here

SLUG = "rugpijn-en-training"
FOLDER = CONTENT_DIR / SLUG
SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / f"artikel-{SLUG}.txt"
# Deliberately not the splitter's logic: a sentence ends at . ? or ! followed by a space.
SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def _sentences(text: str) -> list[str]:
    return [part for part in SENTENCE_END.split(text.strip()) if part]


def article_sentences() -> list[str]:
    """Split the seed into sentences, line by line, with bullet markers dropped."""
    sentences: list[str] = []
    for line in SEED.read_text(encoding="utf-8").splitlines():
        sentences += _sentences(line.strip().removeprefix("- "))
    return sentences


def lesson_sentences(body: str) -> list[str]:
    """Return the sentences a reader sees in a Markdown body (markdown-it, not the splitter)."""
    sentences: list[str] = []
    for token in MarkdownIt("commonmark").parse(body):
        if token.type == "inline":
            words = [
                " " if child.type in {"softbreak", "hardbreak"} else child.content
                for child in token.children or ()
            ]
            sentences += _sentences("".join(words))
    return sentences


@pytest.fixture
def mail_runtime(mail_env: Settings, make_runtime) -> Runtime:
    """A runtime on the mail settings (no database or Redis is touched)."""
    return make_runtime(mail_env)


def test_shipped_course_passes_check(mail_runtime: Runtime):
    assert course_problems(mail_runtime, SLUG) == []


def test_shipped_course_loads_five_lessons(mail_runtime: Runtime):
    course = mail_runtime.courses.get(SLUG)
    assert [lesson.day for lesson in course.lessons] == [1, 2, 3, 4, 5]
    assert course.language == "nl"
    assert course.cta_url.startswith("https://")
    assert all(lesson.teaser for lesson in course.lessons[:-1])
    assert course.lessons[-1].teaser == ""
    assert course.welcome


@pytest.mark.usefixtures("mail_env")
def test_split_round_trip_is_byte_for_byte(tmp_path):
    out = tmp_path / "lessons"
    result = run_cli(
        "course", "split", str(SEED), "--outline", str(FOLDER / "outline.toml"), "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    made = sorted(path.name for path in out.glob("*.md"))
    assert made == sorted(path.name for path in FOLDER.glob("*.md"))
    for name in made:
        assert (out / name).read_bytes() == (FOLDER / name).read_bytes(), name


def test_every_article_sentence_is_in_exactly_one_lesson_in_order():
    article = article_sentences()
    assert len(article) == len(set(article)), "the seed repeats a sentence; the test needs care"
    # The seed's last line ends "aanpast." with no stray page number after it.
    assert article[-1].endswith("lichaam zich werkelijk aanpast.")
    position = {sentence: index for index, sentence in enumerate(article)}
    seen: Counter[str] = Counter()
    for lesson in load_course_from(FOLDER).lessons:
        sentences = lesson_sentences(lesson.body)
        invented = [sentence for sentence in sentences if sentence not in position]
        assert not invented, f"{lesson.path.name} has text that is not the article's: {invented}"
        indexes = [position[sentence] for sentence in sentences]
        assert indexes == sorted(indexes), f"{lesson.path.name} is out of article order"
        seen.update(sentences)
    assert seen == Counter(article)


def test_faq_items_sit_with_the_lesson_they_answer():
    expected = {
        "Waarom doet mijn rug pijn tijdens krachttraining?": 1,
        "Kan ik blijven trainen met rugpijn?": 3,
        "Is rugpijn altijd een techniekprobleem?": 4,
        "Wanneer moet ik stoppen met zelf aanmodderen?": 5,
    }
    course = load_course_from(FOLDER)
    for question, day in expected.items():
        assert f"\n### {question}\n" in course.lesson(day).body
        answer_line = SEED.read_text(encoding="utf-8").split(question + "\n", 1)[1].split("\n")[0]
        assert answer_line in course.lesson(day).body


def test_headings_and_bullets_are_markdown():
    course = load_course_from(FOLDER)
    assert "\n### Spierdisbalans\n" in course.lesson(1).body
    assert "\n### Bruikbare mobiliteit\n" in course.lesson(4).body
    assert course.lesson(2).body.startswith("## Hoe rugpijn je kracht en prestaties beïnvloedt\n")
    assert "\n- langere hersteltijden tussen trainingen\n" in course.lesson(2).body
    assert course.lesson(5).body.rstrip().endswith("werkelijk aanpast.")


def test_subjects_and_preheaders_fit():
    for lesson in load_course_from(FOLDER).lessons:
        assert 0 < len(lesson.subject) <= 70
        assert 0 < len(lesson.preheader) <= 140


@pytest.mark.usefixtures("mail_env")
def test_preview_writes_every_lesson_and_an_index(tmp_path):
    out = tmp_path / "preview"
    result = run_cli("course", "preview", SLUG, "--out", str(out))
    assert result.exit_code == 0, result.output
    for day in range(1, 6):
        html = (out / f"dag-{day:02d}.html").read_text(encoding="utf-8")
        text = (out / f"dag-{day:02d}.txt").read_text(encoding="utf-8")
        assert "Sanne" in html
        assert "umoya.example" in html
        assert re.search(rf"dag {day} van 5", text, re.IGNORECASE)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count('href="dag-') == 10
    assert str(out / "index.html") in result.output
