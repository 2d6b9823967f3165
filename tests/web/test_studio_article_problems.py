"""The article page's problems, in Dutch, each under the field the clinic fixes it in: the
article, the course's short name, a heading's day, a day's fields, the heading table, or the
outline as text; and in the list on top, linking to that field."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from accounts_support import BROWSER, OWNER_EMAIL, OWNER_PASSWORD
from courses_support import publish_real_details
from studio_support import logged_in, make_accounts, post_form

from runtime import Runtime
from web.studio_article import ARTICLE_MAX

NEW = "/admin/courses/new"
SHORT = (
    "Rugpijn\n\nDit is de eerste zin. Dit is de tweede.\n\nTraining\n\nHier gaat het om kracht.\n"
)
DAYS = {"subject-1": "Een", "preheader-1": "Eerst", "teaser-1": "Morgen meer"}
DAYS |= {"subject-2": "Twee", "preheader-2": "Dan"}
LESSON_1 = '[[lesson]]\nday = 1\nfile = "01-a.md"\nsubject = "Een"\npreheader = "p"\n'
SECTIONS = '[[section]]\nheading = "Rugpijn"\nday = 1\n[[section]]\nheading = "Training"\nday = 1\n'
FIELD_PROBLEMS = re.compile(r'<ul class="field-problems" id="problems-([\w-]+)">(.*?)</ul>', re.S)


@pytest.fixture
def owner(app: Any, runtime: Runtime) -> Any:
    publish_real_details(runtime)
    make_accounts(runtime)
    return logged_in(app, runtime, OWNER_EMAIL, OWNER_PASSWORD)


def form(article: str = SHORT, action: str = "split", **extra: str) -> dict[str, str]:
    return {"article": article, "action": action, "format": "text", "slug": "kort"} | extra


def marks(*pairs: tuple[str, int]) -> dict[str, str]:
    """Return the heading table's fields for PAIRS of (heading, day)."""
    fields = {}
    for index, (heading, day) in enumerate(pairs):
        fields |= {f"mark-heading-{index}": heading, f"mark-day-{index}": str(day)}
    return fields


