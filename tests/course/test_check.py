"""`nurture course check`: each kind of bad input gives a clear problem naming file and line."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from emails_support import mail_env, renderer
from helpers import run_cli

from cli.common import course_problems, refuse_broken_course
from config import Settings
from course.check import check_folder
from course.loader import CONTENT_DIR
from emails.check import rendering_problems
from emails.render import Renderer

_ = mail_env, renderer  # the fixtures, imported so pytest finds them here

SLUG = "rugpijn-en-training"
LOCATED = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): (?P<message>.+)$")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Copy the shipped course into a folder each test may break."""
    copy = tmp_path / SLUG
    shutil.copytree(CONTENT_DIR / SLUG, copy)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


Check = Callable[[Path], list[str]]


@pytest.fixture
def check(renderer: Renderer) -> Check:
    """Return what `nurture course check` runs on a folder: content, then rendering."""
    return lambda folder: check_folder(
        folder, also=lambda course: rendering_problems(renderer, course)
    )


def only_problem(check: Check, folder: Path) -> tuple[str, int, str]:
    """Return (file name, line, message) of the single problem the check reports."""
    problems = check(folder)
    assert len(problems) == 1, problems
    match = LOCATED.match(problems[0])
    assert match, problems[0]
    return Path(match["path"]).name, int(match["line"]), match["message"]


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return next(number for number, line in enumerate(lines, 1) if needle in line)


def test_shipped_course_is_clean(folder, check):
    assert check(folder) == []


def test_broken_front_matter(folder, check):
    lesson = folder / "02-kracht-en-prestaties.md"
    edit(lesson, "subject: Hoe", "subject: [Hoe")
    name, line, message = only_problem(check, folder)
    assert name == lesson.name
    # YAML notices the unclosed [ where the next key starts.
    assert line_of(lesson, "subject:") <= line <= line_of(lesson, "preheader:")
    assert "de kop van de les is niet te lezen" in message


def test_front_matter_not_closed(folder, check):
    lesson = folder / "03-doortrainen-met-pijn.md"
    head, closing, body = lesson.read_text(encoding="utf-8").partition("\n---\n")
    assert closing
    lesson.write_text(head + "\n" + body, encoding="utf-8")
    name, _, message = only_problem(check, folder)
    assert name == lesson.name
    assert "niet afgesloten" in message


def test_missing_day(folder, check):
    (folder / "03-doortrainen-met-pijn.md").unlink()
    name, line, message = only_problem(check, folder)
    assert name == "04-wat-helpt.md"
    assert line == line_of(folder / name, "day:")
    assert "dag 3 ontbreekt" in message


def test_missing_day_is_reported_alongside_other_problems(folder, check):
    (folder / "03-doortrainen-met-pijn.md").unlink()
    edit(folder / "01-factoren.md", "day: 1\n", "day: 1\nkleur: rood\n")
    problems = check(folder)
    assert len(problems) == 2, problems
    assert any(
        "04-wat-helpt.md" in problem and "dag 3 ontbreekt" in problem for problem in problems
    )


def test_duplicate_day(folder, check):
    shutil.copy(folder / "03-doortrainen-met-pijn.md", folder / "03b-kopie.md")
    name, line, message = only_problem(check, folder)
    assert name == "03b-kopie.md"
    assert line == line_of(folder / name, "day:")
    assert "dag 3 komt twee keer voor" in message
    assert "03-doortrainen-met-pijn.md" in message


def test_unknown_front_matter_key(folder, check):
    lesson = folder / "01-factoren.md"
    edit(lesson, "day: 1\n", "day: 1\nkleur: rood\n")
    name, line, message = only_problem(check, folder)
    assert name == lesson.name
    assert line == line_of(lesson, "kleur:")
    assert "onbekend veld kleur" in message


def test_unknown_course_toml_key(folder, check):
    toml = folder / "course.toml"
    edit(toml, "[cta]\n", "[cta]\ncolour = 'blue'\n")
    name, line, message = only_problem(check, folder)
    assert name == "course.toml"
    assert line == line_of(toml, "colour =")
    assert "onbekend veld colour in [cta]" in message


def test_non_utf8_file(folder, check):
    lesson = folder / "04-wat-helpt.md"
    raw = lesson.read_bytes().replace(b"Bruikbare", "Bruikbare \xe9".encode("latin-1"), 1)
    lesson.write_bytes(raw)
    name, line, message = only_problem(check, folder)
    assert name == lesson.name
    assert line == line_of(lesson, "### Bruikbare")
    assert "niet als UTF-8 opgeslagen" in message


def test_bom_is_accepted(folder, check):
    lesson = folder / "05-beoordeling.md"
    lesson.write_bytes(b"\xef\xbb\xbf" + lesson.read_bytes())
    assert check(folder) == []


def test_http_link_in_lesson(folder, check):
    lesson = folder / "02-kracht-en-prestaties.md"
    edit(lesson, "in stand houden.\n", "in stand houden.\n\nLees [meer](http://umoya.example/x).\n")
    name, line, message = only_problem(check, folder)
    assert name == lesson.name
    assert line == line_of(lesson, "[meer]")
    assert "http://umoya.example/x" in message
    assert "https" in message


def test_relative_link_in_lesson(folder, check):
    edit(folder / "02-kracht-en-prestaties.md", "in stand houden.\n", "[x](/afspraak)\n")
    assert "begint met https://" in only_problem(check, folder)[2]


