"""`nurture course split`: text that lands in no lesson or two is refused, each reason in Dutch
at its file and line; Markdown works too."""

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
    problems = problems_of(*write(tmp_path, "Voorwoord zonder kop.\nNog een regel.\n" + ARTICLE))
    # One problem for the whole stretch, not one per paragraph.
    assert problems == [
        f'{tmp_path / "a.txt"}:1: de tekst vanaf "Voorwoord zonder kop." (tot en met regel 2) '
        "komt in geen enkele les: hij staat vóór de eerste kop die in de indeling een dag "
        "heeft. Geef deze tekst een kop met een dag, of haal hem weg uit het artikel"
    ]


def test_day_without_lesson_lands_in_no_lesson(tmp_path):
    outline = OUTLINE.replace('heading = "Vervolg"\nday = 2', 'heading = "Vervolg"\nday = 3')
    problems = problems_of(*write(tmp_path, outline=outline))
    # Once for the day (not again for the sub-heading "Punt A"), at the outline's heading.
    [problem] = [problem for problem in problems if "dag 3" in problem]
    assert problem.startswith(f"{tmp_path / 'outline.toml'}:20: ")
    assert 'de kop "Vervolg" gaat naar dag 3, maar de indeling heeft geen [[lesson]]' in problem
    assert "vanaf regel 3 van het artikel" in problem


def test_heading_listed_twice_would_land_in_two(tmp_path):
    outline = OUTLINE.replace('subheadings = ["Punt A"]', 'subheadings = ["Punt A", "Waarom?"]')
    problems = problems_of(*write(tmp_path, outline=outline))
    assert problems == [
        f'{tmp_path / "outline.toml"}:29: "Waarom?" staat 2 keer in de indeling; de tekst '
        "eronder zou in meer dan één les komen. Noem elke kop één keer, bij de dag waar zijn "
        "tekst heen moet"
    ]


def test_heading_missing_from_article(tmp_path):
    problems = problems_of(*write(tmp_path, ARTICLE.replace("Punt A\n", "")))
    assert problems == [
        f'{tmp_path / "outline.toml"}:22: de tussenkop "Punt A" staat niet als eigen regel '
        'onder de kop "Vervolg" in het artikel (a.txt); neem hem precies zo over uit het '
        "artikel (let op hoofdletters en leestekens), of haal hem uit de indeling"
    ]


@pytest.mark.usefixtures("mail_env")
def test_cli_reports_to_stderr_and_writes_nothing(tmp_path):
    article, outline = write(tmp_path, "Los.\n" + ARTICLE)
    out = tmp_path / "out"
    result = run_cli("course", "split", str(article), "--outline", str(outline), "--out", str(out))
    assert result.exit_code == 1
    assert 'a.txt:1: de tekst vanaf "Los." komt in geen enkele les' in result.stderr
    assert "nurture: 1 probleem; er zijn geen lesbestanden geschreven" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("change", "replacement", "expected"),
    [
        (
            'subject = "Eerste les"\n',
            "",
            "2: in de 1e [[lesson]] ontbreekt het onderwerp (subject)",
        ),
        ('subject = "Eerste les"', 'subject = " "', "5: het onderwerp (subject) is leeg; vul"),
        (
            'file = "01-een.md"\n',
            'file = "01-een.md"\ncolour = "blauw"\n',
            "5: onbekend veld colour in de 1e [[lesson]] (toegestaan: day, file, subject,",
        ),
        ('file = "01-een.md"', 'file = "../01-een.md"', "4: de bestandsnaam (file) in de 1e"),
        ("day = 1\nfile", 'day = "een"\nfile', "3: de dag (day) in de 1e [[lesson]] moet een heel"),
        ("day = 1\nfile", "day = 0\nfile", "3: de dag (day) in de 1e [[lesson]] moet een heel"),
        (
            "day = 2\nfile",
            "day = 1\nfile",
            "9: dag 1 komt twee keer voor (ook in de [[lesson]] op",
        ),
        ("[[lesson]]\nday = 2", "[[lesson]\nday = 2", "9: de indeling is niet te lezen ("),
        ('"Waarom?" = 1', '"Waarom?" = "een"', "24: de tussenkoppen in de 3e [[section]] moeten"),
    ],
)
def test_bad_outline_names_the_outline_and_line(tmp_path, change, replacement, expected):
    problems = problems_of(*write(tmp_path, outline=OUTLINE.replace(change, replacement, 1)))
    assert any(
        problem.startswith(f"{tmp_path / 'outline.toml'}:{expected}") for problem in problems
    ), problems


def test_an_empty_outline_says_what_it_needs(tmp_path):
    problems = problems_of(*write(tmp_path, outline="# nog niets\n"))
    assert [problem.split(": ", 1)[1].split(":")[0] for problem in problems] == [
        "de indeling heeft geen lessen",
        "de indeling noemt geen koppen",
    ]


def test_a_day_without_text_names_its_lesson(tmp_path):
    extra = '\n[[lesson]]\nday = 3\nfile = "03-drie.md"\nsubject = "Drie"\npreheader = "p"\n'
    problems = problems_of(*write(tmp_path, outline=OUTLINE + extra))
    assert problems == [
        f"{tmp_path / 'outline.toml'}:31: dag 3 krijgt geen tekst uit het artikel: geen kop in "
        "de indeling gaat naar dag 3. Geef een kop dag 3, of haal de les voor dag 3 ([[lesson]]) "
        "weg"
    ]


@pytest.mark.usefixtures("mail_env")
def test_an_article_that_is_not_utf8_is_refused_in_dutch(tmp_path):
    article, outline = write(tmp_path)
    article.write_bytes(b"Titel\nEerste alinea.\n\xe9\xe9n\n")
    result = run_cli("course", "split", str(article), "--outline", str(outline))
    assert result.exit_code == 1
    assert (
        f"{article}:3: het bestand is niet als UTF-8 opgeslagen (byte 21); sla het op als UTF-8"
        in result.stderr
    )


@pytest.mark.usefixtures("mail_env")
def test_a_lesson_file_the_outline_did_not_make_is_pointed_out(tmp_path):
    article, outline = write(tmp_path)
    (tmp_path / "00-oud.md").write_text("---\nday: 9\n---\n", encoding="utf-8")
    result = run_cli("course", "split", str(article), "--outline", str(outline))
    assert result.exit_code == 0, result.output
    assert f"{tmp_path / '00-oud.md'}: dit bestand komt niet uit deze indeling" in result.stderr


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
    assert problems == [
        f'{tmp_path / "a.txt"}:11: de kop "Vervolg" staat ook al op regel 3; de indeling kan '
        "die twee niet uit elkaar houden. Maak de koppen in het artikel verschillend, "
        'bijvoorbeeld "Vervolg (2)"'
    ]