def placed(page: str) -> dict[str, list[str]]:
    """Return the problems under each field of PAGE, by the field's id."""
    return {
        target: [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", items, re.S)]
        for target, items in FIELD_PROBLEMS.findall(page)
    }


def shows(response: Any, status: int, target: str, *wanted: str) -> None:
    """Assert RESPONSE has STATUS and only TARGET's field has problems, saying WANTED."""
    page = response.get_data(as_text=True)
    assert response.status_code == status, page
    found = placed(page)
    assert list(found) == [target], found
    text = " | ".join(found[target])
    assert all(words in text for words in wanted), text
    assert f'<a href="#{target}">' in page  # the list on top links to the field
    if not target.startswith(("day-", "marks")):  # an input: marked for screen readers too
        assert re.search(rf'id="{target}"[^>]*aria-invalid="true"', page)


def test_an_empty_article_is_asked_for_under_the_article(owner: Any) -> None:
    for action in ("split", "suggest"):
        refused = post_form(owner, NEW, NEW, form(" \n", action))
        shows(refused, 400, "article-text", "plak eerst de tekst van het artikel in dit vak")


def test_a_too_long_article_says_how_long(owner: Any) -> None:
    refused = post_form(owner, NEW, NEW, form("Zin. " * (ARTICLE_MAX // 5 + 1)))
    shows(refused, 400, "article-text", "het artikel is 200.005 tekens; dat is te lang")


def test_an_article_too_big_to_read_is_answered_on_the_page(owner: Any, app: Any) -> None:
    article = "Een zin. " * (app.config["MAX_CONTENT_LENGTH"] // 9 + 1)
    refused = post_form(owner, NEW, NEW, form(article))
    shows(refused, 413, "article-text", "het artikel is te lang om in één keer te versturen")
    assert "Het artikel kon niet gelezen worden" in refused.get_data(as_text=True)
    # Someone not logged in gets no page of the studio for it.
    stranger = app.test_client().post(NEW, data=form(article), headers=BROWSER)
    assert stranger.status_code == 302 and "/login" in stranger.location


@pytest.mark.parametrize(
    ("markdown", "wanted"),
    [("text", "geen regel die op een kop lijkt"), ("markdown", "geen kop met ## ervoor")],
)
def test_an_article_without_headings_gets_no_outline(
    owner: Any, markdown: str, wanted: str
) -> None:
    article = "Dit is een zin. En nog een zin, zonder kop ervoor.\n"
    refused = post_form(owner, NEW, NEW, form(article, "suggest", format=markdown))
    shows(refused, 400, "article-text", wanted)


def test_a_bad_or_taken_short_name_is_shown_under_it(owner: Any) -> None:
    bad = post_form(owner, NEW, NEW, form(slug="Rug Pijn") | marks(("Rugpijn", 1)) | DAYS)
    shows(bad, 400, "article-slug", "alleen kleine letters, cijfers en streepjes")
    saved = post_form(owner, NEW, NEW, form(action="save") | marks(("Rugpijn", 1)) | DAYS)
    assert saved.status_code == 302
    taken = post_form(owner, NEW, NEW, form(action="save") | marks(("Rugpijn", 1)) | DAYS)
    shows(taken, 409, "article-slug", "er is al een cursus kort; kies een andere korte naam")


@pytest.mark.parametrize(
    ("outline", "wanted"),
    [
        ("", 'de indeling is nog leeg: klik op "Indeling voorstellen"'),
        (LESSON_1 + "[[section]\n", "regel 6: de indeling is niet te lezen ("),
        (LESSON_1 + SECTIONS.replace("day = 1\n", "day = 2\n"), "geen [[lesson]] voor dag 2"),
        (
            LESSON_1 + LESSON_1.replace("1", "2").replace("01-a", "02-b") + SECTIONS,
            "regel 6: dag 2 krijgt geen tekst uit het artikel",
        ),
        (LESSON_1.replace('"Een"', '""') + SECTIONS, "regel 4: het onderwerp (subject) is leeg"),
    ],
    ids=["empty", "not-toml", "day-without-lesson", "day-without-text", "empty-subject"],
)
def test_a_bad_outline_as_text_is_shown_under_it_with_its_line(
    owner: Any, outline: str, wanted: str
) -> None:
    refused = post_form(owner, NEW, NEW, form(action="split-text", outline=outline))
    shows(refused, 400, "article-outline", wanted)
    assert "Het artikel kon niet zo worden gesplitst" in refused.get_data(as_text=True)


@pytest.mark.parametrize(
    ("article", "pairs", "target", "wanted"),
    [
        # A heading given no day: the text above the first day has nowhere to go.
        (SHORT, [("Rugpijn", 0), ("Training", 1)], "mark-day-0", 'vanaf "Rugpijn" (tot en met'),
        # Text before the first heading: the article's line, under the article.
        ("Voorwoord.\n\n" + SHORT, [("Rugpijn", 1), ("Training", 2)], "article-text", "regel 1:"),
        # The same heading twice in the article: the outline can't tell them apart.
        (
            SHORT + "\nTraining\n\nNog meer.\n",
            [("Rugpijn", 1), ("Training", 2)],
            "mark-day-1",
            'de kop "Training" staat ook al op regel 5',
        ),
        # A gap in the days: no heading starts day 2.
        (SHORT, [("Rugpijn", 1), ("Training", 3)], "marks", "dag 2 ontbreekt"),
        # Every heading 0: no outline at all.
        (SHORT, [("Rugpijn", 0), ("Training", 0)], "marks", "de indeling is nog leeg"),
    ],
    ids=["heading-without-day", "text-before-first-heading", "heading-twice", "gap", "all-0"],
)
def test_a_heading_table_problem_is_shown_under_its_heading_or_the_table(
    owner: Any, article: str, pairs: list[tuple[str, int]], target: str, wanted: str
) -> None:
    fields = DAYS | {"subject-3": "Drie", "preheader-3": "Daarna"}
    refused = post_form(owner, NEW, NEW, form(article) | marks(*pairs) | fields)
    shows(refused, 400, target, wanted)


def test_a_heading_no_longer_in_the_article_and_its_empty_day(owner: Any) -> None:
    # Headings suggested, then the article changed: "Training" is no line of it any more.
    article = SHORT.replace("Training", "Oefenen")
    fields = form(article) | marks(("Rugpijn", 1), ("Training", 2)) | DAYS
    page = post_form(owner, NEW, NEW, fields).get_data(as_text=True)
    found = placed(page)
    assert list(found) == ["mark-day-1", "day-2"], found
    assert 'de kop "Training" staat niet als eigen regel in het artikel' in found["mark-day-1"][0]
    assert "dag 2 krijgt geen tekst uit het artikel" in found["day-2"][0]


def test_a_day_without_subject_or_preheader_is_shown_under_that_field(owner: Any) -> None:
    fields = form() | marks(("Rugpijn", 1), ("Training", 2)) | DAYS | {"subject-2": " "}
    page = post_form(owner, NEW, NEW, fields | {"preheader-1": ""}).get_data(as_text=True)
    assert placed(page) == {
        "preheader-1": ["de voorvertoningstekst (preheader) is leeg; vul het in"],
        "subject-2": ["het onderwerp (subject) is leeg; vul het in"],
    }
    assert '<a href="#subject-2">Dag 2: onderwerp</a>' in page


def test_a_fixed_page_shows_no_problems(owner: Any) -> None:
    shown = post_form(owner, NEW, NEW, form() | marks(("Rugpijn", 1), ("Training", 2)) | DAYS)
    page = shown.get_data(as_text=True)
    assert shown.status_code == 200 and placed(page) == {}
    assert 'id="split-problems"' not in page and 'aria-invalid="true"' not in page
    assert owner.get(NEW, headers=BROWSER).status_code == 200
