"""`nurture course split`: text that lands in no lesson or two is refused; Markdown works too."""

from __future__ import annotations

from pathlib import Path

import pytest
from emails_support import mail_env
from helpers import run_cli
from markdown_it import MarkdownIt

from course.loader import load_lesson
from course.split import SplitError, split_article

_ = mail_env  # the fixture, imported so pytest finds it here

OUTLINE = """
[[lesson]]
day = 1
file = "01-een.md"
subject = "Eerste les"
preheader = "Over het begin"
teaser = "Morgen: meer"

[[lesson]]
day = 2
file = "02-twee.md"
subject = "Tweede les"
preheader = "Over het vervolg"

[[section]]
heading = "Titel"
day = 1

[[section]]
heading = "Vervolg"
day = 2
subheadings = ["Punt A"]

[[section]]
heading = "Vragen"
day = 2

[section.subheading_days]
"Waarom?" = 1
"""

ARTICLE = """Titel
Eerste alinea. Met twee zinnen.
Vervolg
Punt A
Uitleg bij A:
- een
- twee
Vragen
Waarom?
Daarom.
"""


def write(tmp_path: Path, article: str = ARTICLE, outline: str = OUTLINE, name: str = "a.txt"):
    (tmp_path / name).write_text(article, encoding="utf-8")
    (tmp_path / "outline.toml").write_text(outline, encoding="utf-8")
    return tmp_path / name, tmp_path / "outline.toml"


def problems_of(article: Path, outline: Path) -> list[str]:
    with pytest.raises(SplitError) as caught:
        split_article(article, outline)
    return caught.value.problems


def test_plain_text_split(tmp_path):
    files = split_article(*write(tmp_path))
    assert set(files) == {"01-een.md", "02-twee.md"}
    one, two = files["01-een.md"], files["02-twee.md"]
    assert one.endswith("## Titel\n\nEerste alinea. Met twee zinnen.\n\n### Waarom?\n\nDaarom.\n")
    assert "## Vervolg\n\n### Punt A\n\nUitleg bij A:\n\n- een\n- twee\n\n## Vragen\n" in two
    assert "teaser" not in two.split("---")[1]


@pytest.mark.usefixtures("mail_env")
def test_written_lessons_load(tmp_path):
    article, outline = write(tmp_path)
    out = tmp_path / "out"
    result = run_cli("course", "split", str(article), "--outline", str(outline), "--out", str(out))
    assert result.exit_code == 0, result.output
    lesson = load_lesson(out / "01-een.md")
    assert (lesson.day, lesson.subject, lesson.teaser) == (1, "Eerste les", "Morgen: meer")


def test_text_before_first_heading_lands_in_no_lesson(tmp_path):
    problems = problems_of(*write(tmp_path, "Voorwoord zonder kop.\n" + ARTICLE))
    assert any("a.txt:1:" in problem and "lands in no lesson" in problem for problem in problems)


def test_day_without_lesson_lands_in_no_lesson(tmp_path):
    outline = OUTLINE.replace('heading = "Vervolg"\nday = 2', 'heading = "Vervolg"\nday = 3')
    problems = problems_of(*write(tmp_path, outline=outline))
    assert any(
        "a.txt:3:" in problem and "no [[lesson]] for day 3" in problem for problem in problems
    )


def test_heading_listed_twice_would_land_in_two(tmp_path):
    outline = OUTLINE.replace('subheadings = ["Punt A"]', 'subheadings = ["Punt A", "Waarom?"]')
    problems = problems_of(*write(tmp_path, outline=outline))
    assert any('"Waarom?" is listed 2 times' in problem for problem in problems)


def test_heading_missing_from_article(tmp_path):
    problems = problems_of(*write(tmp_path, ARTICLE.replace("Punt A\n", "")))
    assert any('"Punt A" is not a line of a.txt' in problem for problem in problems)


@pytest.mark.usefixtures("mail_env")
def test_cli_reports_to_stderr_and_writes_nothing(tmp_path):
    article, outline = write(tmp_path, "Los.\n" + ARTICLE)
    out = tmp_path / "out"
    result = run_cli("course", "split", str(article), "--outline", str(outline), "--out", str(out))
    assert result.exit_code == 1
    assert "lands in no lesson" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ('subject = "Eerste les"', "missing subject"),
        ('file = "01-een.md"\n', "unknown key colour"),
        ('file = "01-een.md"', "plain NAME.md"),
        ("day = 1\nfile", "must be int"),
    ],
)
def test_bad_outline_names_the_outline(tmp_path, change, expected):
    replacement = {
        "missing subject": "",
        "unknown key colour": 'file = "01-een.md"\ncolour = "blauw"\n',
        "plain NAME.md": 'file = "../01-een.md"',
        "must be int": 'day = "een"\nfile',
    }[expected]
    problems = problems_of(*write(tmp_path, outline=OUTLINE.replace(change, replacement, 1)))
    assert any("outline.toml" in problem and expected in problem for problem in problems)


def test_markdown_article(tmp_path):
    article = (
        "# Titel\n\nEerste alinea,\nover twee regels.\n\n## Vervolg\n\n### Punt A\n\n"
        "Uitleg met een [link](https://umoya.example).\n\n* een\n* twee\n\n## Vragen\n\n"
        "### Waarom?\n\nDaarom.\n"
    )
    files = split_article(*write(tmp_path, article, name="a.md"))
    assert files["01-een.md"].endswith(
        "## Titel\n\nEerste alinea,\nover twee regels.\n\n### Waarom?\n\nDaarom.\n"
    )
    two = files["02-twee.md"]
    assert "### Punt A\n\nUitleg met een [link](https://umoya.example).\n\n* een\n* twee\n" in two


def test_plain_text_stays_plain_when_rendered(tmp_path):
    tricky = "1. geen lijst, *geen* nadruk, <b>geen</b> HTML, [geen](link) en # geen kop"
    files = split_article(*write(tmp_path, ARTICLE.replace("Daarom.", tricky)))
    body = files["01-een.md"].split("### Waarom?\n\n", 1)[1]
    tokens = MarkdownIt("commonmark").parse(body)
    assert [token.type for token in tokens] == ["paragraph_open", "inline", "paragraph_close"]
    assert tokens[1].children is not None
    assert "".join(child.content for child in tokens[1].children) == tricky


def test_repeated_section_heading_is_ambiguous(tmp_path):
    problems = problems_of(*write(tmp_path, ARTICLE + "Vervolg\nNog meer.\n"))
    assert any("a.txt:11:" in problem and "appears again" in problem for problem in problems)