def test_http_cta_url(folder, check):
    toml = folder / "course.toml"
    edit(toml, 'url = "https://', 'url = "http://')
    name, line, message = only_problem(check, folder)
    assert name == "course.toml"
    assert line == line_of(toml, 'url = "http://')
    assert "https" in message


def test_image_without_alt(folder, check):
    lesson = folder / "03-doortrainen-met-pijn.md"
    edit(lesson, "alles goed doen”.\n", "alles goed doen”.\n\n![](https://umoya.example/rug.png)\n")
    name, line, message = only_problem(check, folder)
    assert name == lesson.name
    assert line == line_of(lesson, "rug.png")
    assert "geen beschrijving" in message


def test_image_with_alt_is_fine(folder, check):
    lesson = folder / "03-doortrainen-met-pijn.md"
    edit(lesson, "doen”.\n", "doen”.\n\n![Een rug](https://umoya.example/rug.png)\n")
    assert check(folder) == []


def test_subject_too_long(folder, check):
    lesson = folder / "01-factoren.md"
    edit(lesson, "subject: Waarom je rug opspeelt als je traint", "subject: " + "x" * 71)
    name, line, message = only_problem(check, folder)
    assert name == lesson.name
    assert line == line_of(lesson, "subject:")
    assert "71 tekens" in message
    assert "70" in message


def test_preheader_too_long(folder, check):
    lesson = folder / "05-beoordeling.md"
    edit(lesson, "preheader: Als", "preheader: " + "x" * 140 + " Als")
    name, line, message = only_problem(check, folder)
    assert (name, line) == (lesson.name, line_of(lesson, "preheader:"))
    assert "140" in message


def test_missing_required_front_matter(folder, check):
    lesson = folder / "02-kracht-en-prestaties.md"
    edit(lesson, "preheader: ", "voorkop: ")
    problems = check(folder)
    assert problems
    assert all(lesson.name in problem for problem in problems), problems
    assert any("ontbreekt de voorvertoningstekst (preheader)" in problem for problem in problems)


def test_missing_teaser_before_last_day(folder, check):
    lesson = folder / "04-wat-helpt.md"
    edit(lesson, "teaser: 'Morgen, in de laatste les: wanneer een beoordeling zinvol wordt.'\n", "")
    name, _, message = only_problem(check, folder)
    assert name == lesson.name
    assert "de vooruitblik (teaser) ontbreekt" in message


def test_raw_html_is_reported(folder, check):
    lesson = folder / "02-kracht-en-prestaties.md"
    edit(lesson, "in stand houden.\n", "in stand houden.\n\n<div>hallo</div>\n")
    name, line, message = only_problem(check, folder)
    assert (name, line) == (lesson.name, line_of(lesson, "<div>"))
    assert "HTML-code" in message


def test_html_over_gmail_clip_size(folder, check):
    lesson = folder / "02-kracht-en-prestaties.md"
    filler = "\n\n".join("Een lange alinea over rugpijn en training. " * 20 for _ in range(140))
    edit(lesson, "in stand houden.\n", "in stand houden.\n\n" + filler + "\n")
    name, _, message = only_problem(check, folder)
    assert name == lesson.name
    assert "102 KB" in message


def test_check_course_unknown_slug(mail_env: Settings, make_runtime, capsys):
    problems = course_problems(make_runtime(mail_env), "bestaat-niet")
    assert len(problems) == 1
    assert "deze cursus bestaat niet" in problems[0]
    # `nurture web`, `worker` and `run` refuse to start with that problem, in one Dutch line.
    with pytest.raises(SystemExit) as refused:
        refuse_broken_course(make_runtime(mail_env), "bestaat-niet")
    assert refused.value.code == 2
    assert capsys.readouterr().err == (
        f"nurture: de cursus haalt de controle niet: {problems[0]} (zie `nurture course check`)\n"
    )


@pytest.mark.usefixtures("mail_env")
def test_cli_check_ok_exit_zero():
    result = run_cli("course", "check", SLUG)
    assert result.exit_code == 0, result.output
    assert f"OK: geen problemen in {SLUG}." in result.output


@pytest.mark.usefixtures("mail_env")
def test_cli_check_problem_exit_one(folder):
    edit(folder / "01-factoren.md", "subject: Waarom", "subject: " + "y" * 80 + " Waarom")
    result = run_cli("course", "check", str(folder))
    assert result.exit_code == 1
    assert "01-factoren.md:" in result.stdout
    assert f"1 probleem in {folder}" in result.stderr


@pytest.mark.usefixtures("mail_env")
def test_cli_check_unknown_course_exit_one():
    result = run_cli("course", "check", "bestaat-niet")
    assert result.exit_code == 1
    assert "deze cursus bestaat niet" in result.stderr


def test_broken_course_toml(folder, check):
    toml = folder / "course.toml"
    edit(toml, 'label = "Plan een beoordeling"', 'label = "Plan een beoordeling')
    name, line, message = only_problem(check, folder)
    assert (name, line) == ("course.toml", line_of(toml, "label ="))
    assert "course.toml is niet te lezen" in message


def test_broken_markdown_link(folder, check):
    lesson = folder / "02-kracht-en-prestaties.md"
    edit(lesson, "in stand houden.\n", "in stand houden.\n\n[lees](https://umoya.example/a b)\n")
    name, line, message = only_problem(check, folder)
    assert (name, line) == (lesson.name, line_of(lesson, "[lees]"))
    assert "link wordt niet herkend" in message
